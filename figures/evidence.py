"""The measured results on the pages: charts and tables drawn from the committed results files.

``docs/assets/evidence/<kind>.json`` (kind ``gpu`` or ``cpu``) is written by
``python3 -m sitekit.tools.evidence``; nothing here measures or invents a number. For each file that
exists this module draws the charts (``FIGURES``, written at build time like every figure) and
``page_markdown`` writes the tables and the captions that name the device, torch version and date;
the page ``docs/evidence.<lang>.md`` has a marker line ``<!-- evidence: gpu -->`` where
``sitekit/build/hooks.py`` puts them. Where there is no file, the page says that no run is recorded.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from figures import svg
from sitekit import site

EVIDENCE_DIR = site.DOCS / "assets" / "evidence"
#: results file kind -> the device_kind its metadata must name
KINDS = {"gpu": "cuda", "cpu": "cpu"}

LABELS = {
    "en": {
        "speedup_title": "Q·Kᵀ, float32: Python loop (B·H matmuls) vs one bmm; speed-up = loop time / bmm time",
        "speedup_axis": "speed-up (log scale)",
        "time_title": "Self-attention, one call (L = S, B={B}, H={H}, D={D}, {dtype}): time per call",
        "memory_title": "Self-attention, one call (L = S, B={B}, H={H}, D={D}, {dtype}): memory it allocates",
        "time_axis": "ms per call (log scale)",
        "time_alt": "Attention time per call against the sequence length",
        "memory_alt": "Memory one attention call allocates, against the sequence length",
        "memory_axis": "MiB (log scale)",
        "x_axis": "sequence length L",
        "caption": "device: {device} · torch {torch} · date (UTC): {date}",
        "cpu_label": "CPU run, not GPU evidence",
        "quick": " (--quick sizes)",
        "hand_written": "hand-written (masked_attention, no mask)",
        "sdpa_default": "SDPA, default backend",
        "sdpa_backend": "SDPA, {backend} only",
        "mha": "MHA need_weights={nw}{off} → {path}",
        "fast_path_off": ", fast path off",
        "paths": {"fast path": "fast path", "sdpa": "sdpa", "bmm + softmax": "bmm + softmax"},
        "not_recorded": "No run recorded",
        "missing_gpu": (
            "No GPU run has been recorded for this site yet, so this section shows no GPU number. "
            "The command above, run on a machine with a CUDA GPU, writes "
            "`docs/assets/evidence/gpu.json`; a build of the site with that file shows its tables "
            "and charts here."
        ),
        "missing_cpu": "No CPU run has been recorded (`docs/assets/evidence/cpu.json`).",
        "meta": ["Device", "Run", "torch · CUDA · driver", "Compute capability", "Date (UTC)",
                 "`pytest -m gpu`", "Results file"],
        "not_gpu": "not GPU evidence: the same script, run on a CPU",
        "gpu_run": "GPU run",
        "h_loop": "Loop versus one bmm",
        "h_attention": "Attention: time and memory per call",
        "h_attention_time": "Attention: time per call",
        "h_masked": "A fully masked query row, per SDPA backend",
        "h_peak": "How close the attention GEMMs get to the practical peak",
        "h_kernels": "Kernels and launch grids",
        "h_cublas": "cuBLAS functions called by one bmm",
        "h_tf32": "TF32: error against float64",
        "loop_cols": ["B", "H", "L", "D", "loop", "one bmm", "speed-up"],
        "count_cols": {"cuda_kernels": "kernel launches (loop / bmm)", "aten_ops": "matmul calls (loop / bmm)"},
        "count_notes": {"cuda_kernels": "Kernel launches: the CUDA kernels the profiler recorded for one call.",
                        "aten_ops": ("On the CPU nothing is launched: matmul calls are the matrix-multiply "
                                     "operators (aten::mm, aten::bmm) the CPU profiler recorded for one call.")},
        "variant": "variant",
        "time_caption": ("Time per call, the mean of repeated calls after a warm-up (the "
                         "nn.MultiheadAttention rows include its input and output projections, E = H·D):"),
        "memory_caption": ("CUDA memory one call allocates, at its peak, beyond what was allocated before "
                           "it (inputs and weights are not counted), in MiB:"),
        "unavailable": "not available",
        "unavailable_reason": "not available: `{error}`",
        "reasons": ("—: the backend cannot run this input on this device (some backends exist only on "
                    "CUDA, and each has its own limits); PyTorch's message: {reasons}"),
        "backend": "SDPA backend",
        "result": "output of that row",
        "results": {"nan": "NaN", "zeros": "zeros", "other": "neither NaN nor zeros"},
        "peak": ("Practical peak: the best of the dense square GEMMs `(n, n) @ (n, n)` measured "
                 "(n = {sizes}; {dtypes}), here n = {n} in {dtype} at {tflops} TFLOP/s. Each cell below "
                 "is TFLOP/s, with the percentage of that peak (a smaller GEMM can beat it a little)."),
        "peak_cols": ["L", "Q·Kᵀ", "P·V", "SDPA default (both GEMMs counted)"],
        "kernel_cols": ["call", "(B, H, L, D)", "kernel", "grid (x, y, z)"],
        "cublas_cols": ["dtype", "cuBLAS functions in the API log (calls)"],
        "tf32_cols": ["TF32", "max relative error of a float32 bmm vs float64"],
        "off_on": ("off", "on"),
        "default": "default",
    },
    "zh": {
        "speedup_title": "Q·Kᵀ，float32：Python 循环（B·H 次 matmul）与一次 bmm；加速比 = 循环时间 / bmm 时间",
        "speedup_axis": "加速比（对数刻度）",
        "time_title": "自注意力单次调用（L = S，B={B}，H={H}，D={D}，{dtype}）：每次调用的时间",
        "memory_title": "自注意力单次调用（L = S，B={B}，H={H}，D={D}，{dtype}）：分配的显存",
        "time_axis": "每次调用的毫秒数（对数刻度）",
        "time_alt": "注意力每次调用的时间随序列长度的变化",
        "memory_alt": "一次注意力调用分配的显存随序列长度的变化",
        "memory_axis": "MiB（对数刻度）",
        "x_axis": "序列长度 L",
        "caption": "设备：{device} · torch {torch} · 日期（UTC）：{date}",
        "cpu_label": "CPU 上的运行，不是 GPU 证据",
        "quick": "（--quick 小尺寸）",
        "hand_written": "手写注意力（masked_attention，不带掩码）",
        "sdpa_default": "SDPA，默认后端",
        "sdpa_backend": "SDPA，只用 {backend}",
        "mha": "MHA need_weights={nw}{off} → {path}",
        "fast_path_off": "，关闭快速路径",
        "paths": {"fast path": "快速路径", "sdpa": "sdpa", "bmm + softmax": "bmm + softmax"},
        "not_recorded": "尚无记录",
        "missing_gpu": (
            "本站还没有记录过 GPU 上的运行，所以这一节不给出任何 GPU 数字。在有 CUDA GPU 的机器上运行上面的命令，"
            "会写出 `docs/assets/evidence/gpu.json`；带着这个文件构建站点，这里就会显示它的表格和图。"
        ),
        "missing_cpu": "还没有记录 CPU 上的运行（`docs/assets/evidence/cpu.json`）。",
        "meta": ["设备", "运行", "torch · CUDA · 驱动", "计算能力", "日期（UTC）", "`pytest -m gpu`",
                 "结果文件"],
        "not_gpu": "不是 GPU 证据：同一个脚本在 CPU 上的运行",
        "gpu_run": "GPU 运行",
        "h_loop": "循环与一次 bmm",
        "h_attention": "注意力：每次调用的时间与显存",
        "h_attention_time": "注意力：每次调用的时间",
        "h_masked": "整行被屏蔽的查询：各 SDPA 后端的输出",
        "h_peak": "注意力里的 GEMM 离实际峰值有多近",
        "h_kernels": "内核与启动网格",
        "h_cublas": "一次 bmm 调用的 cuBLAS 函数",
        "h_tf32": "TF32：与 float64 相比的误差",
        "loop_cols": ["B", "H", "L", "D", "循环", "一次 bmm", "加速比"],
        "count_cols": {"cuda_kernels": "内核启动次数（循环 / bmm）", "aten_ops": "矩阵乘法调用次数（循环 / bmm）"},
        "count_notes": {"cuda_kernels": "内核启动次数：性能分析器为一次调用记录的 CUDA 内核个数。",
                        "aten_ops": ("CPU 上没有内核启动：矩阵乘法调用次数是 CPU 性能分析器为一次调用记录的"
                                     "矩阵乘法算子（aten::mm、aten::bmm）个数。")},
        "variant": "实现方式",
        "time_caption": "每次调用的时间，取预热之后多次调用的平均值（nn.MultiheadAttention 各行包含它的输入与输出投影，E = H·D）：",
        "memory_caption": "一次调用分配的 CUDA 显存峰值，只计调用前已分配之外的部分（不含输入和权重），单位 MiB：",
        "unavailable": "不可用",
        "unavailable_reason": "不可用：`{error}`",
        "reasons": ("—：这个后端在这台设备上不能处理这个输入（有些后端只有 CUDA 上才有，每个后端也各有限制）；"
                    "PyTorch 的报错：{reasons}"),
        "backend": "SDPA 后端",
        "result": "该行的输出",
        "results": {"nan": "NaN", "zeros": "全零", "other": "既不是 NaN 也不是全零"},
        "peak": ("实际峰值：实测的稠密方阵 GEMM `(n, n) @ (n, n)`（n = {sizes}；{dtypes}）中最快的一个，"
                 "这里是 {dtype} 的 n = {n}，{tflops} TFLOP/s。下表每格是 TFLOP/s，括号里是占这个峰值的百分比"
                 "（较小的 GEMM 偶尔会略微超过它）。"),
        "peak_cols": ["L", "Q·Kᵀ", "P·V", "SDPA 默认（两个 GEMM 都计入）"],
        "kernel_cols": ["调用", "(B, H, L, D)", "内核", "网格 (x, y, z)"],
        "cublas_cols": ["dtype", "cuBLAS API 日志里的函数（调用次数）"],
        "tf32_cols": ["TF32", "float32 bmm 相对 float64 的最大相对误差"],
        "off_on": ("关", "开"),
        "default": "默认",
    },
}


def _labels(lang: str) -> dict:
    if lang not in LABELS:
        raise ValueError(f"lang must be one of {sorted(LABELS)}, got {lang!r}")
    return LABELS[lang]


# ------------------------------------------------------------------------------ the results files
def load(kind: str, directory: Path = EVIDENCE_DIR) -> dict | None:
    """The committed results of `kind` ("gpu" or "cpu"), or None when there is no such file.
    A file whose device does not match its name is an error (a CPU run is never GPU evidence)."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {sorted(KINDS)}, got {kind!r}")
    path = Path(directory) / f"{kind}.json"
    if not path.is_file():
        return None
    results = json.loads(path.read_text(encoding="utf-8"))
    device_kind = results.get("metadata", {}).get("device_kind")
    if device_kind != KINDS[kind]:
        raise ValueError(f"{path.name}: its metadata says device_kind={device_kind!r}, "
                         f"but a {kind} results file must come from a {KINDS[kind]!r} run")
    return results


