"""Measure, on one device, what the cuBLAS and MHA chapters claim, and write ONE results JSON.

    python3 -m sitekit.tools.evidence --device cuda --out docs/assets/evidence/gpu.json
    python3 -m sitekit.tools.evidence --device cpu --out docs/assets/evidence/cpu.json
    python3 -m sitekit.tools.evidence --device cpu --quick     # tiny sizes, JSON on stdout

Every number in the JSON was measured by this run on the device its metadata names; nothing is
filled in by hand. A CPU run is labelled "CPU run, not GPU evidence". What only a
CUDA device can measure (peak memory, kernel names and grids, cuBLAS's API log, TF32 errors, CUDA
and driver versions) is null, or an empty list, on the CPU. A CUDA run also runs
``python3 -m pytest -m gpu`` and records its summary line (``--no-gpu-tests`` leaves it out).

The pages show the committed results files (``docs/assets/evidence/<kind>.json``) as tables and
charts: see :mod:`figures.evidence`.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import platform
import re
import shutil
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

from snippets.cublas import cublas_log_of_bmm, cuda_kernels, seconds_per_call, tf32_errors, time_loop_vs_batched
from snippets.masking import masked_attention
from snippets.matmul import count_ops
from snippets.mha import attention_path
from sitekit import site

CPU_LABEL = "CPU run, not GPU evidence"
SDPA_BACKENDS = ("FLASH_ATTENTION", "EFFICIENT_ATTENTION", "CUDNN_ATTENTION", "MATH")

#: Sizes per run kind. loop: (B, H, L, D) shapes of Q·Kᵀ; attn: self-attention with L = S;
#: peak_n: the sizes of the square GEMMs whose best is the practical peak; repeat: timed calls per measurement.
SIZES = {
    "cuda": {"loop": [(1, 8, 128, 64), (4, 16, 256, 64), (8, 16, 512, 64), (16, 32, 128, 64)],
             "attn": {"B": 4, "H": 16, "D": 64, "lengths": [256, 512, 1024, 2048, 4096]},
             "peak_n": [4096, 8192, 16384], "repeat": 20},
    "cpu": {"loop": [(1, 8, 64, 64), (2, 8, 128, 64), (4, 16, 64, 64)],
            "attn": {"B": 2, "H": 8, "D": 64, "lengths": [128, 256, 512, 1024]},
            "peak_n": [256, 512, 1024, 2048], "repeat": 10},
    "quick": {"loop": [(1, 2, 16, 8), (2, 4, 32, 16)],
              "attn": {"B": 1, "H": 2, "D": 8, "lengths": [16, 32]},
              "peak_n": [64, 128], "repeat": 3},
}


# ----------------------------------------------------------------------------------- helpers
def _is_cuda(device) -> bool:
    return torch.device(device).type == "cuda"


def _dtype_name(dtype: torch.dtype) -> str:
    return str(dtype).removeprefix("torch.")


def peak_memory_bytes(fn, device="cpu"):
    """How far CUDA memory allocated rose during fn() above what was allocated before it (the
    inputs, weights and everything else already there are not counted), or None on the CPU."""
    if not _is_cuda(device):
        return None
    torch.cuda.synchronize()
    torch.cuda.empty_cache()
    before = torch.cuda.memory_allocated()
    torch.cuda.reset_peak_memory_stats()
    fn()
    torch.cuda.synchronize()
    return int(torch.cuda.max_memory_allocated() - before)


def launch_counts(fn, device="cpu") -> dict:
    """CUDA: how many kernels fn() launches (and of which names). CPU: aten::mm/bmm op counts."""
    if _is_cuda(device):
        kernels = cuda_kernels(fn)
        return {"kind": "cuda_kernels", "count": len(kernels),
                "names": dict(Counter(name for name, _ in kernels))}
    counts = count_ops(fn)
    names = {name: counts[name] for name in ("aten::mm", "aten::bmm")}
    return {"kind": "aten_ops", "count": sum(names.values()), "names": names}


def _first_line(error: Exception) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0][:300]


def _driver_version():
    """The NVIDIA driver version from nvidia-smi, if it is there; else None."""
    if shutil.which("nvidia-smi") is None:
        return None
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
                             capture_output=True, text=True, timeout=30, check=True).stdout
        return out.strip().splitlines()[0].strip() or None
    except (OSError, subprocess.SubprocessError, IndexError):
        return None


def metadata(device) -> dict:
    cuda = _is_cuda(device)
    if cuda:
        name = torch.cuda.get_device_name(torch.device(device))
        props = torch.cuda.get_device_properties(torch.device(device))
        capability = f"{props.major}.{props.minor}"
    else:
        name = f"CPU ({platform.machine() or 'unknown'}, {torch.get_num_threads()} threads)"
        capability = None
    return {
        "device_name": name,
        "device_kind": "cuda" if cuda else "cpu",
        "label": f"CUDA GPU: {name}" if cuda else CPU_LABEL,
        "torch_version": torch.__version__,
        "cuda_version": torch.version.cuda if cuda else None,
        "driver_version": _driver_version() if cuda else None,
        "compute_capability": capability,
        "python_version": platform.python_version(),
        "date_utc": _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat(),
    }


# ------------------------------------------------------------------------------ measurements
def measure_loop_vs_batched(shapes, device="cpu", repeat: int = 5) -> list:
    """A Python loop of B·H matmuls vs one bmm for Q·Kᵀ (float32): seconds per call
    (snippets.cublas.time_loop_vs_batched) and launches (CUDA kernels, or CPU aten::mm/bmm ops)."""
    rows = []
    for B, H, L, D in shapes:
        times = time_loop_vs_batched(B, H, L, D, device=device, repeat=repeat)
        q = torch.randn(B * H, L, D, device=device)  # (B·H, L, D)
        k = torch.randn(B * H, L, D, device=device)  # (B·H, L, D)
        rows.append({
            "B": B, "H": H, "L": L, "D": D, "dtype": "float32",
            "loop_s": times["loop_s"], "batched_s": times["batched_s"],
            "speedup": times["loop_s"] / times["batched_s"],
            "loop_launches": launch_counts(lambda: [q[i] @ k[i].T for i in range(B * H)], device),
            "batched_launches": launch_counts(lambda: torch.bmm(q, k.transpose(1, 2)), device),
        })
    return rows


def attention_dtype(device) -> torch.dtype:
    """float16 on CUDA (what attention runs in there), float32 on the CPU."""
    return torch.float16 if _is_cuda(device) else torch.float32


def _timed(fn, device, repeat: int) -> dict:
    """{"time_s", "peak_memory_bytes"} of fn(), or {"error": first line} when it cannot run."""
    try:
        return {"time_s": seconds_per_call(fn, repeat), "peak_memory_bytes": peak_memory_bytes(fn, device)}
    except RuntimeError as error:
        return {"error": _first_line(error)}


def measure_attention(B, H, D, lengths, device="cpu", repeat: int = 5) -> list:
    """Hand-written attention vs F.scaled_dot_product_attention (default and each backend) vs
    nn.MultiheadAttention (need_weights True/False, fast path on/off): seconds per call, CUDA peak
    memory, and for the module the path that really ran (read from the profiler)."""
    from torch.nn.attention import SDPBackend, sdpa_kernel

    dtype = attention_dtype(device)
    E = H * D
    rows = []
    previous = torch.backends.mha.get_fastpath_enabled()
    with torch.no_grad():
        mha = nn.MultiheadAttention(E, H, batch_first=True).to(device=device, dtype=dtype).eval()
        for L in lengths:
            q, k, v = (torch.randn(B, H, L, D, device=device, dtype=dtype) for _ in range(3))  # (B, H, L, D)
            x = torch.randn(B, L, E, device=device, dtype=dtype)  # (B, L, E)
            variants = {
                "hand_written": _timed(lambda: masked_attention(q, k, v), device, repeat),
                "sdpa_default": _timed(lambda: F.scaled_dot_product_attention(q, k, v), device, repeat),
            }
            for backend in SDPA_BACKENDS:
                def sdpa(member=getattr(SDPBackend, backend)):
                    with sdpa_kernel(member):
                        return F.scaled_dot_product_attention(q, k, v)  # (B, H, L, D)

                variants[f"sdpa_{backend}"] = _timed(sdpa, device, repeat)
            try:
                for fast_path in (True, False):
                    torch.backends.mha.set_fastpath_enabled(fast_path)
                    for need_weights in (True, False):
                        def call(need_weights=need_weights):
                            return mha(x, x, x, need_weights=need_weights)  # out: (B, L, E)

                        key = f"mha_need_weights_{need_weights}" + ("" if fast_path else "_no_fastpath")
                        variants[key] = dict(_timed(call, device, repeat), path=attention_path(count_ops(call)))
            finally:
                torch.backends.mha.set_fastpath_enabled(previous)
            rows.append({"B": B, "H": H, "L": L, "S": L, "D": D, "E": E,
                         "dtype": _dtype_name(dtype), "variants": variants})
    return rows


def measure_fully_masked_row(device="cpu") -> dict:
    """What each SDPA backend returns for a query row whose bool mask allows no key:
    "nan", "zeros", "other", or {"error": ...} when the backend does not take this input."""
    from torch.nn.attention import SDPBackend, sdpa_kernel

    dtype = attention_dtype(device)
    q, k, v = (torch.randn(1, 2, 4, 8, device=device, dtype=dtype) for _ in range(3))  # (B, H, L, D)
    allowed = torch.ones(1, 1, 4, 4, dtype=torch.bool, device=device)  # (B, 1, L, S)
    allowed[..., 0, :] = False  # query 0 may look at no key
    out = {}
    for backend in ("default", *SDPA_BACKENDS):
        try:
            if backend == "default":
                o = F.scaled_dot_product_attention(q, k, v, attn_mask=allowed)  # (B, H, L, D)
            else:
                with sdpa_kernel(getattr(SDPBackend, backend)):
                    o = F.scaled_dot_product_attention(q, k, v, attn_mask=allowed)  # (B, H, L, D)
        except RuntimeError as error:
            out[backend] = {"error": _first_line(error)}
            continue
        row = o[..., 0, :]  # (B, H, D): the fully masked query
        result = "nan" if row.isnan().all() else "zeros" if (row == 0).all() else "other"
        out[backend] = {"result": result}
    return out


def measure_peak_gemm(sizes, device="cpu", repeat: int = 5) -> dict:
    """The practical peak: the best TFLOP/s of dense square GEMMs (n, n) @ (n, n), 2·n³ FLOPs
    each, over the given sizes n, in float16 and bfloat16 on CUDA, float32 on the CPU."""
    dtypes = (torch.float16, torch.bfloat16) if _is_cuda(device) else (torch.float32,)
    cases = []
    for dtype in dtypes:
        for n in sizes:
            a = torch.randn(n, n, device=device, dtype=dtype)  # (n, n)
            b = torch.randn(n, n, device=device, dtype=dtype)  # (n, n)
            seconds = seconds_per_call(lambda: a @ b, repeat)
            cases.append({"n": n, "dtype": _dtype_name(dtype), "time_s": seconds, "tflops": 2 * n**3 / seconds / 1e12})
    best = max(cases, key=lambda case: case["tflops"])
    return {"cases": cases, "best": best, "peak_tflops": best["tflops"]}


def measure_attention_gemm_tflops(B, H, D, lengths, peak_tflops: float, device="cpu",
                                  repeat: int = 5) -> list:
    """Achieved TFLOP/s of attention's two GEMMs (Q·Kᵀ and P·V, 2·B·H·L·S·D FLOPs each) and of
    SDPA's default (both GEMMs counted, 4·B·H·L·S·D), as a fraction of the measured peak."""
    dtype = attention_dtype(device)
    rows = []
    with torch.no_grad():
        for L in lengths:
            S = L
            q = torch.randn(B, H, L, D, device=device, dtype=dtype)  # (B, H, L, D)
            k = torch.randn(B, H, S, D, device=device, dtype=dtype)  # (B, H, S, D)
            v = torch.randn(B, H, S, D, device=device, dtype=dtype)  # (B, H, S, D)
            p = torch.softmax(q @ k.transpose(-2, -1), dim=-1)  # (B, H, L, S)
            flops = 2 * B * H * L * S * D
            seconds = {"qk": seconds_per_call(lambda: q @ k.transpose(-2, -1), repeat),
                       "pv": seconds_per_call(lambda: p @ v, repeat),
                       "sdpa_default": seconds_per_call(lambda: F.scaled_dot_product_attention(q, k, v),
                                                        repeat)}
            row = {"B": B, "H": H, "L": L, "S": S, "D": D, "dtype": _dtype_name(dtype),
                   "flops_per_matmul": flops}
            for key, s in seconds.items():
                row[f"{key}_tflops"] = (2 * flops if key == "sdpa_default" else flops) / s / 1e12
                row[f"{key}_fraction_of_peak"] = row[f"{key}_tflops"] / peak_tflops
            rows.append(row)
    return rows


