"""Properties of snippets/module.py over many shapes (the page shows one readable example each).

The central claim: with the same weights, ``MultiHeadAttention`` equals ``nn.MultiheadAttention``
(both ``batch_first`` settings, every mask form it accepts, with and without ``need_weights``),
its core equals ``F.scaled_dot_product_attention``, and the packed module equals the unpacked one.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from figures.module import flow_steps, module_flow_svg
from snippets.masking import causal_mask, padding_mask
from snippets.module import (
    MultiHeadAttention,
    PackedSelfAttention,
    attention,
    combine_heads_004,
    combine_heads_without_d_k,
    load_from_torch,
    pack,
)
from snippets.shapes import merge_heads

ATOL = 1e-5
small = st.integers(min_value=1, max_value=5)
heads = st.integers(min_value=1, max_value=4)
seeds = st.integers(min_value=0, max_value=2**31 - 1)
MASK_KINDS = ("none", "key_padding", "attn_2d", "attn_3d", "causal_and_padding")


def random_mask(shape, g, keep_one=True):
    """Random bool mask (True = allowed); with keep_one every query row keeps at least one key."""
    allowed = torch.rand(shape, generator=g) < 0.6
    if keep_one:
        index = torch.randint(shape[-1], shape[:-1] + (1,), generator=g)
        allowed = allowed.scatter(-1, index, True)
    return allowed


def masks_for(kind, B, H, L, S, g):
    """Our mask (True = allowed) and the equivalent nn.MultiheadAttention kwargs (True = NOT allowed)."""
    if kind == "none":
        return None, {}
    if kind == "key_padding":
        lengths = torch.randint(1, S + 1, (B,), generator=g)
        pad = padding_mask(lengths, S)  # (B, 1, 1, S)
        return pad, {"key_padding_mask": ~pad.view(B, S)}
    if kind == "attn_2d":
        allowed = random_mask((L, S), g)  # (L, S)
        return allowed, {"attn_mask": ~allowed}
    if kind == "attn_3d":
        allowed = random_mask((B, H, L, S), g)  # (B, H, L, S)
        return allowed, {"attn_mask": ~allowed.reshape(B * H, L, S)}
    if kind == "causal_and_padding":
        lengths = torch.randint(1, S + 1, (B,), generator=g)
        causal, pad = causal_mask(L, S), padding_mask(lengths, S)
        return causal & pad, {"attn_mask": ~causal, "key_padding_mask": ~pad.view(B, S)}
    raise AssertionError(kind)


def torch_pair(E, H, batch_first, seed):
    """An nn.MultiheadAttention with random (non-zero) biases and our module with its weights."""
    torch.manual_seed(seed)
    theirs = nn.MultiheadAttention(E, H, batch_first=batch_first).eval()
    with torch.no_grad():
        theirs.in_proj_bias.normal_()
        theirs.out_proj.bias.normal_()
    return theirs, load_from_torch(MultiHeadAttention(E, H), theirs)


@settings(max_examples=150, deadline=None)
@given(B=small, L=small, S=small, H=heads, D=heads, batch_first=st.booleans(),
       kind=st.sampled_from(MASK_KINDS), need_weights=st.booleans(), seed=seeds)
def test_equals_nn_multihead_attention(B, L, S, H, D, batch_first, kind, need_weights, seed):
    E = H * D
    theirs, mine = torch_pair(E, H, batch_first, seed)
    g = torch.Generator().manual_seed(seed)
    query, key, value = (torch.randn(B, n, E, generator=g) for n in (L, S, S))
    mask, kwargs = masks_for(kind, B, H, L, S, g)

    out_m, w_m = mine(query, key, value, mask=mask)
    args = (query, key, value) if batch_first else tuple(t.transpose(0, 1) for t in (query, key, value))
    out_t, w_t = theirs(*args, need_weights=need_weights, average_attn_weights=False, **kwargs)
    if not batch_first:
        out_t = out_t.transpose(0, 1)  # (L, B, E) -> (B, L, E)
    assert out_m.shape == out_t.shape == (B, L, E)
    assert torch.allclose(out_m, out_t, atol=ATOL)
    if need_weights:
        assert w_m.shape == w_t.shape == (B, H, L, S)
        assert torch.allclose(w_m, w_t, atol=ATOL)
        _, w_avg = theirs(*args, average_attn_weights=True, **kwargs)
        assert torch.allclose(w_m.mean(dim=1), w_avg, atol=ATOL)
    else:
        assert w_t is None


@settings(max_examples=60, deadline=None)
@given(B=small, L=small, S=small, H=heads, D=heads, seed=seeds)
def test_fully_masked_rows_match_the_sdpa_path(B, L, S, H, D, seed):
    """A query with no allowed key: ours gives weights 0, so the output is out_proj's bias, exactly
    what nn.MultiheadAttention's need_weights=False (SDPA) path gives."""
    E = H * D
    theirs, mine = torch_pair(E, H, True, seed)
    g = torch.Generator().manual_seed(seed)
    query, key = torch.randn(B, L, E, generator=g), torch.randn(B, S, E, generator=g)
    allowed = random_mask((L, S), g, keep_one=False)
    allowed[0] = False  # at least one fully masked query row
    out_m, w_m = mine(query, key, key, mask=allowed)
    out_t, _ = theirs(query, key, key, attn_mask=~allowed, need_weights=False)
    assert torch.allclose(out_m, out_t, atol=ATOL)
    assert torch.equal(w_m[:, :, 0], torch.zeros(B, H, S))
    assert torch.allclose(out_m[:, 0], mine.out_proj.bias.expand(B, E))
    assert not torch.isnan(out_m).any()


