"""Chapter 3 — cuBLAS batched GEMM (cuBLAS 批量 GEMM).

Included section by section by ``docs/cublas.zh.md`` and
``docs/cublas.en.md``. Sections that hold functions run as code on the page;
the sections inside ``sessions()`` are sessions: under each statement, what it
shows in ``#>`` lines, checked by the tests. Sections whose name starts with
``gpu_`` need a CUDA GPU: they are skipped elsewhere. Names follow the math: B
batch, H heads, L sequence length, D head_dim.
"""

# --8<-- [start:imports]
import json
import os
import subprocess
import sys
import tempfile
from contextlib import contextmanager
from typing import NamedTuple

import torch
from torch.profiler import ProfilerActivity, profile
from torch.utils import benchmark

# chapter 2: aten:: ops of one call
from snippets.matmul import count_ops, matmul_ops

# chapter 1: ValueError unless a positive int
from snippets.shapes import positive_int
# --8<-- [end:imports]


# --8<-- [start:strided_batch_params]
class StridedBatch(NamedTuple):
    """All a *StridedBatched* GEMM needs to find each matrix of an operand."""

    offset: int  # the base pointer, as an element offset into the storage
    count: int  # batchCount: how many matrices
    # strideA: elements from the start of one matrix to the start of the next
    stride: int
    rows: int
    cols: int
    # lda, the leading dimension: elements from one row (or column) to the
    # next
    ld: int
    # "row-major" (rows are contiguous) or "column-major" (columns are)
    order: str


def strided_batch_params(t: torch.Tensor) -> StridedBatch:
    """Describe t = (*batch, rows, cols): one base pointer + one batch stride
    (or a ValueError)."""
    check_strided_batch_params(t)
    *batch, rows, cols = t.shape
    *batch_strides, row_stride, col_stride = t.stride()
    # Each matrix: BLAS reads it by rows or by columns, one of the two steps
    # must be 1.
    if col_stride == 1 and row_stride >= max(1, cols):
        order, ld = "row-major", row_stride
    elif row_stride == 1 and col_stride >= max(1, rows):
        order, ld = "column-major", col_stride
    else:
        raise ValueError(
            f"each {rows}x{cols} matrix has strides "
            f"({row_stride}, {col_stride}): BLAS needs one of them to be 1 "
            "and the other to span a whole row or column; "
            "call .contiguous() first"
        )
    # The batch: all batch dims together must be one arithmetic sequence of
    # matrix starts.
    count = 1
    for n in batch:
        count *= n
    # size-1 dims never step
    dims = [(n, s) for n, s in zip(batch, batch_strides) if n != 1]
    for (n0, s0), (n1, s1) in zip(dims, dims[1:]):
        if s0 != s1 * n1:
            raise ValueError(
                f"the batch dims {tuple(batch)} with strides "
                f"{tuple(batch_strides)} cannot be walked with one "
                f"stride: a dim of stride {s1} and size {n1} ends "
                f"at {s1 * n1}, but the next matrix along the outer "
                f"dim starts at {s0}; make the batch contiguous "
                "first (.contiguous(), or reshape, which copies)"
            )
    stride = dims[-1][1] if dims else batch_strides[-1]
    return StridedBatch(
        t.storage_offset(), count, stride, rows, cols, ld, order
    )
# --8<-- [end:strided_batch_params]


# --8<-- [start:strided_batch_params_checks]
def check_strided_batch_params(t: torch.Tensor) -> None:
    """t must be (*batch, rows, cols): at least 3 dims."""
    if t.dim() < 3:
        raise ValueError(
            "strided_batch_params expects a (*batch, rows, cols) tensor "
            f"with at least 3 dims, got {t.dim()} dims "
            f"with shape {tuple(t.shape)}"
        )
# --8<-- [end:strided_batch_params_checks]


# --8<-- [start:strided_batched_gemm]
def matrix_at(memory: torch.Tensor, p: StridedBatch, i: int) -> torch.Tensor:
    """Matrix i of a strided batch: it starts at p.offset + i * p.stride."""
    steps = (p.ld, 1) if p.order == "row-major" else (1, p.ld)
    # (rows, cols)
    return torch.as_strided(
        memory, (p.rows, p.cols), steps, p.offset + i * p.stride
    )