def measure_gemm_kernels(B, H, L, D, device="cpu") -> list:
    """CUDA only: the kernels (name, grid) of one bmm (fp32 and the attention dtype) and one
    default SDPA call, from the profiler's trace (snippets.cublas.cuda_kernels). CPU: []."""
    if not _is_cuda(device):
        return []
    dtype = attention_dtype(device)
    q, k, v = (torch.randn(B, H, L, D, device=device, dtype=dtype) for _ in range(3))  # (B, H, L, D)
    q3, k3 = q.reshape(B * H, L, D), k.reshape(B * H, L, D)  # (B·H, L, D)
    q3f, k3f = q3.float(), k3.float()
    calls = {"bmm float32": lambda: torch.bmm(q3f, k3f.transpose(1, 2)),  # (B·H, L, L)
             f"bmm {_dtype_name(dtype)}": lambda: torch.bmm(q3, k3.transpose(1, 2)),  # (B·H, L, L)
             "sdpa default": lambda: F.scaled_dot_product_attention(q, k, v)}  # (B, H, L, D)
    return [{"call": call, "shape": [B, H, L, D], "kernel": name, "grid": list(grid)}
            for call, fn in calls.items() for name, grid in cuda_kernels(fn)]


CUBLAS_CALL = re.compile(r"\b(cublas(?:Lt)?[A-Z]\w*)\(")