def _fmt_seconds(s: float) -> str:
    if s < 1e-3:
        return f"{s * 1e6:.0f} µs"
    return f"{s * 1e3:.3g} ms" if s < 1 else f"{s:.3g} s"


def _fmt_mib(n: int) -> str:
    return f"{n / 2**20:.4g}"


def _caption(meta: dict, t: dict) -> str:
    return t["caption"].format(device=meta["device_name"], torch=meta["torch_version"],
                               date=meta["date_utc"]) + (t["quick"] if meta.get("quick") else "")


def _caption_parts(meta: dict, t: dict, y: float) -> list[str]:
    parts = [svg.text(12, y, _caption(meta, t), 11, fill="#333")]
    if meta.get("device_kind") == "cpu":
        parts.append(svg.text(12, y + 18, t["cpu_label"], 11, weight="bold", fill="#b04848"))
    return parts


# ------------------------------------------------------------------------------------- charts
def speedup_svg(results: dict, lang: str) -> str:
    """A horizontal bar chart of loop/bmm speed-up per (B, H, L, D), captioned from the JSON."""
    t = _labels(lang)
    rows = results["loop_vs_batched"]
    left, bar_w, row_h, top = 190, 330, 30, 48
    width, height = left + bar_w + 190, top + row_h * len(rows) + 78
    scale = bar_w / math.log10(max([r["speedup"] for r in rows] + [10.0]) * 1.05)
    parts = [svg.text(12, 22, t["speedup_title"], 13, weight="bold")]
    for i, r in enumerate(rows):
        y = top + i * row_h
        length = max(2.0, math.log10(max(r["speedup"], 1.0)) * scale)
        parts.append(svg.text(left - 8, y + 17, f"B={r['B']} H={r['H']} L={r['L']} D={r['D']}", 12,
                              "end", mono=True))
        parts.append(f'<rect x="{left}" y="{y + 4:.0f}" width="{length:.0f}" height="{row_h - 10}" '
                     f'rx="2" fill="{svg.FILLS[0]}" stroke="{svg.STROKES[0]}"/>')
        parts.append(svg.text(left + length + 6, y + 17, f"×{r['speedup']:.1f}  ({_fmt_seconds(r['loop_s'])} / "
                                                         f"{_fmt_seconds(r['batched_s'])})", 11, mono=True))
    axis_y = top + row_h * len(rows) + 4
    parts.append(f'<line x1="{left}" y1="{top}" x2="{left}" y2="{axis_y}" stroke="#555"/>')
    parts.append(svg.text(left, axis_y + 16, t["speedup_axis"], 11, fill="#555"))
    parts += _caption_parts(results["metadata"], t, axis_y + 40)
    return svg.document(width, height, parts)