def strided_batched_gemm(
    a_mem: torch.Tensor, a: StridedBatch, b_mem: torch.Tensor, b: StridedBatch
) -> torch.Tensor:
    """C[i] = A[i] @ B[i] for every i, finding A[i] and B[i] only by
    base + i * stride, as cublasSgemmStridedBatched does. a_mem, b_mem:
    tensors whose storage holds the matrices (only the storage is used, like
    a raw pointer).
    Returns a new (count, m, n) tensor."""
    if a.count != b.count:
        raise ValueError(
            f"A has {a.count} matrices but B has {b.count}: "
            "batchCount must match"
        )
    if a.cols != b.rows:
        raise ValueError(
            f"A[i] is {a.rows}x{a.cols} and B[i] is {b.rows}x{b.cols}: the "
            f"contracted dimension must match ({a.cols} != {b.rows})"
        )
    # (count, m, n): same dtype and device
    c = a_mem.new_empty(a.count, a.rows, b.cols)
    for i in range(a.count):
        # (m, k) @ (k, n) -> (m, n)
        c[i] = matrix_at(a_mem, a, i) @ matrix_at(b_mem, b, i)
    return c
# --8<-- [end:strided_batched_gemm]


# --8<-- [start:cublas_log_of_bmm]
def cublas_log_of_bmm(dtype: str = "float32") -> str:
    """cuBLAS's own API log of one CUDA torch.bmm. cuBLAS reads its logging
    variables when it starts, so the bmm runs in a fresh Python process
    started with them set."""
    if dtype not in ("float32", "float16", "bfloat16"):
        raise ValueError(
            f"dtype must be 'float32', 'float16' or 'bfloat16', got {dtype!r}"
        )
    code = (
        "import torch\n"
        "torch.backends.cuda.matmul.allow_tf32 = False\n"
        # (B·H, L, D)
        f"a = torch.randn(8, 128, 64, device='cuda', dtype=torch.{dtype})\n"
        # (B·H, D, L)
        f"b = torch.randn(8, 64, 128, device='cuda', dtype=torch.{dtype})\n"
        "torch.bmm(a, b)\n"  # (B·H, L, L)
        "torch.cuda.synchronize()\n"
    )
    with tempfile.TemporaryDirectory() as tmp:
        log = os.path.join(tmp, "cublas.log")
        env = dict(os.environ, CUBLAS_LOGINFO_DBG="1", CUBLAS_LOGDEST_DBG=log)
        # keep PyTorch's default library choice
        env.pop("TORCH_BLAS_PREFER_CUBLASLT", None)
        subprocess.run(
            [sys.executable, "-c", code], env=env, check=True, timeout=300
        )
        with open(log, encoding="utf-8", errors="replace") as f:
            return f.read()
# --8<-- [end:cublas_log_of_bmm]


# --8<-- [start:cuda_kernels]
def cuda_kernels(fn) -> list:
    """The CUDA kernels fn() launches, as (name, grid) pairs read from the
    profiler's trace. fn runs once before profiling, so one-time setup (cuBLAS
    handle, workspace) is not counted."""
    fn()
    torch.cuda.synchronize()
    with profile(
        activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]
    ) as prof:
        fn()
        torch.cuda.synchronize()
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "trace.json")
        prof.export_chrome_trace(path)
        with open(path, encoding="utf-8") as f:
            events = json.load(f)["traceEvents"]
    return [
        # grid = (x, y, z) thread blocks
        (e["name"], tuple(e["args"]["grid"]))
        for e in events
        if str(e.get("cat", "")).lower() == "kernel"
    ]
# --8<-- [end:cuda_kernels]


# --8<-- [start:tf32_switch]
def tf32_api() -> str:
    """The TF32 switch of CUDA matmuls on this release: "fp32_precision" (the
    new setting, torch 2.9 and later) or "allow_tf32" (the legacy flag, alone
    before)."""
    matmul = torch.backends.cuda.matmul
    return (
        "fp32_precision"
        if hasattr(matmul, "fp32_precision")
        else "allow_tf32"
    )