def measure_cublas_api(device="cpu") -> dict | None:
    """CUDA only: the cuBLAS functions one bmm calls, per dtype, counted in cuBLAS's own API log
    (snippets.cublas.cublas_log_of_bmm). None on the CPU."""
    if not _is_cuda(device):
        return None
    return {dtype: dict(Counter(CUBLAS_CALL.findall(cublas_log_of_bmm(dtype))))
            for dtype in ("float32", "float16", "bfloat16")}


def measure_tf32(device="cpu"):
    """CUDA only: max relative error of a float32 bmm vs float64 with TF32 off and on
    (snippets.cublas.tf32_errors restores the previous setting). None on the CPU."""
    return tf32_errors() if _is_cuda(device) else None


PYTEST_SUMMARY = re.compile(r"^=* ?(?P<summary>(?:\d+ \w+(?:, )?)+ in [\d.]+s.*?) ?=*$", re.MULTILINE)


def gpu_test_summary() -> str:
    """Run `python3 -m pytest -m gpu -q` from the repository root; its summary line."""
    proc = subprocess.run([sys.executable, "-m", "pytest", "-m", "gpu", "-q", "-p", "no:cacheprovider"],
                          cwd=site.ROOT, capture_output=True, text=True, timeout=1800)
    found = PYTEST_SUMMARY.findall(proc.stdout)
    if not found:
        raise RuntimeError(f"no pytest summary line (exit code {proc.returncode}):\n{proc.stdout[-2000:]}")
    return found[-1].strip()


