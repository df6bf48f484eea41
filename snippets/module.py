"""Chapter 6 — a complete multi-head attention module (完整的多头注意力).

Included section by section by ``docs/module.zh.md`` and
``docs/module.en.md``. Sections that hold functions run as code on the page;
the sections inside ``sessions()`` are sessions: under each statement, what it
shows in ``#>`` lines, checked by the tests. Names follow the math: B batch, L
query length, S key length, E embed_dim (the hidden size), H num_heads, D
head_dim.

Conventions of this module: batch first; a boolean mask is True where a query
may look at a key (the convention of ``F.scaled_dot_product_attention`` and of
chapter 4) and only has to broadcast to the scores ``(B, H, L, S)``. Splitting
and merging heads come from chapter 1 (``snippets.shapes``), the mask helpers
from chapter 4 (``snippets.masking``).
"""

# --8<-- [start:imports]
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

# chapter 4: bool masks, True = allowed; chapter 1: views, no copies
from snippets.masking import causal_mask, check_mask_fits, padding_mask
from snippets.shapes import merge_heads, positive_int, split_heads, split_qkv
# --8<-- [end:imports]


# --8<-- [start:scores]
def attention_scores(q: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    """Every query against every key, scaled:
    q (B, H, L, D), k (B, H, S, D) -> (B, H, L, S)."""
    D = q.shape[-1]
    # (B, H, L, D) @ (B, H, D, S) -> (B, H, L, S)
    return q @ k.transpose(-2, -1) / math.sqrt(D)
# --8<-- [end:scores]


# --8<-- [start:mask_softmax]
def mask_scores(
    scores: torch.Tensor, mask: torch.Tensor | None
) -> torch.Tensor:
    """Scores of pairs that are not allowed become -inf.
    mask: bool, True = allowed, broadcasts."""
    if mask is None:
        return scores
    # (B, H, L, S): replaced, not added
    return scores.masked_fill(~mask, float("-inf"))


def attention_weights(
    scores: torch.Tensor, mask: torch.Tensor | None
) -> torch.Tensor:
    """Softmax over the keys. A query with no allowed key gets all-zero
    weights, not NaN."""
    # (B, H, L, S): every row sums to 1
    weights = torch.softmax(scores, dim=-1)
    if mask is not None:
        # (..., L, 1): a query that may look at nothing
        no_key = ~mask.any(dim=-1, keepdim=True)
        # (B, H, L, S): its NaN row becomes zeros
        weights = weights.masked_fill(no_key, 0.0)
    return weights
# --8<-- [end:mask_softmax]


# --8<-- [start:attention]
def attention(q, k, v, mask=None):
    """Scores, mask, softmax, weighted sum on split heads.

    q (B, H, L, D), k and v (B, H, S, D), mask bool (True = allowed)
    broadcastable to (B, H, L, S). Returns the output (B, H, L, D) and the
    weights (B, H, L, S).
    """
    scores = attention_scores(q, k)  # (B, H, L, S)
    scores = mask_scores(scores, mask)  # (B, H, L, S)
    weights = attention_weights(scores, mask)  # (B, H, L, S)
    return weights @ v, weights  # (B, H, L, S) @ (B, H, S, D) -> (B, H, L, D)
# --8<-- [end:attention]


# --8<-- [start:validation]
def check_sizes(embed_dim: int, num_heads: int, head_dim: int | None) -> int:
    """Validate the constructor's sizes; return head_dim
    (default embed_dim // num_heads)."""
    for name, value in (
        ("embed_dim", embed_dim), ("num_heads", num_heads),
        ("head_dim", head_dim),
    ):
        if name == "head_dim" and value is None:
            continue  # the default is chosen below
        positive_int(name, value)
    if head_dim is None:
        if embed_dim % num_heads != 0:
            raise ValueError(
                f"embed_dim={embed_dim} is not divisible by "
                f"num_heads={num_heads}, so there is no "
                "default head_dim = embed_dim // num_heads; "
                "pass head_dim= to choose the head size"
            )
        head_dim = embed_dim // num_heads
    return head_dim


def check_inputs(
    query, key, value, mask, embed_dim: int, num_heads: int
) -> None:
    """Validate forward's inputs: (B, L, E), (B, S, E), (B, S, E) and a
    bool mask."""
    for name, t in (("query", query), ("key", key), ("value", value)):
        if not isinstance(t, torch.Tensor):
            raise TypeError(
                f"{name} must be a torch.Tensor, got {type(t).__name__}"
            )
        if t.dim() != 3:
            raise ValueError(
                f"{name} must be a 3-D (B, length, E) tensor, batch first; "
                f"got shape {tuple(t.shape)}"
            )
        if t.shape[-1] != embed_dim:
            raise ValueError(
                f"{name} must have embed_dim={embed_dim} features in its "
                f"last dim, got shape {tuple(t.shape)}"
            )
    B, L, _ = query.shape
    S = key.shape[1]
    if key.shape[0] != B or value.shape[0] != B:
        raise ValueError(
            f"query, key and value must have the same batch size B={B}, "
            f"got key {tuple(key.shape)} and value {tuple(value.shape)}"
        )
    if value.shape[1] != S:
        raise ValueError(
            "key and value must have the same length S, "
            f"got key S={S} and value S={value.shape[1]}"
        )
    if mask is None:
        return
    if not isinstance(mask, torch.Tensor) or mask.dtype != torch.bool:
        got = mask.dtype if torch.is_tensor(mask) else type(mask).__name__
        raise TypeError(
            f"mask must be a bool tensor (True = allowed), got {got}; a 0/1 "
            "'keep' mask becomes mask == 1, a mask of nn.MultiheadAttention "
            "(True = not allowed) becomes ~mask"
        )
    check_mask_fits(mask, (B, num_heads, L, S))  # chapter 4
# --8<-- [end:validation]


# --8<-- [start:module]
class MultiHeadAttention(nn.Module):
    """Multi-head attention, batch first:
    query (B, L, E), key and value (B, S, E) -> (B, L, E).

    head_dim defaults to embed_dim // num_heads; any other value makes the
    inner size H·D differ from E. mask: bool, True = allowed, broadcastable to
    (B, H, L, S). Returns the output (B, L, E) and the weights of every head
    (B, H, L, S).
    """

    def __init__(
        self, embed_dim: int, num_heads: int, head_dim: int | None = None,
        bias: bool = True,
    ):
        super().__init__()
        head_dim = check_sizes(embed_dim, num_heads, head_dim)
        self.embed_dim, self.num_heads = embed_dim, num_heads
        self.head_dim = head_dim
        # H·D: the features the heads are cut from
        inner = num_heads * head_dim
        self.q_proj = nn.Linear(embed_dim, inner, bias=bias)  # E -> H·D
        self.k_proj = nn.Linear(embed_dim, inner, bias=bias)  # E -> H·D
        self.v_proj = nn.Linear(embed_dim, inner, bias=bias)  # E -> H·D
        # H·D -> E: the residual's size
        self.out_proj = nn.Linear(inner, embed_dim, bias=bias)

    def forward(self, query, key, value, mask=None):
        check_inputs(query, key, value, mask, self.embed_dim, self.num_heads)
        H = self.num_heads
        # (B, L, E) -> (B, L, H·D) -> (B, H, L, D)
        q = split_heads(self.q_proj(query), H)
        k = split_heads(self.k_proj(key), H)  # (B, S, E) -> (B, H, S, D)
        v = split_heads(self.v_proj(value), H)  # (B, S, E) -> (B, H, S, D)
        # (B, H, L, D) and the weights (B, H, L, S)
        out, weights = self.attend(q, k, v, mask)
        out = merge_heads(out)  # (B, H, L, D) -> (B, L, H·D)
        return self.out_proj(out), weights  # (B, L, E), (B, H, L, S)

    def attend(self, q, k, v, mask):
        """The attention of the heads; the SDPA chapter swaps it."""
        return attention(q, k, v, mask)  # (B, H, L, D), (B, H, L, S)
# --8<-- [end:module]


# --8<-- [start:load_from_torch]
@torch.no_grad()
def load_from_torch(
    mine: MultiHeadAttention, theirs: nn.MultiheadAttention
) -> MultiHeadAttention:
    """Copy the weights of an nn.MultiheadAttention into a
    MultiHeadAttention of the same sizes."""
    ours = (mine.embed_dim, mine.num_heads, mine.head_dim)
    its = (theirs.embed_dim, theirs.num_heads, theirs.head_dim)
    if ours != its:
        raise ValueError(
            f"(embed_dim, num_heads, head_dim) differ: ours {ours}, "
            f"nn.MultiheadAttention {its}"
        )
    if theirs.in_proj_weight is None or theirs.bias_k is not None:
        raise ValueError(
            "only nn.MultiheadAttention without kdim/vdim "
            "and without add_bias_kv is supported"
        )
    if (theirs.in_proj_bias is None) != (mine.q_proj.bias is None):
        raise ValueError(
            "one module has biases and the other has none: "
            "build both with the same bias="
        )
    # (3E, E) -> three (E, E), in the order q, k, v
    w_q, w_k, w_v = theirs.in_proj_weight.chunk(3)
    mine.q_proj.weight.copy_(w_q)
    mine.k_proj.weight.copy_(w_k)
    mine.v_proj.weight.copy_(w_v)
    mine.out_proj.weight.copy_(theirs.out_proj.weight)  # (E, E)
    if theirs.in_proj_bias is not None:
        b_q, b_k, b_v = theirs.in_proj_bias.chunk(3)  # (3E,) -> three (E,)
        mine.q_proj.bias.copy_(b_q)
        mine.k_proj.bias.copy_(b_k)
        mine.v_proj.bias.copy_(b_v)
        mine.out_proj.bias.copy_(theirs.out_proj.bias)  # (E,)
    return mine
# --8<-- [end:load_from_torch]


# --8<-- [start:packed]
class PackedSelfAttention(nn.Module):
    """Self-attention with one Linear(E, 3·H·D) for q, k and v:
    x (B, L, E) -> (B, L, E)."""

    def __init__(
        self, embed_dim: int, num_heads: int, head_dim: int | None = None,
        bias: bool = True,
    ):
        super().__init__()
        head_dim = check_sizes(embed_dim, num_heads, head_dim)
        self.embed_dim, self.num_heads = embed_dim, num_heads
        self.head_dim = head_dim
        inner = num_heads * head_dim  # H·D
        # E -> 3·H·D: [q | k | v]
        self.qkv_proj = nn.Linear(embed_dim, 3 * inner, bias=bias)
        self.out_proj = nn.Linear(inner, embed_dim, bias=bias)  # H·D -> E

    def forward(self, x, mask=None):
        check_inputs(x, x, x, mask, self.embed_dim, self.num_heads)
        # (B, L, 3·H·D) -> 3 × (B, H, L, D)
        q, k, v = split_qkv(self.qkv_proj(x), self.num_heads)
        out, weights = attention(q, k, v, mask)  # (B, H, L, D), (B, H, L, L)
        # (B, L, E), (B, H, L, L)
        return self.out_proj(merge_heads(out)), weights


@torch.no_grad()
def pack(mine: MultiHeadAttention) -> PackedSelfAttention:
    """The packed module with the same weights:
    qkv_proj.weight = [W_q; W_k; W_v], (3·H·D, E)."""
    bias = mine.q_proj.bias is not None
    packed = PackedSelfAttention(
        mine.embed_dim, mine.num_heads, mine.head_dim, bias=bias
    )
    projections = (mine.q_proj, mine.k_proj, mine.v_proj)
    # 3 × (H·D, E) -> (3·H·D, E)
    packed.qkv_proj.weight.copy_(torch.cat([p.weight for p in projections]))
    if bias:
        # 3 × (H·D,) -> (3·H·D,)
        packed.qkv_proj.bias.copy_(torch.cat([p.bias for p in projections]))
    packed.out_proj.load_state_dict(mine.out_proj.state_dict())
    return packed
# --8<-- [end:packed]


# --8<-- [start:seed_004]
def combine_heads_004(x: torch.Tensor, d_model: int) -> torch.Tensor:
    """Source note 004's combine_heads as a function (its self.d_model is
    d_model): (B, H, L, D) -> (B, L, d_model)."""
    # d_k is assigned here and never read again
    batch_size, _, seq_length, d_k = x.size()
    # (B, L, H, D) -> (B, L, d_model)
    return (
        x.transpose(1, 2).contiguous().view(batch_size, seq_length, d_model)
    )


def combine_heads_without_d_k(x: torch.Tensor, d_model: int) -> torch.Tensor:
    """The same function without d_k: the fourth size goes to _ as well."""
    batch_size, _, seq_length, _ = x.size()
    # (B, L, H, D) -> (B, L, d_model)
    return (
        x.transpose(1, 2).contiguous().view(batch_size, seq_length, d_model)
    )


class SeedTypo(nn.Module):
    """Source note 004's misspelling in a tiny module: it defines farward,
    not forward."""

    def __init__(self, d_model: int):
        super().__init__()
        self.W_o = nn.Linear(d_model, d_model)

    # nn.Module.__call__ looks for self.forward, not this
    def farward(self, x):
        return self.W_o(x)
# --8<-- [end:seed_004]


def sessions():
    """The chapter's sessions, run section by section by the pages, in page
    order; not run on import. One function body, so the names a section leaves
    for the next are plain to see. Under each statement, its output in ``#>``
    lines."""
    # --8<-- [start:projections_split]
    B, L, S, E, H = 2, 3, 4, 8, 2
    D = E // H
    query = torch.randn(B, L, E)  # (B, L, E): the queries come from here
    # (B, S, E): the keys and values come from here
    memory = torch.randn(B, S, E)
    q_proj = nn.Linear(E, H * D)
    k_proj = nn.Linear(E, H * D)
    v_proj = nn.Linear(E, H * D)
    # weight is (out_features, in_features) = (H·D, E)
    q_proj.weight.shape, q_proj.bias.shape
    #> (torch.Size([8, 8]), torch.Size([8]))
    # Linear acts on the last dim: (B, L, H·D), (B, S, H·D)
    q_proj(query).shape, k_proj(memory).shape
    #> (torch.Size([2, 3, 8]), torch.Size([2, 4, 8]))
    torch.allclose(q_proj(query), query @ q_proj.weight.T + q_proj.bias)
    #> True
    q = split_heads(q_proj(query), H)  # (B, L, H·D) -> (B, H, L, D)
    k = split_heads(k_proj(memory), H)  # (B, S, H·D) -> (B, H, S, D)
    v = split_heads(v_proj(memory), H)  # (B, S, H·D) -> (B, H, S, D)
    q.shape, k.shape, v.shape
    #> (torch.Size([2, 2, 3, 4]), torch.Size([2, 2, 4, 4]),
    #> torch.Size([2, 2, 4, 4]))
    # head 1 = features D..2D-1 of every token
    torch.equal(q[:, 1], q_proj(query)[:, :, D : 2 * D])
    #> True
    # --8<-- [end:projections_split]

    # --8<-- [start:scores_example]
    scores = attention_scores(q, k)  # (B, H, L, S)
    scores.shape
    #> torch.Size([2, 2, 3, 4])
    # one query·key pair
    torch.allclose(scores[1, 0, 2, 3], q[1, 0, 2] @ k[1, 0, 3] / math.sqrt(D))
    #> True
    # (B, H, L, S)
    seed_002 = torch.matmul(q, k.transpose(-1, -2)) / torch.sqrt(
        torch.tensor(D, dtype=torch.float32)
    )
    torch.equal(scores, seed_002)  # source note 002's spelling
    #> True
    # D = 64, entries of variance 1
    a, b = torch.randn(1000, 64), torch.randn(64, 1000)
    round((a @ b).std().item()), round((a @ b / math.sqrt(64)).std().item())
    #> (8, 1)
    # --8<-- [end:scores_example]

    # --8<-- [start:mask_softmax_example]
    # (B, 1, 1, S): sequence 1 has 2 real keys
    mask = padding_mask(torch.tensor([4, 2]), S)
    mask[:, 0, 0]
    #> tensor([[ True,  True,  True,  True],
    #>         [ True,  True, False, False]])
    masked = mask_scores(scores, mask)  # (B, H, L, S)
    torch.isinf(masked[1, 0])
    #> tensor([[False, False,  True,  True],
    #>         [False, False,  True,  True],
    #>         [False, False,  True,  True]])
    # sequence 0 has no padding: nothing changes
    torch.equal(masked[0], scores[0])
    #> True
    weights = attention_weights(masked, mask)  # (B, H, L, S)
    torch.allclose(weights.sum(dim=-1), torch.ones(B, H, L))
    #> True
    # the two padding keys: weight exactly 0
    torch.all(weights[1, :, :, 2:] == 0).item()
    #> True
    # (L, S): no query may look at any key
    nothing = torch.zeros(L, S, dtype=torch.bool)
    torch.softmax(mask_scores(scores, nothing), dim=-1)[0, 0, 0].tolist()
    #> [nan, nan, nan, nan]
    attention_weights(mask_scores(scores, nothing), nothing)[0, 0, 0].tolist()
    #> [0.0, 0.0, 0.0, 0.0]
    # --8<-- [end:mask_softmax_example]

    # --8<-- [start:attention_example]
    out = weights @ v  # (B, H, L, S) @ (B, H, S, D) -> (B, H, L, D)
    out.shape
    #> torch.Size([2, 2, 3, 4])
    w = weights[1, 0, 0]  # query 0 of sequence 1, head 0: (S,)
    # only its 2 real keys
    torch.allclose(out[1, 0, 0], w[0] * v[1, 0, 0] + w[1] * v[1, 0, 1])
    #> True
    out_a, weights_a = attention(q, k, v, mask)
    torch.equal(out_a, out), torch.equal(weights_a, weights)
    #> (True, True)
    # (B, H, L, D); its bool mask: True = take part
    sdpa = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    torch.allclose(out, sdpa, atol=1e-6)
    #> True
    # no key: zeros, like ours
    F.scaled_dot_product_attention(q, k, v, attn_mask=nothing)[
        0, 0, 0
    ].tolist()
    #> [0.0, 0.0, 0.0, 0.0]
    torch.equal(attention(q, k, v, nothing)[0], torch.zeros(B, H, L, D))
    #> True
    # --8<-- [end:attention_example]

    # --8<-- [start:merge_example]
    merged = merge_heads(out)  # (B, H, L, D) -> (B, L, H·D)
    merged.shape
    #> torch.Size([2, 3, 8])
    # source note 004's combine_heads
    torch.equal(merged, out.transpose(1, 2).contiguous().view(B, L, H * D))
    #> True
    out_proj = nn.Linear(H * D, E)  # H·D -> E
    result = out_proj(merged)  # (B, L, E)
    # the residual connection adds tensors of the same shape
    (query + result).shape
    #> torch.Size([2, 3, 8])
    # --8<-- [end:merge_example]

    # --8<-- [start:module_example]
    mha = MultiHeadAttention(E, H)
    mha
    #> MultiHeadAttention(
    #>   (q_proj): Linear(in_features=8, out_features=8, bias=True)
    #>   (k_proj): Linear(in_features=8, out_features=8, bias=True)
    #>   (v_proj): Linear(in_features=8, out_features=8, bias=True)
    #>   (out_proj): Linear(in_features=8, out_features=8, bias=True)
    #> )
    # the layers used above
    mha.q_proj, mha.k_proj = q_proj, k_proj
    mha.v_proj, mha.out_proj = v_proj, out_proj
    output, attn = mha(query, memory, memory, mask=mask)
    output.shape, attn.shape
    #> (torch.Size([2, 3, 8]), torch.Size([2, 2, 3, 4]))
    # the very same numbers as step by step
    torch.equal(output, result), torch.equal(attn, weights)
    #> (True, True)
    x = torch.randn(B, L, E)  # self-attention: query = key = value
    out_x, attn_x = mha(x, x, x, mask=causal_mask(L))  # causal mask (L, L)
    out_x.shape, attn_x.shape
    #> (torch.Size([2, 3, 8]), torch.Size([2, 2, 3, 3]))
    torch.all(attn_x[..., 0, 1:] == 0).item()  # token 0 sees only itself
    #> True
    # --8<-- [end:module_example]

    # --8<-- [start:errors]
    MultiHeadAttention(10, 4)
    #> ValueError: embed_dim=10 is not divisible by num_heads=4, so there is
    #> no default head_dim = embed_dim // num_heads; pass head_dim= to choose
    #> the head size
    MultiHeadAttention(8, 0)
    #> ValueError: num_heads must be a positive int, got 0
    mha(torch.randn(B, L, 6), memory, memory)
    #> ValueError: query must have embed_dim=8 features in its last dim, got
    #> shape (2, 3, 6)
    mha(query[0], memory, memory)
    #> ValueError: query must be a 3-D (B, length, E) tensor, batch first; got
    #> shape (3, 8)
    mha(query, memory, memory[:, :3])
    #> ValueError: key and value must have the same length S, got key S=4 and
    #> value S=3
    mha(query, memory, memory, mask=mask.int())
    #> TypeError: mask must be a bool tensor (True = allowed), got
    #> torch.int32; a 0/1 'keep' mask becomes mask == 1, a mask of
    #> nn.MultiheadAttention (True = not allowed) becomes ~mask
    mha(query, memory, memory, mask=mask.view(B, S))
    #> ValueError: mask of shape (2, 4) does not broadcast to the scores
    #> (B, H, L, S) = (2, 2, 3, 4); a padding mask is (B, 1, 1, S), a causal
    #> mask (L, S)
    # --8<-- [end:errors]

    # --8<-- [start:head_dim]
    wide = MultiHeadAttention(E, H, head_dim=16)  # H·D = 32, E = 8
    # E -> H·D and H·D -> E
    wide.q_proj.weight.shape, wide.out_proj.weight.shape
    #> (torch.Size([32, 8]), torch.Size([8, 32]))
    out_w, attn_w = wide(query, memory, memory, mask=mask)
    out_w.shape, attn_w.shape
    #> (torch.Size([2, 3, 8]), torch.Size([2, 2, 3, 4]))
    # H·D features cannot be added to the E of the residual
    query + wide.v_proj(query)
    #> RuntimeError: The size of tensor a (8) must match the size of tensor b
    #> (32) at non-singleton dimension 2
    # 6 is not divisible by 4: fine with an explicit head_dim
    odd = MultiHeadAttention(6, 4, head_dim=3)
    x6 = torch.randn(B, L, 6)
    (x6 + odd(x6, x6, x6)[0]).shape  # a residual connection works
    #> torch.Size([2, 3, 6])
    # --8<-- [end:head_dim]

    # --8<-- [start:torch_equal]
    # dropout=0.0 by default
    theirs = nn.MultiheadAttention(E, H, batch_first=True)
    (
        theirs.in_proj_weight.shape, theirs.in_proj_bias.shape,
        theirs.out_proj.weight.shape,
    )
    #> (torch.Size([24, 8]), torch.Size([24]), torch.Size([8, 8]))
    # its biases start at 0 ...
    torch.count_nonzero(theirs.in_proj_bias).item()
    #> 0
    # ... so make them random: the comparison should cover them
    with torch.no_grad():
        _ = theirs.in_proj_bias.normal_(), theirs.out_proj.bias.normal_()
    mine = load_from_torch(MultiHeadAttention(E, H), theirs)
    (
        torch.equal(mine.q_proj.weight, theirs.in_proj_weight[:E]),
        torch.equal(mine.v_proj.bias, theirs.in_proj_bias[2 * E :]),
    )
    #> (True, True)
    # weights of every head
    out_t, w_t = theirs(query, memory, memory, average_attn_weights=False)
    out_m, w_m = mine(query, memory, memory)
    out_t.shape, w_t.shape
    #> (torch.Size([2, 3, 8]), torch.Size([2, 2, 3, 4]))
    (
        torch.allclose(out_m, out_t, atol=1e-6),
        torch.allclose(w_m, w_t, atol=1e-6),
    )
    #> (True, True)
    # the default average_attn_weights=True: (B, L, S)
    _, w_avg = theirs(query, memory, memory)
    w_avg.shape, torch.allclose(w_m.mean(dim=1), w_avg, atol=1e-6)
    #> (torch.Size([2, 3, 4]), True)
    # (B, S), nn.MultiheadAttention's way: True = NOT allowed
    key_padding_mask = ~mask.view(B, S)
    out_t, w_t = theirs(
        query, memory, memory, key_padding_mask=key_padding_mask,
        average_attn_weights=False,
    )
    # (B, 1, 1, S), ours: True = allowed
    out_m, w_m = mine(query, memory, memory, mask=mask)
    (
        torch.allclose(out_m, out_t, atol=1e-6),
        torch.allclose(w_m, w_t, atol=1e-6),
    )
    #> (True, True)
    # (L, L)
    out_t, w_t = theirs(
        x, x, x, attn_mask=~causal_mask(L), average_attn_weights=False
    )
    out_m, w_m = mine(x, x, x, mask=causal_mask(L))
    (
        torch.allclose(out_m, out_t, atol=1e-6),
        torch.allclose(w_m, w_t, atol=1e-6),
    )
    #> (True, True)
    out_t, none = theirs(
        query, memory, memory, key_padding_mask=key_padding_mask,
        need_weights=False,
    )
    (
        none is None,
        torch.allclose(
            mine(query, memory, memory, mask=mask)[0], out_t, atol=1e-6
        ),
    )
    #> (True, True)
    # --8<-- [end:torch_equal]

    # --8<-- [start:torch_seq_first]
    seq_first = nn.MultiheadAttention(E, H)  # batch_first=False: (L, B, E)
    seq_first.load_state_dict(theirs.state_dict())
    #> <All keys matched successfully>
    # (L, B, E), (S, B, E)
    q_t, m_t = query.transpose(0, 1), memory.transpose(0, 1)
    out_t, w_t = seq_first(
        q_t, m_t, m_t, key_padding_mask=key_padding_mask,
        average_attn_weights=False,
    )
    # the output is sequence first, the weights are not
    out_t.shape, w_t.shape
    #> (torch.Size([3, 2, 8]), torch.Size([2, 2, 3, 4]))
    out_m, w_m = mine(query, memory, memory, mask=mask)
    (
        torch.allclose(out_m, out_t.transpose(0, 1), atol=1e-6),
        torch.allclose(w_m, w_t, atol=1e-6),
    )
    #> (True, True)
    # --8<-- [end:torch_seq_first]

    # --8<-- [start:packed_example]
    packed = pack(mine)
    packed
    #> PackedSelfAttention(
    #>   (qkv_proj): Linear(in_features=8, out_features=24, bias=True)
    #>   (out_proj): Linear(in_features=8, out_features=8, bias=True)
    #> )
    out_p, w_p = packed(x, mask=causal_mask(L))
    out_m, w_m = mine(x, x, x, mask=causal_mask(L))
    (
        torch.allclose(out_p, out_m, atol=1e-6),
        torch.allclose(w_p, w_m, atol=1e-6),
    )
    #> (True, True)
    (
        torch.equal(packed.qkv_proj.weight, theirs.in_proj_weight),
        torch.equal(packed.qkv_proj.bias, theirs.in_proj_bias),
    )
    #> (True, True)
    # the 3E rows are (q/k/v, head, feature)
    row = theirs.in_proj_weight.view(3, H, D, E)
    torch.equal(row[1, 0], mine.k_proj.weight[:D])  # rows of k, head 0
    #> True
    # --8<-- [end:packed_example]

    # --8<-- [start:torch_size]
    x = torch.zeros(2, 5, 8)  # (B, L, E)
    size = x.size()
    size, size == x.shape
    #> (torch.Size([2, 5, 8]), True)
    isinstance(size, tuple), torch.Size.__mro__
    #> (True, (<class 'torch.Size'>, <class 'tuple'>, <class 'object'>))
    # tuple unpacking, one name per dim
    batch_size, seq_length, d_model = x.size()
    batch_size, seq_length, d_model
    #> (2, 5, 8)
    type(batch_size)
    #> <class 'int'>
    batch_size, _, seq_length, d_k = x.size()  # four names for a 3-D tensor
    #> ValueError: not enough values to unpack (expected 4, got 3)
    heads = torch.zeros(2, 4, 5, 3)  # (B, H, L, D)
    batch_size, _, seq_length, d_k = heads.size()
    _  # an ordinary variable: it holds H
    #> 4
    # starred: _ takes the middle sizes as a list
    batch_size, *_, d_k = heads.size()
    _
    #> [4, 5]
    # --8<-- [end:torch_size]

    # --8<-- [start:unused_d_k]
    torch.equal(
        combine_heads_004(heads, d_model=12),
        combine_heads_without_d_k(heads, d_model=12),
    )
    #> True
    combine_heads_004(heads, d_model=12).shape
    #> torch.Size([2, 5, 12])
    # d_k = 3 was read, yet nothing checks 4 · 3 against d_model
    combine_heads_004(heads, d_model=8)
    #> RuntimeError: shape '[2, 5, 8]' is invalid for input of size 120
    # chapter 1's merge_heads takes H·D from the tensor itself
    merge_heads(heads).shape
    #> torch.Size([2, 5, 12])
    # --8<-- [end:unused_d_k]

    # --8<-- [start:farward_call]
    typo = SeedTypo(8)  # construction works: nothing checks the method names
    typo(torch.zeros(2, 3, 8))
    #> NotImplementedError: Module [SeedTypo] is missing the required
    #> "forward" function
    # nn.Module's placeholder forward, in torch/nn/modules/module.py
    typo.forward.__name__
    #> '_forward_unimplemented'
    # the method exists, under a name nobody calls
    typo.farward(torch.zeros(2, 3, 8)).shape
    #> torch.Size([2, 3, 8])
    # --8<-- [end:farward_call]
