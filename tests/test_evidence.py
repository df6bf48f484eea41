"""The measured-results pipeline: sitekit/tools/evidence.py measures and writes one results JSON,
figures/evidence.py turns a committed one into the tables and charts of
docs/evidence.<lang>.md. On the CPU with --quick sizes here; the same run on CUDA is marked gpu.
Every committed results file is checked against the claims of the chapters."""

from __future__ import annotations

import copy
import datetime as dt
import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import torch

from figures import evidence as figures_evidence
from sitekit.tools import evidence
from figures.evidence import EVIDENCE_DIR, KINDS, load, page_markdown

SVG_TEXT = "{http://www.w3.org/2000/svg}text"
METADATA_FIELDS = ("device_name", "device_kind", "label", "torch_version", "cuda_version",
                   "driver_version", "date_utc")


@pytest.fixture(scope="module")
def cpu_results(tmp_path_factory):
    out = tmp_path_factory.mktemp("evidence") / "evidence-cpu.json"
    assert evidence.main(["--device", "cpu", "--quick", "--out", str(out)]) == 0
    return json.loads(out.read_text(encoding="utf-8"))


def as_fake_gpu_run(results: dict) -> dict:
    """CPU results dressed as a CUDA run, with the CUDA-only sections filled in: for testing how
    a GPU run is drawn, never written to docs/."""
    fake = copy.deepcopy(results)
    fake["metadata"].update(device_name="Fake Device <X&Y>", device_kind="cuda", label="CUDA GPU: Fake",
                            torch_version="9.9.9-fake", cuda_version="99.9", driver_version="999.1",
                            compute_capability="9.0", date_utc="1999-12-31T23:59:59+00:00", quick=False,
                            pytest_gpu_summary="20 passed in 12.34s")
    for row in fake["loop_vs_batched"]:
        for launches in (row["loop_launches"], row["batched_launches"]):
            launches.update(kind="cuda_kernels", names={"fake_gemm_kernel": launches["count"]})
    for row in fake["attention"]:
        for value in row["variants"].values():
            if "time_s" in value:
                value["peak_memory_bytes"] = 3 * 2**20
    fake["gemm_kernels"] = [{"call": "bmm float32", "shape": [1, 2, 16, 8], "kernel": "fake_gemm_kernel",
                             "grid": [4, 2, 8]}]
    fake["cublas_api"] = {"float32": {"cublasSgemmStridedBatched": 1}}
    fake["tf32_max_rel_error"] = {"fp32": 1.0e-7, "tf32": 2.0e-4}
    return fake


def svg_texts(svg: str) -> str:
    return " ".join("".join(el.itertext()) for el in ET.fromstring(svg).iter(SVG_TEXT))


# ------------------------------------------------------------------------------- the script
def test_the_json_has_every_metadata_field_and_the_cpu_label(cpu_results):
    meta = cpu_results["metadata"]
    for field in METADATA_FIELDS:
        assert field in meta, field
    assert meta["device_kind"] == "cpu"
    assert meta["label"] == "CPU run, not GPU evidence"
    assert meta["device_name"].startswith("CPU (")
    assert meta["torch_version"] == torch.__version__
    assert meta["quick"] is True
    assert dt.datetime.fromisoformat(meta["date_utc"]).tzinfo is not None


def test_cuda_only_fields_are_empty_on_the_cpu(cpu_results):
    meta = cpu_results["metadata"]
    assert meta["cuda_version"] is None and meta["driver_version"] is None
    assert "pytest_gpu_summary" not in meta
    assert cpu_results["gemm_kernels"] == []
    assert cpu_results["cublas_api"] is None
    assert cpu_results["tf32_max_rel_error"] is None
    for row in cpu_results["attention"]:
        for name, value in row["variants"].items():
            assert value.get("peak_memory_bytes") is None, name