@settings(max_examples=100, deadline=None)
@given(B=small, H=heads, L=small, S=small, D=small, seed=seeds,
       shape=st.sampled_from(["L,S", "B,1,1,S", "B,1,L,S", "B,H,L,S", "1,H,1,S", "none"]))
def test_core_equals_scaled_dot_product_attention(B, H, L, S, D, seed, shape):
    g = torch.Generator().manual_seed(seed)
    q, k, v = torch.randn(B, H, L, D, generator=g), torch.randn(B, H, S, D, generator=g), torch.randn(B, H, S, D, generator=g)
    sizes = {"B": B, "H": H, "L": L, "S": S, "1": 1}
    mask = None if shape == "none" else random_mask(tuple(sizes[n] for n in shape.split(",")), g, keep_one=False)
    out, weights = attention(q, k, v, mask)
    assert out.shape == (B, H, L, D) and weights.shape == (B, H, L, S)
    assert torch.allclose(out, F.scaled_dot_product_attention(q, k, v, attn_mask=mask), atol=ATOL)
    assert not torch.isnan(weights).any()
    row_sums = weights.sum(dim=-1)  # 1 for a query with an allowed key, 0 for one without
    expected = torch.ones(B, H, L) if mask is None else mask.any(dim=-1).expand(B, H, L).float()
    assert torch.allclose(row_sums, expected, atol=ATOL)


@settings(max_examples=80, deadline=None)
@given(B=small, L=small, E=st.integers(1, 12), H=heads, D=st.integers(1, 6), causal=st.booleans(), seed=seeds)
def test_packed_equals_unpacked_for_any_head_dim(B, L, E, H, D, causal, seed):
    torch.manual_seed(seed)
    mine = MultiHeadAttention(E, H, head_dim=D)  # H·D need not equal E
    packed = pack(mine)
    assert packed.qkv_proj.weight.shape == (3 * H * D, E)
    assert torch.equal(packed.qkv_proj.weight, torch.cat([mine.q_proj.weight, mine.k_proj.weight, mine.v_proj.weight]))
    x = torch.randn(B, L, E)
    mask = causal_mask(L) if causal else None
    out_p, w_p = packed(x, mask=mask)
    out_m, w_m = mine(x, x, x, mask=mask)
    assert out_p.shape == (B, L, E) and w_p.shape == (B, H, L, L)
    assert torch.allclose(out_p, out_m, atol=ATOL) and torch.allclose(w_p, w_m, atol=ATOL)


@settings(max_examples=40, deadline=None)
@given(B=small, L=small, H=heads, D=heads, seed=seeds)
def test_packed_weight_is_in_proj_weight_and_matches_the_fast_path(B, L, H, D, seed):
    """nn.MultiheadAttention's in_proj_weight is the packed layout; in inference mode with
    query = key = value it takes its fused fast path, which gives the same result too."""
    E = H * D
    theirs, mine = torch_pair(E, H, True, seed)
    packed = pack(mine)
    assert torch.equal(packed.qkv_proj.weight, theirs.in_proj_weight)
    assert torch.equal(packed.qkv_proj.bias, theirs.in_proj_bias)
    x = torch.randn(B, L, E)
    with torch.inference_mode():
        out_t, _ = theirs(x, x, x, need_weights=False)
        out_p, _ = packed(x)
    assert torch.allclose(out_p, out_t, atol=ATOL)


