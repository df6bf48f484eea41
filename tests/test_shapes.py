"""Properties of snippets/shapes.py over many shapes (the pages show one readable example each)."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.nn.attention import SDPBackend, sdpa_kernel

from figures.shapes import split_heads_svg
from snippets.shapes import merge_heads, split_heads, split_qkv

dims = st.integers(min_value=1, max_value=5)


@settings(max_examples=60, deadline=None)
@given(B=dims, L=dims, H=dims, D=dims)
def test_split_heads_is_a_view_equal_to_slicing_per_head(B, L, H, D):
    E = H * D
    x = torch.randn(B, L, E)
    q = split_heads(x, H)
    assert q.shape == (B, H, L, D)
    assert q.data_ptr() == x.data_ptr()  # a view: nothing copied
    assert q.stride() == (L * H * D, D, H * D, 1)  # memory still B -> L -> H -> D
    for h in range(H):
        assert torch.equal(q[:, h], x[:, :, h * D : (h + 1) * D])
    assert torch.equal(merge_heads(q), x)


@settings(max_examples=60, deadline=None)
@given(B=dims, L=dims, H=dims, D=dims)
def test_split_heads_is_contiguous_exactly_with_one_head_or_one_token(B, L, H, D):
    q = split_heads(torch.randn(B, L, H * D), H)  # (B, H, L, D)
    assert q.is_contiguous() == (H == 1 or L == 1)
    # is_contiguous(): row-major strides in every dim of size > 1; dims of size 1 do not count
    pairs = zip(q.shape, q.stride(), torch.empty(q.shape).stride())  # row-major strides
    assert q.is_contiguous() == all(s == r for n, s, r in pairs if n > 1)
    if q.is_contiguous():
        assert q.contiguous() is q
        assert q.view(B * H, L, D).data_ptr() == q.data_ptr()  # merges B and H, no copy


def attention_outputs(B, L, H, D):
    """Attention of three split_heads views, computed three ways on the CPU."""
    q, k, v = (split_heads(t, H) for t in torch.randn(3, B, L, H * D))  # (B, H, L, D)
    sdpa = F.scaled_dot_product_attention(q, k, v)  # the default choice
    with sdpa_kernel(SDPBackend.MATH):
        math = F.scaled_dot_product_attention(q, k, v)
    bmm = torch.softmax(q @ k.transpose(-2, -1) / D**0.5, dim=-1) @ v
    return q, {"sdpa": sdpa, "math": math, "bmm": bmm}


@settings(max_examples=60, deadline=None)
@given(B=dims, L=dims, H=dims, D=dims)
def test_sdpa_on_the_cpu_keeps_the_query_layout_so_merge_heads_is_a_view(B, L, H, D):
    q, out = attention_outputs(B, L, H, D)
    assert out["sdpa"].stride() == q.stride() == (L * H * D, D, H * D, 1)
    assert merge_heads(out["sdpa"]).data_ptr() == out["sdpa"].data_ptr()
    for name in ("math", "bmm"):  # matmul writes a new contiguous (B, H, L, D) tensor
        assert out[name].is_contiguous(), name
        viewed = merge_heads(out[name]).data_ptr() == out[name].data_ptr()
        assert viewed == (H == 1 or L == 1 or D == 1), name
    for name in ("math", "bmm"):
        same = torch.allclose(merge_heads(out[name]), merge_heads(out["sdpa"]), atol=1e-5)
        assert same, name


@settings(max_examples=60, deadline=None)
@given(B=dims, L=dims, H=dims, D=dims)
def test_merge_heads_copies_a_contiguous_input_when_heads_must_interleave(B, L, H, D):
    out = torch.randn(B, H, L, D)  # contiguous, like the output of a matmul
    merged = merge_heads(out)
    assert merged.shape == (B, L, H * D)
    assert torch.equal(merged, out.transpose(1, 2).contiguous().view(B, L, H * D))
    # A copy is unavoidable unless H or L is 1 (transposing then changes no order) or D is 1
    # (merging with a size-1 dim needs no common stride): reshape returns a view exactly then.
    assert (merged.data_ptr() == out.data_ptr()) == (H == 1 or L == 1 or D == 1)


@settings(max_examples=60, deadline=None)
@given(B=dims, L=dims, H=dims, D=dims)
def test_split_qkv_matches_three_split_heads(B, L, H, D):
    E = H * D
    qkv = torch.randn(B, L, 3 * E)
    q, k, v = split_qkv(qkv, H)
    for i, t in enumerate((q, k, v)):
        assert torch.equal(t, split_heads(qkv[:, :, i * E : (i + 1) * E], H))
        assert t.untyped_storage().data_ptr() == qkv.untyped_storage().data_ptr()


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: split_heads(torch.zeros(2, 3), 1), "expects a (B, L, E) tensor, got 2 dims"),
        (lambda: split_heads(torch.zeros(1, 2, 3, 4), 2), "expects a (B, L, E) tensor, got 4 dims"),
        (lambda: split_heads(torch.zeros(1, 2, 6), 4), "E=6 is not divisible by num_heads=4"),
        (lambda: split_heads(torch.zeros(1, 2, 6), 0), "num_heads must be a positive int, got 0"),
        (lambda: split_heads(torch.zeros(1, 2, 6), 2.0), "num_heads must be a positive int, got 2.0"),
        (lambda: split_heads(torch.zeros(1, 2, 6), True), "num_heads must be a positive int, got True"),
        (lambda: merge_heads(torch.zeros(1, 2, 6)), "expects a (B, H, L, D) tensor, got 3 dims"),
        (lambda: split_qkv(torch.zeros(1, 2, 8), 2), "8 is not divisible by 3 * 2 = 6"),
        (lambda: split_qkv(torch.zeros(2, 6), 1), "expects a (B, L, 3E) tensor, got 2 dims"),
    ],
)
def test_bad_input_gets_a_clear_value_error(call, message):
    with pytest.raises(ValueError) as error:
        call()
    assert message in str(error.value)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_split_heads_figure_shows_the_real_tensors(lang):
    svg = ET.fromstring(split_heads_svg(lang, L=3, H=2, D=2))
    ns = "{http://www.w3.org/2000/svg}"
    cells = [t.text for t in svg.iter(f"{ns}text") if t.get("text-anchor") == "middle" and t.text.isdigit()]
    storage, rest = cells[:12], cells[12:]
    assert storage == [str(i) for i in range(12)]  # memory of x, in order
    x = torch.arange(12).view(1, 3, 4)
    right = split_heads(x, 2)[0].flatten().tolist()  # head 0 then head 1, row by row
    wrong = x.reshape(1, 2, 3, 2)[0].flatten().tolist()
    assert rest[:12] == [str(v) for v in right]
    assert rest[12:24] == [str(v) for v in wrong]
    texts = " ".join(t.text or "" for t in svg.iter(f"{ns}text"))
    assert "(12, 2, 4, 1)" in texts  # split_heads' strides, read from the tensor