def test_every_section_is_measured(cpu_results):
    size = evidence.SIZES["quick"]
    assert [(r["B"], r["H"], r["L"], r["D"]) for r in cpu_results["loop_vs_batched"]] == size["loop"]
    assert [r["L"] for r in cpu_results["attention"]] == size["attn"]["lengths"]
    peak = cpu_results["peak_gemm"]
    assert [(c["n"], c["dtype"]) for c in peak["cases"]] == [(n, "float32") for n in size["peak_n"]]
    assert peak["peak_tflops"] == max(c["tflops"] for c in peak["cases"]) > 0
    assert peak["best"]["tflops"] == peak["peak_tflops"]
    for row in cpu_results["attention_gemm_tflops"]:
        assert row["flops_per_matmul"] == 2 * row["B"] * row["H"] * row["L"] * row["S"] * row["D"]
        assert row["qk_fraction_of_peak"] == pytest.approx(row["qk_tflops"] / cpu_results["peak_gemm"]["peak_tflops"])


def test_loop_vs_batched_counts_one_mm_per_head_and_one_bmm():
    (row,) = evidence.measure_loop_vs_batched([(2, 3, 8, 4)], "cpu", repeat=2)
    assert row["loop_s"] > 0 and row["batched_s"] > 0
    assert row["speedup"] == pytest.approx(row["loop_s"] / row["batched_s"])
    assert row["loop_launches"] == {"kind": "aten_ops", "count": 6, "names": {"aten::mm": 6, "aten::bmm": 0}}
    assert row["batched_launches"] == {"kind": "aten_ops", "count": 1, "names": {"aten::mm": 0, "aten::bmm": 1}}


def test_attention_records_each_variant_or_why_it_cannot_run():
    (row,) = evidence.measure_attention(1, 2, 8, [16], "cpu", repeat=2)
    variants = row["variants"]
    assert set(variants) == {"hand_written", "sdpa_default", *(f"sdpa_{b}" for b in evidence.SDPA_BACKENDS),
                             "mha_need_weights_True", "mha_need_weights_False",
                             "mha_need_weights_True_no_fastpath", "mha_need_weights_False_no_fastpath"}
    for name, value in variants.items():
        assert ("time_s" in value and value["time_s"] > 0) or value["error"], name
    assert "time_s" in variants["sdpa_MATH"]  # the math backend runs everywhere
    assert variants["mha_need_weights_True_no_fastpath"]["path"] == "bmm + softmax"
    assert variants["mha_need_weights_False_no_fastpath"]["path"] == "sdpa"
    assert variants["mha_need_weights_False"]["path"] == "fast path"  # eval, no_grad, batch_first
    assert torch.backends.mha.get_fastpath_enabled()  # restored


def test_a_fully_masked_row_gives_zeros_on_this_cpu_build():
    rows = evidence.measure_fully_masked_row("cpu")
    assert set(rows) == {"default", *evidence.SDPA_BACKENDS}
    assert rows["default"] == rows["MATH"] == {"result": "zeros"}


def test_cuda_only_measurements_are_empty_on_the_cpu():
    assert evidence.measure_gemm_kernels(1, 2, 16, 8, "cpu") == []
    assert evidence.measure_cublas_api("cpu") is None
    assert evidence.measure_tf32("cpu") is None
    assert evidence.peak_memory_bytes(lambda: None, "cpu") is None


def test_the_cublas_log_parser_finds_api_calls_not_types():
    log = ("I! cuBLAS (v12.8) function cublasStatus_t cublasSgemmStridedBatched(cublasHandle_t handle, "
           "cublasOperation_t transa) called:\ni!  handle: type=cublasHandle_t; val=0x1\n"
           "I! cuBLAS (v12.8) function cublasStatus_t cublasSetStream_v2(cublasHandle_t handle) called:\n")
    assert evidence.CUBLAS_CALL.findall(log) == ["cublasSgemmStridedBatched", "cublasSetStream_v2"]


def test_the_pytest_summary_line_is_found():
    out = "....s\n==== 12 passed, 1 skipped in 3.21s ====\n"
    assert evidence.PYTEST_SUMMARY.findall(out) == ["12 passed, 1 skipped in 3.21s"]
    assert evidence.PYTEST_SUMMARY.findall("25 passed in 30.00s\n") == ["25 passed in 30.00s"]


def test_cuda_is_refused_where_there_is_none(monkeypatch, capsys):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(SystemExit):
        evidence.main(["--device", "cuda", "--quick"])
    assert "torch.cuda.is_available() is False" in capsys.readouterr().err