@contextmanager
def tf32_mode(on: bool):
    """TF32 on or off for CUDA float32 matmuls inside the with block, set
    through one API only (reading the legacy flag after a mix of the two
    raises); the old value comes back."""
    matmul, api = torch.backends.cuda.matmul, tf32_api()
    previous = getattr(matmul, api)
    if api == "fp32_precision":
        matmul.fp32_precision = "tf32" if on else "ieee"
    else:
        matmul.allow_tf32 = on
    try:
        yield
    finally:
        setattr(matmul, api, previous)
# --8<-- [end:tf32_switch]


# --8<-- [start:tf32_errors]
def tf32_errors(
    count: int = 8, m: int = 256, k: int = 1024, n: int = 256
) -> dict:
    """Max relative error of a CUDA float32 bmm against float64, with TF32 off
    and on. tf32_mode switches TF32 through one API and restores the previous
    setting."""
    a = torch.randn(count, m, k, device="cuda")  # (count, m, k)
    b = torch.randn(count, k, n, device="cuda")  # (count, k, n)
    exact = torch.bmm(a.double(), b.double())  # (count, m, n), float64

    def error() -> float:
        c = torch.bmm(a, b)  # (count, m, n), float32 in and out
        return ((c.double() - exact).abs().max() / exact.abs().max()).item()

    with tf32_mode(False):
        fp32 = error()
    with tf32_mode(True):
        tf32 = error()
    return {"fp32": fp32, "tf32": tf32}
# --8<-- [end:tf32_errors]


# --8<-- [start:time_loop_vs_batched]
def seconds_per_call(fn, repeat: int = 5) -> float:
    """Seconds per fn() call over `repeat` timed calls, after a warm-up.
    torch's Timer waits for the GPU before it reads the clock; it uses this
    process's threads."""
    threads = torch.get_num_threads()
    timer = benchmark.Timer("fn()", globals={"fn": fn}, num_threads=threads)
    return timer.timeit(positive_int("repeat", repeat)).median


def time_loop_vs_batched(
    B: int, H: int, L: int, D: int, device="cpu", repeat: int = 5
) -> dict:
    """Seconds per Q·Kᵀ for B·H heads: a loop of B·H matmuls vs one bmm."""
    sizes = {"B": B, "H": H, "L": L, "D": D, "repeat": repeat}
    for name, value in sizes.items():
        positive_int(name, value)
    q = torch.randn(B * H, L, D, device=device)  # (B·H, L, D)
    k = torch.randn(B * H, L, D, device=device)  # (B·H, L, D)

    def loop():
        # B·H products (L, D) @ (D, L) -> (L, L)
        return [q[i] @ k[i].T for i in range(B * H)]

    def batched():
        return torch.bmm(q, k.transpose(1, 2))  # (B·H, L, L) in one call

    loop_s = seconds_per_call(loop, repeat)
    batched_s = seconds_per_call(batched, repeat)
    return {"loop_s": loop_s, "batched_s": batched_s}
# --8<-- [end:time_loop_vs_batched]