@pytest.mark.parametrize(
    "call, error, message",
    [
        (lambda m, q, kv: MultiHeadAttention(10, 4), ValueError, "embed_dim=10 is not divisible by num_heads=4"),
        (lambda m, q, kv: MultiHeadAttention(0, 1), ValueError, "embed_dim must be a positive int, got 0"),
        (lambda m, q, kv: MultiHeadAttention(8, 2.0), ValueError, "num_heads must be a positive int, got 2.0"),
        (lambda m, q, kv: MultiHeadAttention(8, True), ValueError, "num_heads must be a positive int, got True"),
        (lambda m, q, kv: MultiHeadAttention(8, 2, head_dim=0), ValueError, "head_dim must be a positive int, got 0"),
        (lambda m, q, kv: PackedSelfAttention(6, 4), ValueError, "embed_dim=6 is not divisible by num_heads=4"),
        (lambda m, q, kv: m(q.numpy(), kv, kv), TypeError, "query must be a torch.Tensor, got ndarray"),
        (lambda m, q, kv: m(q[0], kv, kv), ValueError, "query must be a 3-D (B, length, E) tensor"),
        (lambda m, q, kv: m(q, kv[..., None], kv), ValueError, "key must be a 3-D (B, length, E) tensor"),
        (lambda m, q, kv: m(q, kv, kv[..., :4]), ValueError, "value must have embed_dim=8 features"),
        (lambda m, q, kv: m(q, kv[:1], kv[:1]), ValueError, "the same batch size B=2"),
        (lambda m, q, kv: m(q, kv, kv[:, :2]), ValueError, "got key S=4 and value S=2"),
        (lambda m, q, kv: m(q, kv, kv, mask=torch.ones(3, 4)), TypeError, "got torch.float32"),
        (lambda m, q, kv: m(q, kv, kv, mask=[[True]]), TypeError, "got list"),
        (lambda m, q, kv: m(q, kv, kv, mask=torch.ones(2, 4, dtype=torch.bool)), ValueError, "mask of shape (2, 4)"),
        (lambda m, q, kv: m(q, kv, kv, mask=torch.ones(4, 3, dtype=torch.bool)), ValueError, "(B, H, L, S) = (2, 2, 3, 4)"),
        (lambda m, q, kv: pack(m)(torch.zeros(2, 3, 7)), ValueError, "query must have embed_dim=8"),
        (lambda m, q, kv: load_from_torch(m, nn.MultiheadAttention(8, 4)), ValueError, "ours (8, 2, 4), nn.MultiheadAttention (8, 4, 2)"),
        (lambda m, q, kv: load_from_torch(m, nn.MultiheadAttention(8, 2, bias=False)), ValueError, "same bias="),
        (lambda m, q, kv: load_from_torch(m, nn.MultiheadAttention(8, 2, kdim=5)), ValueError, "without kdim/vdim"),
    ],
)
def test_bad_input_gets_a_clear_error(call, error, message):
    mha = MultiHeadAttention(8, 2)
    query, memory = torch.zeros(2, 3, 8), torch.zeros(2, 4, 8)
    with pytest.raises(error) as raised:
        call(mha, query, memory)
    assert message in str(raised.value)


def test_a_mask_that_broadcasts_to_the_scores_is_accepted_in_every_form():
    mha = MultiHeadAttention(8, 2)
    query, memory = torch.randn(2, 3, 8), torch.randn(2, 4, 8)
    full = random_mask((2, 2, 3, 4), torch.Generator().manual_seed(0))
    for mask in (full, full[:, :1], full[:1, :1, :1], full[0, 0], full[0, 0, 0]):
        out, weights = mha(query, memory, memory, mask=mask)
        expected = mha(query, memory, memory, mask=mask.expand(2, 2, 3, 4).contiguous())
        assert torch.equal(out, expected[0]) and torch.equal(weights, expected[1])


def test_the_misspelled_forward_raises_not_implemented():
    from snippets.module import SeedTypo

    with pytest.raises(NotImplementedError, match=r'Module \[SeedTypo\] is missing the required "forward" function'):
        SeedTypo(4)(torch.zeros(1, 4))


@settings(max_examples=40, deadline=None)
@given(B=small, H=heads, L=small, D=heads)
def test_seed_004_combine_heads_does_not_need_d_k(B, H, L, D):
    x = torch.randn(B, H, L, D)
    size = x.size()
    assert isinstance(size, tuple) and tuple(size) == (B, H, L, D)
    a, b = combine_heads_004(x, H * D), combine_heads_without_d_k(x, H * D)
    assert torch.equal(a, b) and torch.equal(a, merge_heads(x))


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_flow_figure_shows_the_real_shapes(lang):
    steps = flow_steps()  # runs the module and checks it against its own forward pass
    svg = ET.fromstring(module_flow_svg(lang))
    texts = [t.text or "" for t in svg.iter("{http://www.w3.org/2000/svg}text")]
    for _, _, symbolic, shape in steps:
        real = "(" + ", ".join(str(n) for n in shape) + ")"
        assert f"{symbolic} = {real}" in texts
    assert ("(B, H, L, S)", (2, 2, 3, 4)) in [(s, shape) for _, _, s, shape in steps]
    assert ("(B, L, E)", (2, 3, 8)) == tuple(steps[-1][2:])


def test_inference_mode_self_attention_takes_the_fast_path():
    """The path compared in the previous test is aten::_native_multi_head_attention."""
    mha = nn.MultiheadAttention(8, 2, batch_first=True).eval()
    x = torch.randn(2, 3, 8)
    with torch.inference_mode(), torch.profiler.profile() as prof:
        mha(x, x, x, need_weights=False)
    assert "aten::_native_multi_head_attention" in {e.key for e in prof.key_averages()}