# ------------------------------------------------------------------------- drawing the results
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_charts_are_captioned_from_the_json(cpu_results, lang):
    for chart in (figures_evidence.speedup_svg, figures_evidence.attention_time_svg):
        texts = svg_texts(chart(cpu_results, lang))
        meta = cpu_results["metadata"]
        for value in (meta["device_name"], meta["date_utc"], meta["torch_version"]):
            assert value in texts
        assert figures_evidence.LABELS[lang]["cpu_label"] in texts
    assert figures_evidence.attention_memory_svg(cpu_results, lang) is None  # no memory on the CPU


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_gpu_run_is_drawn_without_the_cpu_label(cpu_results, lang):
    fake = as_fake_gpu_run(cpu_results)
    for chart in figures_evidence.CHARTS.values():
        texts = svg_texts(chart(fake, lang))
        assert "Fake Device <X&Y>" in texts and "1999-12-31T23:59:59+00:00" in texts
        assert "9.9.9-fake" in texts and figures_evidence.LABELS[lang]["cpu_label"] not in texts
        assert cpu_results["metadata"]["date_utc"] not in texts


def test_the_speedup_chart_has_one_bar_per_shape(cpu_results):
    root = ET.fromstring(figures_evidence.speedup_svg(cpu_results, "en"))
    bars = root.findall("{http://www.w3.org/2000/svg}rect")
    assert len(bars) == len(cpu_results["loop_vs_batched"])
    for row in cpu_results["loop_vs_batched"]:
        assert f"×{row['speedup']:.1f}" in svg_texts(figures_evidence.speedup_svg(cpu_results, "en"))


def test_an_unknown_language_or_kind_is_refused(cpu_results, tmp_path):
    with pytest.raises(ValueError, match="lang must be one of"):
        figures_evidence.speedup_svg(cpu_results, "fr")
    with pytest.raises(ValueError, match="kind must be one of"):
        load("tpu", tmp_path)


def write(directory: Path, kind: str, results: dict) -> None:
    (directory / f"{kind}.json").write_text(json.dumps(results), encoding="utf-8")


@pytest.mark.parametrize("lang, words", [("zh", "尚无记录"), ("en", "No run recorded")])
def test_no_results_file_says_so_and_shows_no_number(tmp_path, lang, words):
    text = page_markdown("gpu", lang, tmp_path)
    assert text.startswith(f'!!! warning "{words}"')
    assert "docs/assets/evidence/gpu.json" in text
    assert not re.search(r"\d+(\.\d+)? ?(ms|µs|TFLOP/s|MiB)", text)


def test_a_cpu_run_saved_as_gpu_evidence_is_refused(cpu_results, tmp_path):
    write(tmp_path, "gpu", cpu_results)
    with pytest.raises(ValueError, match="a gpu results file must come from a 'cuda' run"):
        page_markdown("gpu", "en", tmp_path)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_page_tables_come_from_the_json(cpu_results, tmp_path, lang):
    write(tmp_path, "cpu", cpu_results)
    text = page_markdown("cpu", lang, tmp_path, site_root="../../")
    meta = cpu_results["metadata"]
    assert meta["device_name"] in text and meta["date_utc"] in text and meta["torch_version"] in text
    assert '<a href="../../assets/evidence/cpu.json" download>cpu.json</a>' in text
    assert "![" in text and "assets/figures/evidence_cpu_speedup.svg" in text
    assert "evidence_cpu_attention_memory" not in text  # the CPU measures no memory
    for row in cpu_results["loop_vs_batched"]:
        assert f"| {row['B']} | {row['H']} | {row['L']} | {row['D']} |" in text
        assert f"{row['loop_launches']['count']} / {row['batched_launches']['count']}" in text
    assert ("不是 GPU 证据" if lang == "zh" else "not GPU evidence") in text
    for heading in ("kernels", "cublas", "tf32"):
        assert f"{{#cpu-{heading}}}" not in text  # CUDA-only sections


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_gpu_run_shows_its_cuda_sections(cpu_results, tmp_path, lang):
    write(tmp_path, "gpu", as_fake_gpu_run(cpu_results))
    text = page_markdown("gpu", lang, tmp_path)
    for heading in ("loop", "attention", "masked-row", "peak", "kernels", "cublas", "tf32"):
        assert f"{{#gpu-{heading}}}" in text
    assert "`fake_gemm_kernel`" in text and "4, 2, 8" in text
    assert "`cublasSgemmStridedBatched` (1)" in text
    assert "1.00e-07" in text and "2.00e-04" in text
    assert "20 passed in 12.34s" in text and "99.9" in text
    assert "assets/figures/evidence_gpu_attention_memory.svg" in text
    assert "| 3 |" in text  # 3 MiB of peak memory
    assert "not GPU evidence" not in text and "不是 GPU 证据" not in text
    assert "kernel launches (loop / bmm)" in text or "内核启动次数（循环 / bmm）" in text