def sessions():
    """The chapter's sessions, run section by section by the pages, in page
    order; not run on import. One function body, so the names a section leaves
    for the next are plain to see. Under each statement, its output in ``#>``
    lines."""
    # --8<-- [start:bmm_is_many_gemms]
    B, H, L, D = 2, 3, 3, 2
    # (B·H, L, D): B·H matrices of L x D
    q = torch.arange(B * H * L * D).view(B * H, L, D)
    k = torch.arange(B * H * L * D).flip(0).view(B * H, L, D)  # (B·H, L, D)
    scores = torch.bmm(q, k.transpose(1, 2))  # (B·H, L, L)
    scores.shape
    #> torch.Size([6, 3, 3])
    torch.equal(scores, torch.stack([q[i] @ k[i].T for i in range(B * H)]))
    #> True
    # --8<-- [end:bmm_is_many_gemms]

    # --8<-- [start:strided_contiguous]
    q.stride()
    #> (6, 2, 1)
    strided_batch_params(q)
    #> StridedBatch(offset=0, count=6, stride=6, rows=3, cols=2, ld=2,
    #> order='row-major')
    [q[i].storage_offset() for i in range(B * H)]
    #> [0, 6, 12, 18, 24, 30]
    kT = k.transpose(1, 2)  # (B·H, D, L): a view, no copy
    kT.stride()
    #> (6, 1, 2)
    strided_batch_params(kT)
    #> StridedBatch(offset=0, count=6, stride=6, rows=2, cols=3, ld=2,
    #> order='column-major')
    # --8<-- [end:strided_contiguous]

    # --8<-- [start:permuted_batch]
    # (B, L, E): a projection's output
    x = torch.arange(B * L * H * D).view(B, L, H * D)
    # (B, H, L, D): split heads, a view
    q4 = x.view(B, L, H, D).transpose(1, 2)
    q4.stride()
    #> (18, 2, 6, 1)
    [q4[b, h].storage_offset() for b in range(B) for h in range(H)]
    #> [0, 2, 4, 18, 20, 22]
    strided_batch_params(q4)
    #> ValueError: the batch dims (2, 3) with strides (18, 2) cannot be walked
    #> with one stride: a dim of stride 2 and size 3 ends at 6, but the next
    #> matrix along the outer dim starts at 18; make the batch contiguous
    #> first (.contiguous(), or reshape, which copies)
    # --8<-- [end:permuted_batch]

    # --8<-- [start:reshape_copies]
    q4.view(B * H, L, D)
    #> RuntimeError: view size is not compatible with input tensor's size and
    #> stride (at least one dimension spans across two contiguous subspaces).
    #> Use .reshape(...) instead.
    # (B·H, L, D): merging B and H forces a copy here
    q3 = q4.reshape(B * H, L, D)
    q3.data_ptr() == x.data_ptr()
    #> False
    qc = q4.contiguous()  # (B, H, L, D): copied into B -> H -> L -> D order
    qc.view(B * H, L, D).data_ptr() == qc.data_ptr()
    #> True
    torch.equal(qc.view(B * H, L, D), q3)
    #> True
    strided_batch_params(qc.view(B * H, L, D))
    #> StridedBatch(offset=0, count=6, stride=6, rows=3, cols=2, ld=2,
    #> order='row-major')
    strided_batch_params(qc) == strided_batch_params(qc.view(B * H, L, D))
    #> True
    # --8<-- [end:reshape_copies]

    # --8<-- [start:emulation]
    # (B, H, L, D)
    k4 = torch.arange(B * L * H * D).flip(0).view(B, L, H, D).transpose(1, 2)
    qb = q4.contiguous().view(B * H, L, D)  # (B·H, L, D)
    kbT = k4.contiguous().view(B * H, L, D).transpose(1, 2)  # (B·H, D, L)
    a, b = strided_batch_params(qb), strided_batch_params(kbT)
    a.stride, b.stride, a.order, b.order
    #> (6, 6, 'row-major', 'column-major')
    scores = strided_batched_gemm(qb, a, kbT, b)  # (B·H, L, L)
    scores.shape
    #> torch.Size([6, 3, 3])
    torch.equal(scores, torch.bmm(qb, kbT))
    #> True
    torch.equal(scores.view(B, H, L, L), q4 @ k4.transpose(-2, -1))
    #> True
    # --8<-- [end:emulation]

    # --8<-- [start:cpu_profiler]
    qf = torch.randn(B * H, L, D)  # (B·H, L, D)
    kf = torch.randn(B * H, L, D)  # (B·H, L, D)
    matmul_ops(count_ops(lambda: qf @ kf.transpose(1, 2)))
    #> {'aten::bmm': 1}
    matmul_ops(count_ops(lambda: [qf[i] @ kf[i].T for i in range(B * H)]))
    #> {'aten::mm': 6}
    # (B, H, L, D) view
    q4f = torch.randn(B, L, H * D).view(B, L, H, D).transpose(1, 2)
    matmul_ops(count_ops(lambda: q4f @ q4f.transpose(-2, -1)))
    #> {'aten::bmm': 1, 'aten::clone': 2}
    q4c = q4f.contiguous()  # (B, H, L, D), memory in B -> H -> L -> D order
    matmul_ops(count_ops(lambda: q4c @ q4c.transpose(-2, -1)))
    #> {'aten::bmm': 1}
    torch.backends.mkl.is_available(), torch.backends.mkldnn.is_available()
    #> (True, True)
    # --8<-- [end:cpu_profiler]

    # --8<-- [start:blas_library]
    # nothing asked for: cuBLAS
    torch.backends.cuda.preferred_blas_library().name
    #> 'Cublas'
    # --8<-- [end:blas_library]

    # --8<-- [start:gpu_cublas_log]
    from snippets.cublas import cublas_log_of_bmm
    log = cublas_log_of_bmm("float32")
    "cublasSgemmStridedBatched" in log
    #> True
    "cublasSgemmBatched" in log
    #> False
    "cublasGemmStridedBatchedEx" in cublas_log_of_bmm("float16")
    #> True
    # --8<-- [end:gpu_cublas_log]

    # --8<-- [start:gpu_one_launch]
    import torch
    from snippets.cublas import cuda_kernels
    B, H, L, D = 2, 4, 1024, 64
    q = torch.randn(B * H, L, D, device="cuda")  # (B·H, L, D)
    k = torch.randn(B * H, L, D, device="cuda")  # (B·H, L, D)
    # (B·H, L, L)
    batched = cuda_kernels(lambda: torch.bmm(q, k.transpose(1, 2)))
    # B·H x (L, L)
    loop = cuda_kernels(lambda: [q[i] @ k[i].T for i in range(B * H)])
    len(batched), len(loop)
    #> (1, 8)
    name, (gx, gy, gz) = batched[0]
    gx * gy * gz > B * H
    #> True
    # --8<-- [end:gpu_one_launch]

    # --8<-- [start:tf32_settings]
    torch.backends.cuda.matmul.allow_tf32  # the legacy flag: off by default
    #> False
    # allow TF32 in float32 matmuls
    torch.set_float32_matmul_precision("high")
    torch.backends.cuda.matmul.allow_tf32
    #> True
    torch.set_float32_matmul_precision("highest")  # the default: full float32
    (
        torch.backends.cuda.matmul.allow_tf32,
        torch.get_float32_matmul_precision(),
    )
    #> (False, 'highest')
    # --8<-- [end:tf32_settings]

    # --8<-- [start:tf32_fp32_precision]
    matmul = torch.backends.cuda.matmul
    matmul.fp32_precision  # "highest" above wrote the new setting too
    #> 'ieee'
    matmul.fp32_precision = "tf32"  # TF32 on, through the new API alone
    try:  # the legacy record still says "highest": reading it fails
        matmul.allow_tf32
    except RuntimeError as error:
        message = str(error)
    print(message.split(" See also:")[0])  # the link to the TF32 notes cut
    #> PyTorch is checking whether allow_tf32_new is enabled for cuBlas
    #> matmul,Current status indicate that you have used mix of the legacy and
    #> new APIs to set the TF32 status for cublas matmul. We suggest only
    #> using the new API to set the TF32 flag.
    matmul.fp32_precision = "none"  # not set, as at the start
    # "highest" set oneDNN's too
    torch.backends.mkldnn.matmul.fp32_precision = "none"
    matmul.allow_tf32, matmul.fp32_precision
    #> (False, 'none')
    # --8<-- [end:tf32_fp32_precision]

    # --8<-- [start:gpu_tf32]
    import torch
    from snippets.cublas import tf32_api, tf32_errors
    before = getattr(torch.backends.cuda.matmul, tf32_api())
    err = tf32_errors()
    err["fp32"] < 1e-5, err["tf32"] > 1e-5, err["tf32"] > 10 * err["fp32"]
    #> (True, True, True)
    getattr(torch.backends.cuda.matmul, tf32_api()) == before  # restored
    #> True
    # --8<-- [end:gpu_tf32]

    # --8<-- [start:timing_cpu]
    t = time_loop_vs_batched(B=2, H=3, L=8, D=4, repeat=3)
    sorted(t)
    #> ['batched_s', 'loop_s']
    all(isinstance(s, float) and s > 0 for s in t.values())
    #> True
    time_loop_vs_batched(B=2, H=0, L=8, D=4)
    #> ValueError: H must be a positive int, got 0
    # --8<-- [end:timing_cpu]

    # --8<-- [start:gpu_timing]
    import torch
    from snippets.cublas import time_loop_vs_batched
    t = time_loop_vs_batched(B=8, H=16, L=128, D=64, device="cuda", repeat=10)
    t["loop_s"] > t["batched_s"]
    #> True
    # --8<-- [end:gpu_timing]