def variant_label(name: str, value: dict, t: dict) -> str:
    """hand_written -> "hand-written (masked_attention)"; mha_need_weights_False_no_fastpath ->
    "MHA need_weights=False, fast path off → sdpa" (the path the profiler saw)."""
    if name in ("hand_written", "sdpa_default"):
        return t[name]
    if name.startswith("sdpa_"):
        return t["sdpa_backend"].format(backend=name.removeprefix("sdpa_"))
    nw = "True" if name.startswith("mha_need_weights_True") else "False"
    off = t["fast_path_off"] if name.endswith("_no_fastpath") else ""
    return t["mha"].format(nw=nw, off=off, path=t["paths"].get(value.get("path"), value.get("path")))


CHART_VARIANTS = ("hand_written", "sdpa_default", "mha_need_weights_True", "mha_need_weights_False",
                  "mha_need_weights_True_no_fastpath", "mha_need_weights_False_no_fastpath")


def _measured(attention: list, field: str) -> bool:
    """Did the run measure `field` ("time_s", "peak_memory_bytes") for any attention variant?"""
    return any(v.get(field) is not None for r in attention for v in r["variants"].values())


def _attention_chart(results: dict, lang: str, field: str) -> str | None:
    """Lines over L (log y) of `field` ("time_s" or "peak_memory_bytes") for CHART_VARIANTS."""
    t = _labels(lang)
    rows = results["attention"]
    first = rows[0]
    series = []
    for name in CHART_VARIANTS:
        values = [r["variants"].get(name, {}).get(field) for r in rows]
        if all(v is not None for v in values):
            scale = 1e3 if field == "time_s" else 1 / 2**20  # ms or MiB
            series.append((name, variant_label(name, rows[-1]["variants"][name], t), [v * scale for v in values]))
    if not series:
        return None
    left, top, plot_w, plot_h, legend_w = 70, 58, 360, 220, 400
    width, height = left + plot_w + legend_w, top + plot_h + 92
    lo = math.floor(math.log10(min(min(v) for _, _, v in series)))
    hi = math.ceil(math.log10(max(max(v) for _, _, v in series)))
    hi = max(hi, lo + 1)

    def x_at(i: int) -> float:
        return left + (i + 0.5) * plot_w / len(rows)

    def y_at(value: float) -> float:
        return top + plot_h - (math.log10(value) - lo) / (hi - lo) * plot_h

    kind = "time" if field == "time_s" else "memory"
    parts = [svg.text(12, 22, t[f"{kind}_title"].format(B=first["B"], H=first["H"], D=first["D"],
                                                        dtype=first["dtype"]), 13, weight="bold")]
    parts.append(f'<rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" fill="none" stroke="#999"/>')
    for e in range(lo, hi + 1):
        y = y_at(10.0**e)
        parts.append(f'<line x1="{left}" y1="{y:.0f}" x2="{left + plot_w}" y2="{y:.0f}" stroke="#e3e3e3"/>')
        parts.append(svg.text(left - 6, y + 4, f"{10.0**e:g}", 11, "end", fill="#555", mono=True))
    for i, r in enumerate(rows):
        parts.append(svg.text(x_at(i), top + plot_h + 16, r["L"], 11, "middle", fill="#555", mono=True))
    parts.append(svg.text(left + plot_w / 2, top + plot_h + 34, t["x_axis"], 11, "middle", fill="#555"))
    parts.append(svg.text(left, top - 8, t[f"{kind}_axis"], 11, fill="#555"))
    for j, (name, label, values) in enumerate(series):
        colour = svg.STROKES[j % len(svg.STROKES)]
        dash = ' stroke-dasharray="5 3"' if name.endswith("_no_fastpath") else ""
        points = " ".join(f"{x_at(i):.1f},{y_at(v):.1f}" for i, v in enumerate(values))
        parts.append(f'<polyline points="{points}" fill="none" stroke="{colour}" stroke-width="2"{dash}/>')
        parts += [f'<circle cx="{x_at(i):.1f}" cy="{y_at(v):.1f}" r="3" fill="{colour}"/>'
                  for i, v in enumerate(values)]
        ly = top + 10 + j * 20
        parts.append(f'<line x1="{left + plot_w + 16}" y1="{ly - 4}" x2="{left + plot_w + 40}" y2="{ly - 4}" '
                     f'stroke="{colour}" stroke-width="2"{dash}/>')
        parts.append(svg.text(left + plot_w + 46, ly, label, 11))
    parts += _caption_parts(results["metadata"], t, top + plot_h + 58)
    return svg.document(width, height, parts)