def test_figures_are_drawn_only_for_committed_results():
    for pattern, draw in figures_evidence.FIGURES.items():
        kind = re.search(r"evidence_(\w+?)_", pattern).group(1)
        drawn = draw("en")
        if load(kind) is None:
            assert drawn is None, pattern
        elif "memory" not in pattern or load(kind)["metadata"]["device_kind"] == "cuda":
            ET.fromstring(drawn)


# --------------------------------------------------------------- the committed results files
COMMITTED = sorted(kind for kind in KINDS if (EVIDENCE_DIR / f"{kind}.json").is_file())


def test_there_is_at_least_one_committed_results_file():
    assert COMMITTED, f"no results file in {EVIDENCE_DIR}"


@pytest.mark.parametrize("kind", COMMITTED)
def test_committed_results_agree_with_the_chapters(kind):
    """What the chapters claim, checked in each committed run (whatever device it names)."""
    results = load(kind)  # also checks that the device matches the file name
    meta = results["metadata"]
    assert meta["quick"] is False, "commit a full run, not --quick sizes"
    dt.datetime.fromisoformat(meta["date_utc"])
    for row in results["loop_vs_batched"]:  # cublas.md#one-launch, #on-the-cpu
        assert row["loop_launches"]["count"] >= row["B"] * row["H"]
        assert row["batched_launches"]["count"] <= 2  # one GEMM (+ a split-K reduction)
    for row in results["attention"]:  # mha.md#three-paths: with the fast path off, need_weights picks the path
        assert row["variants"]["mha_need_weights_True_no_fastpath"]["path"] == "bmm + softmax"
        assert row["variants"]["mha_need_weights_False_no_fastpath"]["path"] == "sdpa"
    if kind == "cpu":  # masking.md#library-full-row: zeros on the CPU from torch 2.5 on
        assert {v["result"] for v in results["fully_masked_row"].values() if "result" in v} == {"zeros"}
        for row in results["loop_vs_batched"]:
            assert row["batched_launches"]["names"]["aten::bmm"] == 1
    else:  # cublas.md#bmm-to-cublas, #tf32 and the recorded `pytest -m gpu`
        assert "cublasSgemmStridedBatched" in results["cublas_api"]["float32"]
        assert "cublasSgemmBatched" not in results["cublas_api"]["float32"]
        assert results["tf32_max_rel_error"]["tf32"] > 10 * results["tf32_max_rel_error"]["fp32"]
        summary = meta["pytest_gpu_summary"]
        assert "passed" in summary and not re.search(r"\b(failed|skipped|error)", summary), summary


# ------------------------------------------------------------------------------- on a GPU
@pytest.mark.gpu
def test_a_quick_cuda_run_fills_every_cuda_field():
    results = evidence.run("cuda", quick=True)
    meta = results["metadata"]
    assert meta["device_kind"] == "cuda" and meta["cuda_version"] and meta["compute_capability"]
    assert meta["device_name"] == torch.cuda.get_device_name()
    for row in results["loop_vs_batched"]:
        assert row["loop_launches"]["kind"] == "cuda_kernels"
        assert row["loop_launches"]["count"] >= row["B"] * row["H"]
        assert 1 <= row["batched_launches"]["count"] <= 2
    assert any(v.get("peak_memory_bytes") for v in results["attention"][0]["variants"].values())
    assert results["gemm_kernels"] and all(len(k["grid"]) == 3 for k in results["gemm_kernels"])
    assert "cublasSgemmStridedBatched" in results["cublas_api"]["float32"]
    assert results["tf32_max_rel_error"]["tf32"] > results["tf32_max_rel_error"]["fp32"]
    for lang in ("zh", "en"):
        assert figures_evidence.attention_memory_svg(results, lang) is not None
