"""Properties of snippets/gqa.py over many shapes (the page shows one readable example each)."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from figures.gqa import H as FIG_H, HKV as FIG_HKV, T as FIG_T
from figures.gqa import cache_bytes, cache_steps, cache_svg, head_maps, heads_svg
from snippets.gqa import check_groups, expand_kv, gqa_attention, kv_bytes_per_token
from snippets.masking import masked_attention
from snippets.matmul import count_ops, matmul_ops

dims = st.integers(min_value=1, max_value=4)
ATOL = 1e-5


def _gqa_inputs(B, Hkv, G, L, S, D, seed):
    g = torch.Generator().manual_seed(seed)
    q = torch.randn(B, Hkv * G, L, D, generator=g)
    k = torch.randn(B, Hkv, S, D, generator=g)
    v = torch.randn(B, Hkv, S, D + 1, generator=g)  # Dv may differ from D
    return q, k, v


def _by_definition(q, k, v, causal=False):
    """Head by head: query head h uses kv head h // G."""
    H, Hkv = q.shape[1], k.shape[1]
    G = H // Hkv
    outs = []
    for h in range(H):
        scores = q[:, h] @ k[:, h // G].mT / q.shape[-1] ** 0.5  # (B, L, S)
        if causal:
            L, S = scores.shape[-2:]
            scores = scores.masked_fill(~torch.ones(L, S, dtype=torch.bool).tril(), float("-inf"))
        outs.append(torch.softmax(scores, dim=-1) @ v[:, h // G])
    return torch.stack(outs, dim=1)


@settings(max_examples=60, deadline=None)
@given(B=dims, Hkv=dims, G=dims, S=dims, D=dims)
def test_expand_kv_is_repeat_interleave_and_reads_head_h_div_g(B, Hkv, G, S, D):
    kv = torch.randn(B, Hkv, S, D)
    out = expand_kv(kv, Hkv * G)
    assert out.shape == (B, Hkv * G, S, D)
    assert torch.equal(out, kv.repeat_interleave(G, dim=1))
    for h in range(Hkv * G):
        assert torch.equal(out[:, h], kv[:, h // G])


@settings(max_examples=60, deadline=None)
@given(B=dims, Hkv=dims, G=dims, L=dims, S=dims, D=dims, causal=st.booleans(), seed=st.integers(0, 2**16))
def test_gqa_attention_matches_the_definition_expand_and_sdpa(B, Hkv, G, L, S, D, causal, seed):
    q, k, v = _gqa_inputs(B, Hkv, G, L, S, D, seed)
    out = gqa_attention(q, k, v, is_causal=causal)
    assert out.shape == (B, Hkv * G, L, D + 1)
    assert torch.allclose(out, _by_definition(q, k, v, causal), atol=ATOL)
    H = Hkv * G
    expanded = masked_attention(q, expand_kv(k, H), expand_kv(v, H), is_causal=causal)
    assert torch.allclose(out, expanded, atol=ATOL)
    sdpa = F.scaled_dot_product_attention(q, k, v, is_causal=causal, enable_gqa=True)
    assert torch.allclose(out, sdpa, atol=ATOL)


@pytest.mark.parametrize("Hkv, G", [(2, 2), (2, 4), (4, 2), (3, 3)])
def test_repeat_gives_the_wrong_grouping_whenever_there_are_several_groups(Hkv, G):
    q, k, v = _gqa_inputs(1, Hkv, G, 3, 4, 5, seed=0)
    wrong = masked_attention(q, k.repeat(1, G, 1, 1), v.repeat(1, G, 1, 1))
    assert not torch.allclose(wrong, _by_definition(q, k, v), atol=ATOL)
    # with one group (Hkv = 1, MQA) or one head per group (G = 1, MHA) the orders agree
    for Hkv1, G1 in ((1, G), (Hkv, 1)):
        q1, k1, v1 = _gqa_inputs(1, Hkv1, G1, 3, 4, 5, seed=1)
        same = masked_attention(q1, k1.repeat(1, G1, 1, 1), v1.repeat(1, G1, 1, 1))
        assert torch.allclose(same, _by_definition(q1, k1, v1), atol=ATOL)


@pytest.mark.parametrize("B, Hkv, G, L, S, D", [(1, 2, 4, 1, 7, 8), (2, 1, 8, 5, 5, 4), (3, 4, 2, 6, 3, 2)])
def test_gqa_attention_copies_neither_k_nor_v(B, Hkv, G, L, S, D):
    q, k, v = _gqa_inputs(B, Hkv, G, L, S, D, seed=2)
    assert matmul_ops(count_ops(gqa_attention, q, k, v)) == {"aten::bmm": 2}


def test_expand_kv_copies_only_when_g_is_above_one():
    kv = torch.randn(2, 3, 4, 5)
    assert expand_kv(kv, 3).data_ptr() == kv.data_ptr()  # G = 1: reshape of a plain view
    assert expand_kv(kv, 6).data_ptr() != kv.data_ptr()


@pytest.mark.parametrize(
    "H, Hkv, message",
    [
        (6, 4, "H=6 query heads cannot be split into groups over Hkv=4"),
        (2, 3, "H must be a multiple of Hkv"),
        (0, 1, "H (query heads) must be a positive int"),
        (4, 0, "Hkv (key/value heads) must be a positive int"),
    ],
)
def test_check_groups_errors(H, Hkv, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        check_groups(H, Hkv)


def test_gqa_attention_input_errors():
    q, k, v = _gqa_inputs(2, 2, 2, 3, 4, 5, seed=3)
    with pytest.raises(ValueError, match="expects a"):
        gqa_attention(q[0], k, v)
    with pytest.raises(ValueError, match="must have the same"):
        gqa_attention(q, k, v[:, :, :2])
    with pytest.raises(ValueError, match="and q the same B"):
        gqa_attention(q[:1], k, v)
    with pytest.raises(ValueError, match="head_dim"):
        gqa_attention(q[..., :3], k, v)
    with pytest.raises(ValueError, match="multiple of Hkv"):
        gqa_attention(q[:, :3], k, v)
    with pytest.raises(ValueError, match="expects a"):
        expand_kv(k[0], 4)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16])
@pytest.mark.parametrize("layers, Hkv, D", [(1, 1, 1), (32, 8, 128), (80, 8, 128), (2, 3, 5)])
def test_kv_bytes_per_token_is_the_nbytes_of_one_tokens_k_and_v(layers, Hkv, D, dtype):
    k = torch.empty(layers, 1, Hkv, 1, D, dtype=dtype)  # one token's K in every layer
    assert kv_bytes_per_token(layers, Hkv, D, dtype) == 2 * k.nbytes


def test_kv_bytes_per_token_rejects_non_positive_sizes():
    with pytest.raises(ValueError, match="layers must be a positive int"):
        kv_bytes_per_token(0, 8, 128, torch.float16)


@pytest.mark.parametrize("Hkv, G, T", [(1, 4, 6), (2, 2, 5), (4, 1, 3)])
def test_cached_decoding_equals_full_causal_attention(Hkv, G, T):
    B, D = 2, 4
    q, k, v = _gqa_inputs(B, Hkv, G, T, T, D, seed=4)
    k_buf, v_buf = torch.zeros_like(k), torch.zeros_like(v)
    outs = []
    for t in range(T):
        k_buf[:, :, t], v_buf[:, :, t] = k[:, :, t], v[:, :, t]
        outs.append(gqa_attention(q[:, :, t : t + 1], k_buf[:, :, : t + 1], v_buf[:, :, : t + 1]))
    assert torch.allclose(torch.cat(outs, dim=2), gqa_attention(q, k, v, is_causal=True), atol=ATOL)


def test_figure_shows_the_real_head_maps():
    maps = head_maps()
    G = FIG_H // FIG_HKV
    assert maps["expand"] == [h // G for h in range(FIG_H)]
    assert maps["repeat"] == [h % FIG_HKV for h in range(FIG_H)]
    for lang in ("zh", "en"):
        root = ET.fromstring(heads_svg(lang))
        assert float(root.get("width")) <= 360
        ns = "{http://www.w3.org/2000/svg}"
        cells = [int(t.text) for t in root.iter(f"{ns}text") if t.get("style") and t.get("y") != "42"]
        assert cells == maps["expand"] + maps["repeat"]


def test_cache_figure_reads_the_real_writes():
    """torch.cat writes the whole cache every step; in place, one new position a step. The totals
    are the page's: 960 and 320 bytes."""
    steps = cache_steps()
    for t, row in enumerate(steps["cat"]):
        assert row == ["new"] * (t + 1) + [None] * (FIG_T - t - 1)
    for t, row in enumerate(steps["inplace"]):
        assert row == ["kept"] * t + ["new"] + ["free"] * (FIG_T - t - 1)
    assert (cache_bytes(steps["cat"]), cache_bytes(steps["inplace"])) == (960, 320)
    for lang in ("zh", "en"):
        svg_text = cache_svg(lang)
        assert float(ET.fromstring(svg_text).get("width")) <= 360
        assert "960" in svg_text and "320" in svg_text
