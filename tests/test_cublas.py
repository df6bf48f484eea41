"""Properties of snippets/cublas.py over many shapes (the pages show one readable example each)."""

from __future__ import annotations

import itertools
import xml.etree.ElementTree as ET

import pytest
import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from packaging.version import Version

import snippets.cublas as cublas
from figures.cublas import strided_batch_svg
from snippets.matmul import count_ops, matmul_ops
from snippets.cublas import (
    StridedBatch,
    cublas_log_of_bmm,
    matrix_at,
    seconds_per_call,
    strided_batch_params,
    strided_batched_gemm,
    tf32_api,
    tf32_mode,
    time_loop_vs_batched,
)

dims = st.integers(min_value=1, max_value=4)


def shares_storage(a: torch.Tensor, b: torch.Tensor) -> bool:
    return a.untyped_storage().data_ptr() == b.untyped_storage().data_ptr()


@settings(max_examples=60, deadline=None)
@given(N=dims, R=dims, C=dims)
def test_a_contiguous_batch_is_one_base_pointer_plus_one_stride(N, R, C):
    t = torch.arange(N * R * C).view(N, R, C)  # (N, R, C)
    p = strided_batch_params(t)
    assert p == StridedBatch(0, N, R * C, R, C, C, "row-major")
    for i in range(N):
        assert torch.equal(matrix_at(t, p, i), t[i])
    # its transpose is the same memory read by columns: same base pointer and stride
    pT = strided_batch_params(t.transpose(1, 2))
    assert (pT.offset, pT.count, pT.stride, pT.rows, pT.cols) == (0, N, R * C, C, R)
    for i in range(N):
        assert torch.equal(matrix_at(t, pT, i), t[i].T)


@settings(max_examples=80, deadline=None)
@given(B=dims, H=dims, L=dims, D=dims)
def test_split_heads_batch_has_one_stride_only_in_degenerate_cases(B, H, L, D):
    x = torch.arange(B * L * H * D).view(B, L, H * D)  # (B, L, E)
    q4 = x.view(B, L, H, D).transpose(1, 2)  # (B, H, L, D)
    one_stride = B == 1 or H == 1 or L == 1
    merged = q4.reshape(B * H, L, D)  # (B·H, L, D): a view exactly when one stride exists
    assert shares_storage(merged, x) == one_stride
    if one_stride:
        p = strided_batch_params(q4)
        for i in range(B * H):
            assert torch.equal(matrix_at(x, p, i), merged[i])
    else:
        with pytest.raises(ValueError, match="cannot be walked with one stride"):
            strided_batch_params(q4)
    # the matrix starts: evenly spaced exactly when one stride exists
    starts = [q4[b, h].storage_offset() for b in range(B) for h in range(H)]
    gaps = {b - a for a, b in zip(starts, starts[1:])}
    assert (len(gaps) <= 1) == one_stride


@settings(max_examples=120, deadline=None)
@given(sizes=st.lists(dims, min_size=3, max_size=5), data=st.data())
def test_params_agree_with_reshape_on_any_permutation(sizes, data):
    """One stride exists exactly when reshape(count, rows, cols) can be a view."""
    base = torch.arange(torch.Size(sizes).numel()).view(sizes)
    perm = data.draw(st.permutations(range(len(sizes))))
    t = base.permute(*perm)  # (*batch, rows, cols), usually not contiguous
    *batch, rows, cols = t.shape
    count = torch.Size(batch).numel()
    try:
        p = strided_batch_params(t)
    except ValueError as error:
        assume("cannot be walked" in str(error))  # skip tensors whose matrices BLAS can't read
        assert not shares_storage(t.reshape(count, rows, cols), t)
        return
    merged = t.reshape(count, rows, cols)
    assert shares_storage(merged, t)
    assert p.count == count
    for i in range(count):
        assert torch.equal(matrix_at(t, p, i), merged[i])