# ------------------------------------------------------------------------------------ the run
def run(device="cpu", quick: bool = False) -> dict:
    """Every measurement of one run, with the metadata that names the device, torch and date."""
    size = SIZES["quick" if quick else torch.device(device).type]
    attn = size["attn"]
    repeat = size["repeat"]
    results = {"metadata": dict(metadata(device), quick=quick)}
    results["loop_vs_batched"] = measure_loop_vs_batched(size["loop"], device, repeat)
    results["attention"] = measure_attention(attn["B"], attn["H"], attn["D"], attn["lengths"], device, repeat)
    results["fully_masked_row"] = measure_fully_masked_row(device)
    results["peak_gemm"] = measure_peak_gemm(size["peak_n"], device, repeat)
    results["attention_gemm_tflops"] = measure_attention_gemm_tflops(
        attn["B"], attn["H"], attn["D"], attn["lengths"], results["peak_gemm"]["peak_tflops"], device, repeat)
    results["gemm_kernels"] = measure_gemm_kernels(attn["B"], attn["H"], attn["lengths"][-1], attn["D"], device)
    results["cublas_api"] = measure_cublas_api(device)
    results["tf32_max_rel_error"] = measure_tf32(device)
    return results


# ------------------------------------------------------------------------------------- the CLI
def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m sitekit.tools.evidence",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--device", choices=("cuda", "cpu"),
                        default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--out", default=None, help="results JSON path (default: stdout)")
    parser.add_argument("--quick", action="store_true", help="tiny sizes, for a quick check")
    parser.add_argument("--no-gpu-tests", action="store_true",
                        help="on CUDA, do not run `pytest -m gpu` and record its summary line")
    args = parser.parse_args(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda: torch.cuda.is_available() is False on this machine")
    start = time.perf_counter()
    results = run(args.device, args.quick)
    results["metadata"]["run_wall_s"] = round(time.perf_counter() - start, 1)
    if args.device == "cuda" and not args.no_gpu_tests:
        results["metadata"]["pytest_gpu_summary"] = gpu_test_summary()
    payload = json.dumps(results, indent=2, ensure_ascii=False) + "\n"
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(payload, encoding="utf-8")
        print(f"wrote {args.out} ({results['metadata']['label']}, {results['metadata']['run_wall_s']} s)",
              file=sys.stderr)
    else:
        sys.stdout.write(payload)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