def attention_time_svg(results: dict, lang: str) -> str | None:
    return _attention_chart(results, lang, "time_s")


def attention_memory_svg(results: dict, lang: str) -> str | None:
    """Only a CUDA run measures memory: None for a CPU run."""
    return _attention_chart(results, lang, "peak_memory_bytes")


CHARTS = {"speedup": speedup_svg, "attention_time": attention_time_svg,
          "attention_memory": attention_memory_svg}


def figure_path(kind: str, chart: str) -> str:
    """Where the chart goes, relative to docs/ (``.{lang}`` before ``.svg`` on disk)."""
    return f"assets/figures/evidence_{kind}_{chart}.svg"


def _drawer(kind: str, chart: str):
    def draw(lang: str) -> str | None:
        results = load(kind)
        return None if results is None else CHARTS[chart](results, lang)
    return draw


#: Figures that sitekit/build/hooks.py writes before each build; a drawer returns None (nothing to
#: write) when the results file, or what the chart needs (CUDA memory), is not there.
FIGURES = {figure_path(kind, chart).replace(".svg", ".{lang}.svg"): _drawer(kind, chart)
           for kind in KINDS for chart in CHARTS}


# -------------------------------------------------------------------------------------- tables
def _table(header: list, rows: list) -> list[str]:
    def cell(value) -> str:
        return str(value).replace("|", "\\|").replace("\n", " ")
    lines = ["| " + " | ".join(cell(h) for h in header) + " |", "|" + " --- |" * len(header)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return lines + [""]


def page_markdown(kind: str, lang: str, directory: Path = EVIDENCE_DIR, site_root: str = "../") -> str:
    """The Markdown that replaces ``<!-- evidence: <kind> -->`` on the page in `lang`.

    site_root: the page's relative URL of the site root. The results file is a static file of the
    default language only, so its link is plain HTML that points there from either language."""
    t = _labels(lang)
    results = load(kind, directory)
    if results is None:
        title, text = t["not_recorded"], t[f"missing_{kind}"]
        return f'!!! warning "{title}"\n    {text}\n'
    meta = results["metadata"]
    out = []
    run = t["gpu_run"] if meta["device_kind"] == "cuda" else f"**{t['not_gpu']}**"
    versions = " · ".join(str(meta.get(k) or "—") for k in ("torch_version", "cuda_version", "driver_version"))
    values = [meta["device_name"], run + (t["quick"] if meta.get("quick") else ""), versions,
              meta.get("compute_capability") or "—", meta["date_utc"], meta.get("pytest_gpu_summary") or "—",
              f'<a href="{site_root}assets/evidence/{kind}.json" download>{kind}.json</a>']
    out += _table([t["meta"][0], values[0]], [[k, v] for k, v in zip(t["meta"][1:], values[1:])])

    out += [f"### {t['h_loop']} {{#{kind}-loop}}", "", f"![{t['speedup_title']}]({figure_path(kind, 'speedup')})", ""]
    rows = results["loop_vs_batched"]
    count_kind = rows[0]["loop_launches"]["kind"]
    out += _table(t["loop_cols"] + [t["count_cols"][count_kind]], [[r["B"], r["H"], r["L"], r["D"], _fmt_seconds(r["loop_s"]), _fmt_seconds(r["batched_s"]),
                            f"×{r['speedup']:.1f}", f"{r['loop_launches']['count']} / {r['batched_launches']['count']}"]
                           for r in rows])
    out += [t["count_notes"][count_kind], ""]

    attention = results["attention"]
    memory = _measured(attention, "peak_memory_bytes")  # a CPU run measures no memory
    out += [f"### {t['h_attention' if memory else 'h_attention_time']} {{#{kind}-attention}}", "",
            f"![{t['time_alt']}]({figure_path(kind, 'attention_time')})", ""]
    if memory:
        out += [f"![{t['memory_alt']}]({figure_path(kind, 'attention_memory')})", ""]
    names = list(attention[0]["variants"])
    reasons = {}
    for field, caption, fmt in (("time_s", t["time_caption"], _fmt_seconds),
                                ("peak_memory_bytes", t["memory_caption"], _fmt_mib)):
        if not _measured(attention, field):
            continue
        table_rows = []
        for name in names:
            cells = []
            for r in attention:
                value = r["variants"][name]
                if "error" in value:
                    reasons.setdefault(value["error"], []).append(name)
                cells.append("—" if value.get(field) is None else fmt(value[field]))
            table_rows.append([variant_label(name, attention[-1]["variants"][name], t), *cells])
        out += [caption, ""] + _table([t["variant"], *[f"L = {r['L']}" for r in attention]], table_rows)
    if reasons:
        out += [t["reasons"].format(reasons="; ".join(f"`{e}`" for e in reasons)), ""]

    out += [f"### {t['h_masked']} {{#{kind}-masked-row}}", ""]
    out += _table([t["backend"], t["result"]],
                  [[t["default"] if b == "default" else b,
                    t["results"][v["result"]] if "result" in v else t["unavailable_reason"].format(error=v["error"])]
                   for b, v in results["fully_masked_row"].items()])

    peak = results["peak_gemm"]
    out += [f"### {t['h_peak']} {{#{kind}-peak}}", ""]
    best = peak["best"]
    out += [t["peak"].format(sizes=", ".join(sorted({str(c["n"]) for c in peak["cases"]}, key=int)),
                             dtypes=", ".join(dict.fromkeys(c["dtype"] for c in peak["cases"])),
                             n=best["n"], dtype=best["dtype"], tflops=f"{peak['peak_tflops']:.3g}"), ""]

    def pct(row, key):
        return f"{row[f'{key}_tflops']:.3g} ({row[f'{key}_fraction_of_peak']:.0%})"
    out += _table(t["peak_cols"], [[r["L"], pct(r, "qk"), pct(r, "pv"), pct(r, "sdpa_default")]
                                   for r in results["attention_gemm_tflops"]])

    if results.get("gemm_kernels"):
        out += [f"### {t['h_kernels']} {{#{kind}-kernels}}", ""]
        out += _table(t["kernel_cols"], [[k["call"], ", ".join(map(str, k["shape"])),
                                          f"`{k['kernel'][:120]}{'…' if len(k['kernel']) > 120 else ''}`",
                                          ", ".join(map(str, k["grid"]))] for k in results["gemm_kernels"]])
    if results.get("cublas_api"):
        out += [f"### {t['h_cublas']} {{#{kind}-cublas}}", ""]
        out += _table(t["cublas_cols"], [[d, ", ".join(f"`{f}` ({n})" for f, n in calls.items()) or "—"]
                                         for d, calls in results["cublas_api"].items()])
    if results.get("tf32_max_rel_error"):
        err = results["tf32_max_rel_error"]
        out += [f"### {t['h_tf32']} {{#{kind}-tf32}}", ""]
        out += _table(t["tf32_cols"], [[t["off_on"][0], f"{err['fp32']:.2e}"], [t["off_on"][1], f"{err['tf32']:.2e}"]])
    return "\n".join(out)
