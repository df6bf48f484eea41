"""Properties of snippets/masking.py over many shapes (the page shows one readable example each)."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.nn.attention import SDPBackend, sdpa_kernel

from figures.masking import mask_panels, masks_svg
from snippets.matmul import count_ops
from snippets.mha import attention_path
from snippets.masking import (
    CausalMask,
    causal_mask,
    identity_mha,
    masked_attention,
    padding_mask,
    to_additive,
)

dims = st.integers(min_value=1, max_value=5)
ATOL = 1e-5


def _qkv(B, H, L, S, D, seed):
    g = torch.Generator().manual_seed(seed)
    q = torch.randn(B, H, L, D, generator=g)
    k = torch.randn(B, H, S, D, generator=g)
    v = torch.randn(B, H, S, D + 1, generator=g)  # Dv may differ from D
    return q, k, v


@settings(max_examples=60, deadline=None)
@given(L=dims, S=dims)
def test_causal_mask_is_tril_and_matches_is_causal(L, S):
    allowed = causal_mask(L, S)
    assert allowed.dtype == torch.bool and allowed.shape == (L, S)
    assert torch.equal(allowed, torch.ones(L, S, dtype=torch.bool).tril())
    assert torch.equal(~allowed, torch.ones(L, S, dtype=torch.bool).triu(diagonal=1))
    q, k, v = _qkv(2, 2, L, S, 4, seed=L * 10 + S)
    assert torch.allclose(
        F.scaled_dot_product_attention(q, k, v, attn_mask=allowed),
        F.scaled_dot_product_attention(q, k, v, is_causal=True),
        atol=ATOL,
    )
    assert torch.equal(causal_mask(L), causal_mask(L, L))


@settings(max_examples=60, deadline=None)
@given(data=st.data(), B=dims, S=dims)
def test_padding_mask_keeps_exactly_the_first_lengths_keys(data, B, S):
    lengths = torch.tensor(data.draw(st.lists(st.integers(1, S), min_size=B, max_size=B)))
    keep = padding_mask(lengths, S)
    assert keep.dtype == torch.bool and keep.shape == (B, 1, 1, S)
    assert torch.equal(keep.sum(dim=-1).view(B), lengths)
    for b in range(B):
        n = int(lengths[b])
        assert keep[b, 0, 0, :n].all() and not keep[b, 0, 0, n:].any()


@settings(max_examples=40, deadline=None)
@given(data=st.data(), B=dims, H=dims, L=dims, S=dims)
def test_masked_attention_equals_sdpa(data, B, H, L, S):
    q, k, v = _qkv(B, H, L, S, 4, seed=B + 7 * H + 31 * L + 131 * S)
    lengths = torch.tensor(data.draw(st.lists(st.integers(1, S), min_size=B, max_size=B)))
    pad = padding_mask(lengths, S)  # (B, 1, 1, S)
    expected = F.scaled_dot_product_attention(q, k, v, attn_mask=pad)
    assert torch.allclose(masked_attention(q, k, v, pad), expected, atol=ATOL)
    expected = F.scaled_dot_product_attention(q, k, v, is_causal=True)
    assert torch.allclose(masked_attention(q, k, v, is_causal=True), expected, atol=ATOL)
    both = causal_mask(L, S) & pad  # (B, 1, L, S): key 0 is always allowed, no empty row
    expected = F.scaled_dot_product_attention(q, k, v, attn_mask=both)
    assert torch.allclose(masked_attention(q, k, v, both), expected, atol=ATOL)
    assert masked_attention(q, k, v).shape == (B, H, L, v.shape[-1])


@settings(max_examples=40, deadline=None)
@given(B=dims, H=dims, L=dims, S=dims, seed=st.integers(0, 10_000))
def test_random_masks_with_fully_masked_rows_give_zeros_like_sdpa_on_cpu(B, H, L, S, seed):
    q, k, v = _qkv(B, H, L, S, 3, seed)
    g = torch.Generator().manual_seed(seed + 1)
    mask = torch.rand(B, 1, L, S, generator=g) < 0.4  # (B, 1, L, S), some rows all False
    out = masked_attention(q, k, v, mask)
    assert not torch.isnan(out).any()
    empty = ~mask.any(dim=-1)  # (B, 1, L)
    assert (out.masked_select(empty[..., None].expand_as(out)) == 0).all()
    assert torch.allclose(out, F.scaled_dot_product_attention(q, k, v, attn_mask=mask), atol=ATOL)


@settings(max_examples=30, deadline=None)
@given(B=dims, H=dims, L=dims, S=dims, seed=st.integers(0, 10_000), additive=st.booleans())
def test_both_cpu_backends_give_zeros_for_a_fully_masked_row(B, H, L, S, seed, additive):
    """masking.md#library-full-row: from torch 2.5 on, the math backend (_safe_softmax) and the CPU
    flash kernel both give 0 for a query with no allowed key, with a bool or an additive -inf mask."""
    g = torch.Generator().manual_seed(seed)
    q = torch.randn(B, H, L, 4, generator=g)
    k, v = torch.randn(2, B, H, S, 4, generator=g).unbind(0)
    mask = torch.rand(B, 1, L, S, generator=g) < 0.4  # (B, 1, L, S)
    mask[..., 0, :] = False  # query 0 keeps no key
    attn_mask = to_additive(mask, neg_inf=True) if additive else mask
    expected = masked_attention(q, k, v, mask)
    for backend in (SDPBackend.MATH, SDPBackend.FLASH_ATTENTION):
        with sdpa_kernel(backend):
            out = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask)  # (B, H, L, 4)
        assert torch.equal(out[..., 0, :], torch.zeros(B, H, 4)), backend
        assert torch.allclose(out, expected, atol=ATOL), backend


@settings(max_examples=40, deadline=None)
@given(R=dims, S=dims, seed=st.integers(0, 10_000))
def test_safe_softmax_zeroes_only_the_rows_of_only_minus_inf(R, S, seed):
    """The definition the masking chapter gives of aten::_safe_softmax (attention.cpp)."""
    g = torch.Generator().manual_seed(seed)
    scores = torch.randn(R, S, generator=g)
    masked = torch.rand(R, S, generator=g) < 0.5
    masked[0] = True  # row 0: only -inf
    x = scores.masked_fill(masked, float("-inf"))
    safe, plain = torch.ops.aten._safe_softmax(x, -1), torch.softmax(x, dim=-1)
    empty = masked.all(dim=-1)  # (R,)
    assert plain[empty].isnan().all() and torch.equal(safe[empty], torch.zeros_like(safe[empty]))
    assert torch.equal(safe[~empty], plain[~empty])
    finite = scores.masked_fill(masked, torch.finfo(torch.float32).min)  # finite: not "masked"
    assert torch.allclose(torch.ops.aten._safe_softmax(finite, -1)[0], torch.full((S,), 1 / S))


@pytest.mark.parametrize("E", [1, 2, 4, 8])
def test_identity_mha_never_takes_the_fast_path(E):
    """masking.md#library-full-row: one head and bias=False keep it off the fast path, even in
    eval mode with autograd off."""
    mha = identity_mha(E).eval()
    x = torch.randn(2, 3, E)  # (B, L, E)
    with torch.no_grad():
        path = attention_path(count_ops(lambda: mha(x, x, x)))
    assert mha.in_proj_bias is None and mha.num_heads == 1
    assert path != "fast path"


@settings(max_examples=40, deadline=None)
@given(B=dims, L=dims, S=dims, seed=st.integers(0, 10_000))
def test_to_additive_gives_sdpa_the_same_result_as_the_bool_mask(B, L, S, seed):
    g = torch.Generator().manual_seed(seed)
    mask = torch.rand(B, 1, L, S, generator=g) < 0.5
    mask[..., 0] = True  # every query keeps at least one key
    for dtype in (torch.float32, torch.float64, torch.float16, torch.bfloat16):
        additive = to_additive(mask, dtype)
        assert additive.dtype == dtype and additive.shape == mask.shape
        assert (additive[mask] == 0).all()
        assert (additive[~mask] == torch.finfo(dtype).min).all()
    assert torch.isneginf(to_additive(mask, neg_inf=True)[~mask]).all()
    q, k, v = _qkv(B, 2, L, S, 4, seed)
    assert torch.allclose(
        F.scaled_dot_product_attention(q, k, v, attn_mask=to_additive(mask)),
        F.scaled_dot_product_attention(q, k, v, attn_mask=mask),
        atol=ATOL,
    )


@settings(max_examples=30, deadline=None)
@given(data=st.data(), B=dims, L=dims)
def test_the_five_conventions_agree_on_padding(data, B, L):
    """Seed 004, seed 002, Hugging Face, nn.MultiheadAttention and SDPA give the same weights."""
    D = S = L
    lengths = torch.tensor(data.draw(st.lists(st.integers(1, S), min_size=B, max_size=B)))
    keep = padding_mask(lengths, S)  # (B, 1, 1, S)
    attention_mask = keep.view(B, S).long()  # Hugging Face: 1 = real token
    g = torch.Generator().manual_seed(B * 100 + L)
    x = torch.randn(B, L, D, generator=g)
    q = k = x.view(B, 1, L, D)
    v = torch.eye(S).expand(B, 1, S, S)  # output = weights
    scores = q @ k.transpose(-2, -1) / D**0.5  # (B, 1, L, S)
    reference = torch.softmax(scores.masked_fill(~keep, float("-inf")), dim=-1)
    mask_004 = attention_mask.view(B, 1, 1, S)
    mask_002 = (1 - attention_mask).float().view(B, 1, 1, S)
    candidates = {
        "004": torch.softmax(scores.masked_fill(mask_004 == 0, -1e9), dim=-1),
        "002": torch.softmax(scores + mask_002 * -1e9, dim=-1),
        "hf": torch.softmax(
            scores + (1.0 - attention_mask[:, None, None, :]) * torch.finfo(torch.float32).min, dim=-1
        ),
        "sdpa": F.scaled_dot_product_attention(q, k, v, attn_mask=keep),
        "mha": identity_mha(D)(x, x, x, key_padding_mask=attention_mask == 0)[1].view(B, 1, L, S),
    }
    for name, weights in candidates.items():
        assert torch.allclose(weights, reference, atol=ATOL), name


def test_causal_mask_module_buffer():
    m = CausalMask(4)
    assert list(m.parameters()) == []
    assert "causal" not in m.state_dict()
    assert "causal" in CausalMask(4, persistent=True).state_dict()
    scores = torch.randn(2, 3, 4, 4)
    assert torch.equal(m(scores), scores.masked_fill(~causal_mask(4), float("-inf")))
    assert torch.equal(m(scores[..., :3, :3]), scores[..., :3, :3].masked_fill(~causal_mask(3), float("-inf")))
    assert m.double().causal.dtype == torch.bool
    assert m.to("meta").causal.device.type == "meta"
    with pytest.raises(ValueError, match="built for at most 4"):
        CausalMask(4)(torch.zeros(1, 1, 5, 5))


@pytest.mark.parametrize(
    "call, error, message",
    [
        (lambda: causal_mask(0), ValueError, "L (number of queries) must be a positive int, got 0"),
        (lambda: causal_mask(True), ValueError, "must be a positive int, got True"),
        (lambda: causal_mask(3, -1), ValueError, "S (number of keys) must be a positive int, got -1"),
        (lambda: padding_mask(torch.tensor([1, 5]), 4), ValueError, "between 1 and S=4, got [1, 5]"),
        (lambda: padding_mask(torch.tensor([0]), 4), ValueError, "between 1 and S=4, got [0]"),
        (lambda: padding_mask([1, 2], 4), ValueError, "got list"),
        (lambda: padding_mask(torch.tensor([True]), 4), TypeError, "must hold integers, got dtype torch.bool"),
        (lambda: padding_mask(torch.tensor([2]), 0), ValueError, "S (padded length) must be a positive int"),
        (lambda: to_additive(torch.ones(2, 2)), TypeError, "expects a bool mask (True = allowed), got torch.float32"),
        (lambda: to_additive(torch.ones(2, 2, dtype=torch.bool), torch.bool), TypeError, "floating-point dtype"),
        (lambda: masked_attention(*_qkv(1, 1, 2, 3, 4, 0)[:2], torch.zeros(1, 1, 2, 5)), ValueError,
         "k and v must have the same number of keys, got k S=3 and v S=2"),
        (lambda: masked_attention(torch.zeros(2, 1, 3, 4), torch.zeros(1, 1, 3, 4), torch.zeros(1, 1, 3, 4)),
         ValueError, "must share (B, H) = (2, 1)"),
        (lambda: masked_attention(*_qkv(1, 1, 2, 3, 4, 0), torch.ones(2, 3)), TypeError,
         "mask must be a bool tensor (True = take part), got dtype torch.float32"),
        (lambda: masked_attention(*_qkv(1, 1, 2, 3, 4, 0), torch.ones(3, 2, dtype=torch.bool)), ValueError,
         "mask of shape (3, 2) does not broadcast to the scores (B, H, L, S) = (1, 1, 2, 3)"),
        (lambda: masked_attention(*_qkv(1, 1, 2, 3, 4, 0), torch.ones(2, 1, 1, 2, 3, dtype=torch.bool)), ValueError,
         "does not broadcast"),
        (lambda: masked_attention(*_qkv(1, 1, 2, 3, 4, 0), torch.ones(2, 3, dtype=torch.bool), is_causal=True),
         ValueError, "not both"),
    ],
)
def test_bad_input_gets_a_clear_error(call, error, message):
    with pytest.raises(error) as raised:
        call()
    assert message in str(raised.value)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_masks_figure_shows_the_real_masks(lang):
    svg = ET.fromstring(masks_svg(lang))
    ns = "{http://www.w3.org/2000/svg}"
    cells = [t.text for t in svg.iter(f"{ns}text") if t.get("text-anchor") == "middle" and t.text in ("0", "1")]
    panels = mask_panels()
    expected = [str(int(v)) for grid in panels.values() for v in grid.flatten().tolist()]
    assert cells == expected
    assert torch.equal(panels["causal"], causal_mask(4))
    assert torch.equal(panels["both"], panels["causal"] & panels["padding"])
    assert panels["left"].any(dim=-1).tolist() == [False, False, True, True]  # two fully masked rows
    red = [r for r in svg.iter(f"{ns}rect") if r.get("stroke") == "#c0392b"]
    assert len(red) == 2