@settings(max_examples=60, deadline=None)
@given(N=dims, M=dims, K=dims, P=dims, transposed_b=st.booleans())
def test_the_emulation_equals_bmm(N, M, K, P, transposed_b):
    a = torch.randint(-5, 6, (N, M, K)).float()  # integer values: every sum is exact
    b = torch.randint(-5, 6, (N, P, K)).float().transpose(1, 2) if transposed_b else torch.randint(-5, 6, (N, K, P)).float()
    c = strided_batched_gemm(a, strided_batch_params(a), b, strided_batch_params(b))
    assert c.shape == (N, M, P)
    assert torch.equal(c, torch.bmm(a, b))


@settings(max_examples=20, deadline=None)
@given(B=dims, H=dims)
def test_the_cpu_profiler_sees_one_bmm_or_one_mm_per_matrix(B, H):
    q = torch.randn(B * H, 3, 2)  # (B·H, L, D)
    assert matmul_ops(count_ops(lambda: q @ q.transpose(1, 2))) == {"aten::bmm": 1}
    assert matmul_ops(count_ops(lambda: [q[i] @ q[i].T for i in range(B * H)])) == {"aten::mm": B * H}


def test_the_timer_times_repeat_calls_after_a_warm_up():
    calls = []
    seconds = seconds_per_call(lambda: calls.append(1), repeat=3)
    assert isinstance(seconds, float) and len(calls) == 2 + 3  # torch's Timer warms up twice
    with pytest.raises(ValueError, match="repeat must be a positive int, got 0"):
        seconds_per_call(lambda: None, repeat=0)


def test_timing_returns_one_entry_per_path():
    assert sorted(time_loop_vs_batched(B=1, H=2, L=4, D=3, repeat=2)) == ["batched_s", "loop_s"]


NEW_TF32_API = hasattr(torch.backends.cuda.matmul, "fp32_precision")


@pytest.fixture
def tf32_state():
    """Put the TF32 settings back as they were: the legacy record first, then the new ones."""
    legacy = torch.get_float32_matmul_precision()
    if NEW_TF32_API:  # torch.backends.mkldnn.matmul too is new in torch 2.9
        matmul, mkldnn = torch.backends.cuda.matmul, torch.backends.mkldnn.matmul
        new = (matmul.fp32_precision, mkldnn.fp32_precision)
    yield
    torch.set_float32_matmul_precision(legacy)
    if NEW_TF32_API:
        matmul.fp32_precision, mkldnn.fp32_precision = new


def test_the_new_tf32_setting_exists_from_torch_2_9_on():
    release = Version(Version(torch.__version__).base_version)
    assert tf32_api() == ("fp32_precision" if release >= Version("2.9") else "allow_tf32")


@pytest.mark.parametrize("legacy", [False, True], ids=["this release's API", "legacy API"])
@pytest.mark.parametrize("on", [True, False])
def test_tf32_mode_switches_through_one_api_and_restores_it(on, legacy, monkeypatch, tf32_state):
    if legacy:
        monkeypatch.setattr(cublas, "tf32_api", lambda: "allow_tf32")  # the branch of torch < 2.9
    matmul, api = torch.backends.cuda.matmul, cublas.tf32_api()
    before = getattr(matmul, api)
    with tf32_mode(on):
        expected = ("tf32" if on else "ieee") if api == "fp32_precision" else on
        assert getattr(matmul, api) == expected
    assert getattr(matmul, api) == before


@pytest.mark.skipif(not NEW_TF32_API, reason="needs torch.backends.cuda.matmul.fp32_precision (torch 2.9 or later)")
def test_after_the_new_api_alone_the_legacy_flag_raises_but_tf32_mode_works(tf32_state):
    matmul = torch.backends.cuda.matmul
    matmul.fp32_precision = "tf32"  # a reader switched TF32 on with the new API
    with pytest.raises(RuntimeError, match="mix of the legacy and new APIs"):
        matmul.allow_tf32
    with tf32_mode(False):
        assert matmul.fp32_precision == "ieee"
    assert matmul.fp32_precision == "tf32"
    matmul.fp32_precision = "none"
    assert matmul.allow_tf32 is False  # one record again: the legacy flag answers


