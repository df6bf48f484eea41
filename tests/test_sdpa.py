"""Properties of snippets/sdpa.py over many shapes (the page shows one readable example each)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.nn.attention.bias import causal_lower_right

from snippets.masking import causal_mask, padding_mask, to_additive
from snippets.module import MultiHeadAttention
from snippets.sdpa import AttendFixed, SdpaMultiHeadAttention, sdpa_weights, seen_keys

dims = st.integers(min_value=1, max_value=5)


@settings(max_examples=40, deadline=None)
@given(B=dims, H=dims, L=dims, S=dims, D=dims, data=st.data())
def test_sdpa_weights_times_v_is_sdpa(B, H, L, S, D, data):
    g = torch.Generator().manual_seed(B * 1000 + H * 100 + L * 10 + S)
    q, k = torch.randn(B, H, L, D, generator=g), torch.randn(B, H, S, D, generator=g)
    v = torch.randn(B, H, S, D + 1, generator=g)
    lengths = torch.tensor(data.draw(st.lists(st.integers(1, S), min_size=B, max_size=B)))
    mask = padding_mask(lengths, S) & causal_mask(L, S)  # may leave a row empty
    w = sdpa_weights(q, k, mask)
    assert w.shape == (B, H, L, S)
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    assert torch.allclose(w @ v, out, atol=1e-5)
    additive = to_additive(mask, neg_inf=True)
    assert torch.allclose(sdpa_weights(q, k, additive), w, atol=1e-6)


@settings(max_examples=30, deadline=None)
@given(L=dims, extra=st.integers(0, 4))
def test_lower_right_is_tril_shifted(L, extra):
    S = L + extra
    q, k, v = torch.randn(1, 1, L, 4), torch.randn(1, 1, S, 4), torch.randn(1, 1, S, 4)
    bool_mask = torch.ones(L, S, dtype=torch.bool).tril(diagonal=S - L)
    assert torch.allclose(
        F.scaled_dot_product_attention(q, k, v, attn_mask=causal_lower_right(L, S)),
        F.scaled_dot_product_attention(q, k, v, attn_mask=bool_mask),
        atol=1e-6,
    )


def test_module_on_sdpa_matches_hand_written_and_drops_only_in_training():
    torch.manual_seed(0)
    for E, H, L in ((8, 2, 3), (12, 3, 5), (4, 1, 1)):
        mine = MultiHeadAttention(E, H)
        fast = SdpaMultiHeadAttention(E, H, dropout=0.5)
        fast.load_state_dict(mine.state_dict())
        x = torch.randn(2, L, E)
        mask = causal_mask(L)
        out, weights = fast.eval()(x, x, x, mask=mask)
        assert weights is None
        assert torch.allclose(out, mine(x, x, x, mask=mask)[0], atol=1e-6)
        assert not torch.equal(fast.train()(x, x, x, mask=mask)[0], out)
    q = torch.randn(1, 1, 3, 4)
    fixed = AttendFixed(0.5).eval()
    assert torch.equal(fixed(q, q, q), F.scaled_dot_product_attention(q, q, q))


def test_sdpa_weights_errors():
    q = torch.randn(1, 1, 2, 4)
    with pytest.raises(TypeError, match="attn_mask must be bool"):
        sdpa_weights(q, q, torch.ones(2, 2, dtype=torch.int64))
    with pytest.raises(ValueError, match=r"expects a \(B, H, L, D\) tensor"):
        sdpa_weights(q[0], q)
    with pytest.raises(ValueError, match="share B, H and D"):
        sdpa_weights(q, torch.randn(1, 1, 2, 3))


@settings(max_examples=30, deadline=None)
@given(L=dims, S=dims)
def test_seen_keys_reads_both_alignments_out_of_sdpa(L, S):
    ones = torch.ones(L, S, dtype=torch.bool)
    assert torch.equal(seen_keys(L, S, is_causal=True), ones.tril())
    if L <= S:  # lower-right leaves rows with no key when L > S (bias.py warns of NaNs)
        assert torch.equal(seen_keys(L, S, attn_mask=causal_lower_right(L, S)), ones.tril(diagonal=S - L))
    assert torch.equal(seen_keys(L, S), ones)


@pytest.mark.parametrize("L, S", [(0, 3), (2, -1), (1.0, 2), (True, 2)])
def test_seen_keys_errors(L, S):
    with pytest.raises(ValueError, match="must be a positive int"):
        seen_keys(L, S)
