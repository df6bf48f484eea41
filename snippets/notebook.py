"""Notebook — build multi-head attention step by step, checking every shape
(逐步构建多头注意力，检查每一个形状).

Included cell by cell by ``notebooks/notebook.zh.md`` and
``notebooks/notebook.en.md``, the sources of the site's Jupyter notebook. The
notebook defines its functions by including the chapters' own sections
(``snippets/shapes.py``, ``snippets/masking.py``, ``snippets/module.py``); the
sections below are the cells in between, which build small tensors, print
their shapes and ``assert`` what each step promises. Names follow the math: B
batch, L query length, S key length, E hidden size, H heads, D head_dim.

Run this file (``python -m snippets.notebook``) to run every check without
Jupyter: here the chapters' functions are imported instead of included.
"""

from snippets.masking import causal_mask, padding_mask
from snippets.module import (
    MultiHeadAttention, attention, attention_scores, attention_weights,
    load_from_torch, mask_scores,
)
from snippets.shapes import merge_heads, split_heads, split_qkv


def main() -> None:
    """Every cell below, in notebook order, in one namespace
    (the body of this function)."""
    # --8<-- [start:setup]
    import math

    import torch
    import torch.nn as nn

    torch.manual_seed(0)
    # batch, query length, key length, hidden size, heads
    B, L, S, E, H = 2, 3, 4, 8, 2
    D = E // H  # head_dim: every head gets E // H = 4 features
    print(
        f"torch {torch.__version__}: B={B}, L={L}, S={S}, E={E}, H={H}, D={D}"
    )
    # --8<-- [end:setup]

    # --8<-- [start:check_split_merge]
    x = torch.randn(B, L, E)  # (B, L, E)
    heads = split_heads(x, H)  # (B, L, E) -> (B, H, L, D)
    print(
        "split_heads:", tuple(x.shape), "->", tuple(heads.shape), "strides",
        heads.stride(),
    )
    assert heads.shape == (B, H, L, D)
    assert heads.data_ptr() == x.data_ptr()  # a view: nothing was copied
    # head 1 = features D..2D-1 of every token
    assert torch.equal(heads[:, 1], x[:, :, D : 2 * D])
    merged = merge_heads(heads)  # (B, H, L, D) -> (B, L, E)
    print("merge_heads:", tuple(heads.shape), "->", tuple(merged.shape))
    assert merged.shape == (B, L, E)
    assert torch.equal(merged, x)  # merging undoes splitting
    # --8<-- [end:check_split_merge]

    # --8<-- [start:check_split_qkv]
    # one projection for q, k and v: weight (3E, E)
    qkv_proj = nn.Linear(E, 3 * E)
    qkv = qkv_proj(x)  # (B, L, E) -> (B, L, 3E)
    q, k, v = split_qkv(qkv, H)  # (B, L, 3E) -> three (B, H, L, D) views
    print("split_qkv:", tuple(qkv.shape), "->", 3, "x", tuple(q.shape))
    assert q.shape == k.shape == v.shape == (B, H, L, D)
    # k, head 0 = features E..E+D-1
    assert torch.equal(k[:, 0], qkv[:, :, E : E + D])
    assert q.data_ptr() == qkv.data_ptr()  # views of the projection's output
    # --8<-- [end:check_split_qkv]

    # --8<-- [start:check_projections]
    query = torch.randn(B, L, E)  # (B, L, E): the queries come from here
    # (B, S, E): the keys and values come from here
    memory = torch.randn(B, S, E)
    q_proj = nn.Linear(E, H * D)
    k_proj = nn.Linear(E, H * D)
    v_proj = nn.Linear(E, H * D)
    # (B, L, E) -> (B, L, H·D) -> (B, H, L, D)
    q = split_heads(q_proj(query), H)
    k = split_heads(k_proj(memory), H)  # (B, S, E) -> (B, H, S, D)
    v = split_heads(v_proj(memory), H)  # (B, S, E) -> (B, H, S, D)
    print("q", tuple(q.shape), "k", tuple(k.shape), "v", tuple(v.shape))
    assert q.shape == (B, H, L, D) and k.shape == v.shape == (B, H, S, D)
    # --8<-- [end:check_projections]

    # --8<-- [start:check_scores]
    # (B, H, L, D) @ (B, H, D, S) -> (B, H, L, S)
    scores = attention_scores(q, k)
    print("scores:", tuple(scores.shape))
    assert scores.shape == (B, H, L, S)
    # query 2 · key 3, sequence 1, head 0: ()
    one_pair = q[1, 0, 2] @ k[1, 0, 3] / math.sqrt(D)
    assert torch.allclose(scores[1, 0, 2, 3], one_pair)
    # --8<-- [end:check_scores]

    # --8<-- [start:check_masks]
    # (B,): sequence 1 has 2 real keys, then padding
    lengths = torch.tensor([4, 2])
    pad = padding_mask(lengths, S)  # (B, 1, 1, S), True = a real key
    causal = causal_mask(L, S)  # (L, S), True = key j <= query i
    print(
        "padding mask:", tuple(pad.shape), "causal mask:", tuple(causal.shape)
    )
    assert pad.shape == (B, 1, 1, S) and causal.shape == (L, S)
    assert torch.broadcast_shapes(pad.shape, scores.shape) == (B, H, L, S)
    assert torch.broadcast_shapes(causal.shape, scores.shape) == (B, H, L, S)
    print(pad[:, 0, 0].int())  # (B, S): 1 = allowed
    # --8<-- [end:check_masks]

    # --8<-- [start:check_weights]
    masked = mask_scores(scores, pad)  # (B, H, L, S): padded keys become -inf
    # (B, H, L, S): softmax over the keys
    weights = attention_weights(masked, pad)
    print("weights:", tuple(weights.shape))
    assert weights.shape == (B, H, L, S)
    # every row sums to 1
    assert torch.allclose(weights.sum(dim=-1), torch.ones(B, H, L))
    # the two padded keys of sequence 1 get weight 0
    assert torch.all(weights[1, :, :, 2:] == 0)
    # --8<-- [end:check_weights]

    # --8<-- [start:check_attention]
    out, weights = attention(q, k, v, pad)  # (B, H, L, D), (B, H, L, S)
    print("attention:", tuple(out.shape), tuple(weights.shape))
    assert out.shape == (B, H, L, D) and weights.shape == (B, H, L, S)
    w = weights[1, 0, 0]  # query 0 of sequence 1, head 0: (S,)
    # only its 2 real keys
    assert torch.allclose(out[1, 0, 0], w[0] * v[1, 0, 0] + w[1] * v[1, 0, 1])
    merged = merge_heads(out)  # (B, H, L, D) -> (B, L, H·D)
    out_proj = nn.Linear(H * D, E)  # H·D -> E
    result = out_proj(merged)  # (B, L, H·D) -> (B, L, E)
    print("merged:", tuple(merged.shape), "projected:", tuple(result.shape))
    # the residual connection can add it to the input
    assert result.shape == query.shape
    # --8<-- [end:check_attention]

    # --8<-- [start:check_module]
    mha = MultiHeadAttention(E, H)
    mha.q_proj, mha.k_proj = q_proj, k_proj
    mha.v_proj, mha.out_proj = v_proj, out_proj
    # (B, L, E), (B, H, L, S)
    output, attn = mha(query, memory, memory, mask=pad)
    print("module:", tuple(output.shape), tuple(attn.shape))
    assert output.shape == (B, L, E) and attn.shape == (B, H, L, S)
    # the same numbers as step by step
    assert torch.equal(output, result) and torch.equal(attn, weights)
    try:
        # (B, S) does not broadcast to (B, H, L, S)
        mha(query, memory, memory, mask=pad.view(B, S))
    except ValueError as error:
        print("ValueError:", error)
    else:
        raise AssertionError("a (B, S) mask must be refused")
    # --8<-- [end:check_module]

    # --8<-- [start:check_torch]
    theirs = nn.MultiheadAttention(E, H, batch_first=True)
    # its biases start at 0: make them random, so the comparison covers them
    with torch.no_grad():
        theirs.in_proj_bias.normal_()
        theirs.out_proj.bias.normal_()
    mine = load_from_torch(MultiHeadAttention(E, H), theirs)
    # (B, S), its convention: True = NOT allowed
    key_padding_mask = ~pad.view(B, S)
    out_t, w_t = theirs(
        query, memory, memory, key_padding_mask=key_padding_mask,
        average_attn_weights=False,
    )
    # (B, L, E), (B, H, L, S)
    out_m, w_m = mine(query, memory, memory, mask=pad)
    print("nn.MultiheadAttention:", tuple(out_t.shape), tuple(w_t.shape))
    assert out_t.shape == out_m.shape and w_t.shape == w_m.shape
    assert torch.allclose(out_m, out_t, atol=1e-6)
    assert torch.allclose(w_m, w_t, atol=1e-6)
    x = torch.randn(B, L, E)  # (B, L, E): self-attention, query = key = value
    # (L, L), negated
    out_t, w_t = theirs(
        x, x, x, attn_mask=~causal_mask(L), average_attn_weights=False
    )
    out_m, w_m = mine(x, x, x, mask=causal_mask(L))  # (B, L, E), (B, H, L, L)
    assert torch.allclose(out_m, out_t, atol=1e-6)
    assert torch.allclose(w_m, w_t, atol=1e-6)
    print("equal to nn.MultiheadAttention, with a padding and a causal mask")
    # --8<-- [end:check_torch]


if __name__ == "__main__":
    main()