@pytest.mark.parametrize(
    "call, error, message",
    [
        (lambda: strided_batch_params(torch.zeros(3, 4)), ValueError, "at least 3 dims, got 2 dims with shape (3, 4)"),
        (lambda: strided_batch_params(torch.zeros(2, 3, 8)[:, :, ::2]), ValueError, "strides (8, 2): BLAS needs one"),
        (
            lambda: strided_batch_params(torch.zeros(2, 3, 4, 5).transpose(0, 1)),
            ValueError,
            "batch dims (3, 2) with strides (20, 60) cannot be walked with one stride",
        ),
        (
            lambda: strided_batched_gemm(torch.zeros(2, 3, 4), strided_batch_params(torch.zeros(2, 3, 4)),
                                         torch.zeros(3, 4, 5), strided_batch_params(torch.zeros(3, 4, 5))),
            ValueError,
            "A has 2 matrices but B has 3",
        ),
        (
            lambda: strided_batched_gemm(torch.zeros(2, 3, 4), strided_batch_params(torch.zeros(2, 3, 4)),
                                         torch.zeros(2, 5, 4), strided_batch_params(torch.zeros(2, 5, 4))),
            ValueError,
            "the contracted dimension must match (4 != 5)",
        ),
        (lambda: cublas_log_of_bmm("float64"), ValueError, "dtype must be 'float32', 'float16' or 'bfloat16'"),
        (lambda: time_loop_vs_batched(0, 1, 1, 1), ValueError, "B must be a positive int, got 0"),
        (lambda: time_loop_vs_batched(1, True, 1, 1), ValueError, "H must be a positive int, got True"),
        (lambda: time_loop_vs_batched(1, 1, 2.0, 1), ValueError, "L must be a positive int, got 2.0"),
        (lambda: time_loop_vs_batched(1, 1, 1, 1, repeat=0), ValueError, "repeat must be a positive int, got 0"),
    ],
)
def test_bad_input_gets_a_clear_error(call, error, message):
    with pytest.raises(error) as raised:
        call()
    assert message in str(raised.value)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_strided_batch_figure_shows_the_real_tensors(lang):
    svg = ET.fromstring(strided_batch_svg(lang))
    ns = "{http://www.w3.org/2000/svg}"
    cells = [t.text for t in svg.iter(f"{ns}text") if t.get("text-anchor") == "middle" and t.text.isdigit()]
    assert cells == [str(i) for i in range(36)] * 2  # two strips: positions 0..35 in memory
    starts = [int(p.get("data-offset")) for p in svg.iter(f"{ns}path") if p.get("class") == "start"]
    q = torch.arange(36).view(6, 3, 2)  # (B·H, L, D)
    q4 = torch.arange(36).view(2, 3, 3, 2).transpose(1, 2)  # (B, H, L, D) split-heads view
    assert starts[:6] == [q[i].storage_offset() for i in range(6)]
    assert starts[6:] == [q4[b, h].storage_offset() for b, h in itertools.product(range(2), range(3))]
    texts = " ".join(t.text or "" for t in svg.iter(f"{ns}text"))
    assert "(18, 2, 6, 1)" in texts and "(6, 2, 1)" in texts  # strides read from the tensors


@pytest.mark.gpu
def test_cuda_bmm_equals_the_strided_emulation():
    a = torch.randint(-5, 6, (6, 16, 8), device="cuda").float()  # (B·H, L, D)
    b = torch.randint(-5, 6, (6, 16, 8), device="cuda").float().transpose(1, 2)  # (B·H, D, L)
    c = strided_batched_gemm(a, strided_batch_params(a), b, strided_batch_params(b))
    assert c.device.type == "cuda"
    assert torch.equal(c, torch.bmm(a, b))
