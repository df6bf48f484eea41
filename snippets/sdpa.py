"""Chapter 7 — attention in practice: scaled_dot_product_attention.

Included section by section by ``docs/sdpa.zh.md`` and ``docs/sdpa.en.md``.
Sections that hold functions run as code on the page; the sections inside
``sessions()`` are sessions: under each statement, what it shows in ``#>``
lines, checked by the tests. Names follow the math: B batch, H heads, L query
length, S key length, D head_dim, E hidden size.

Conventions of this module: a boolean mask is True where a query may look at
a key (the convention of ``F.scaled_dot_product_attention``, of chapter 4 and
of chapter 6); a float mask is added to the scores.
"""

# --8<-- [start:imports]
import warnings

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.nn.attention.bias import causal_lower_right, causal_upper_left

# chapter 4: bool masks, True = allowed; the hand-written masked attention
from snippets.masking import (
    causal_mask, check_mask_fits, masked_attention, padding_mask, to_additive,
)
from snippets.matmul import count_ops  # chapter 2: ops seen by the profiler
# chapter 6: the scaled scores q·kᵀ/√D, the complete module
from snippets.module import MultiHeadAttention, attention_scores
# chapter 1: one rank check, one int check, (B, L, E) -> (B, H, L, D)
from snippets.shapes import check_rank, positive_int, split_heads
# --8<-- [end:imports]


# --8<-- [start:seen_keys]
def seen_keys(L: int, S: int, **kwargs) -> torch.Tensor:
    """(L, S) bool: the keys each query takes part with, as SDPA computes
    it. Equal scores spread each query's weight evenly over its keys, and
    v = the identity makes the output rows those weights.
    kwargs go to SDPA: is_causal=True or attn_mask=..."""
    positive_int("L", L)
    positive_int("S", S)
    q, k = torch.zeros(1, 1, L, 1), torch.zeros(1, 1, S, 1)  # (1, 1, L/S, 1)
    v = torch.eye(S).view(1, 1, S, S)  # (1, 1, S, S): v row j = e_j
    out = F.scaled_dot_product_attention(q, k, v, **kwargs)  # (1, 1, L, S)
    return out[0, 0] > 0  # (L, S): weight > 0
# --8<-- [end:seen_keys]


# --8<-- [start:sdpa_weights]
def sdpa_weights(q, k, attn_mask=None):
    """The weights SDPA uses but does not return: softmax(q·kᵀ/√D + mask).

    q (B, H, L, D), k (B, H, S, D); attn_mask as SDPA takes it: bool
    (True = take part) or float (added), broadcastable to (B, H, L, S).
    A query with no allowed key gets zero weights, as in SDPA on the CPU.
    """
    check_sdpa_weights(q, k, attn_mask)
    scores = attention_scores(q, k)  # (B, H, L, S), chapter 6
    if attn_mask is not None:
        if attn_mask.dtype == torch.bool:  # a selection: 0 or -inf
            attn_mask = to_additive(attn_mask, scores.dtype, neg_inf=True)
        scores = scores + attn_mask  # (B, H, L, S): added
    weights = torch.softmax(scores, dim=-1)  # (B, H, L, S)
    # (B, H, L, 1): rows whose every score is -inf
    no_key = torch.isneginf(scores).all(dim=-1, keepdim=True)
    return weights.masked_fill(no_key, 0.0)  # (B, H, L, S): NaN rows -> 0
# --8<-- [end:sdpa_weights]


# --8<-- [start:sdpa_weights_checks]
def check_sdpa_weights(q, k, attn_mask) -> None:
    """q (B, H, L, D) and k (B, H, S, D); the mask dtypes SDPA takes:
    bool, float32 or q's dtype."""
    check_rank(q, "(B, H, L, D)", "sdpa_weights")
    check_rank(k, "(B, H, S, D)", "sdpa_weights")
    if q.shape[:2] != k.shape[:2] or q.shape[3] != k.shape[3]:
        raise ValueError(
            "q and k must share B, H and D, "
            f"got q {tuple(q.shape)} and k {tuple(k.shape)}"
        )
    if attn_mask is None:
        return
    if attn_mask.dtype not in (torch.bool, torch.float32, q.dtype):
        raise TypeError(
            "attn_mask must be bool (True = take part) or a float mask "
            f"(added to the scores), got {attn_mask.dtype}; a 0/1 'keep' "
            "mask becomes mask == 1"
        )
    B, H, L, _ = q.shape
    check_mask_fits(attn_mask, (B, H, L, k.shape[2]))  # chapter 4
# --8<-- [end:sdpa_weights_checks]


# --8<-- [start:sdpa_backend]
def sdpa_backend(q, k, v, **kwargs) -> str:
    """The kernel SDPA runs for these inputs: the name of the
    aten::_scaled_dot_product_* operator the profiler sees, without that
    prefix. kwargs go to SDPA, which checks them."""
    ops = count_ops(
        lambda: F.scaled_dot_product_attention(q, k, v, **kwargs)
    )
    prefix = "aten::_scaled_dot_product_"
    return ", ".join(op[len(prefix):] for op in ops if op.startswith(prefix))
# --8<-- [end:sdpa_backend]


# --8<-- [start:attend]
class Attend(nn.Module):
    """SDPA with attention dropout, as many modules write it: wrong."""

    def __init__(self, dropout: float):
        super().__init__()
        self.dropout = dropout

    def forward(self, q, k, v):
        # dropout_p is applied whatever self.training says
        return F.scaled_dot_product_attention(
            q, k, v, dropout_p=self.dropout
        )  # (B, H, L, D)


class AttendFixed(Attend):
    """The same, with dropout only in training mode."""

    def forward(self, q, k, v):
        p = self.dropout if self.training else 0.0
        return F.scaled_dot_product_attention(
            q, k, v, dropout_p=p
        )  # (B, H, L, D)
# --8<-- [end:attend]


# --8<-- [start:sdpa_module]
class SdpaMultiHeadAttention(MultiHeadAttention):
    """Chapter 6's module with its last step on SDPA: the same parameters,
    the same output; the weights are None (SDPA does not return them)."""

    def __init__(self, *args, dropout: float = 0.0, **kwargs):
        super().__init__(*args, **kwargs)
        self.dropout = dropout

    def attend(self, q, k, v, mask):
        out = F.scaled_dot_product_attention(
            q, k, v, attn_mask=mask,
            dropout_p=self.dropout if self.training else 0.0,
        )  # (B, H, L, D)
        return out, None  # no weights
# --8<-- [end:sdpa_module]


def sessions():
    """The chapter's sessions, run section by section by the pages, in page
    order; not run on import. One function body, so the names a section leaves
    for the next are plain to see. Under each statement, its output in ``#>``
    lines."""
    # --8<-- [start:float_mask]
    _ = torch.manual_seed(0)
    # each (B, H, L, D) = (1, 1, 3, 4)
    q, k, v = torch.randn(3, 1, 1, 3, 4).unbind(0)
    keep = torch.ones(3, 3).tril()  # (L, S) 0/1 float: 1 = keep
    keep
    #> tensor([[1., 0., 0.],
    #>         [1., 1., 0.],
    #>         [1., 1., 1.]])
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=keep)
    # query 0 should see key 0 only: its output would be v's row 0
    torch.allclose(out[0, 0, 0], v[0, 0, 0])
    #> False
    # the float mask was ADDED: +1 on kept scores, +0 on the others
    shifted = F.scaled_dot_product_attention(q, k, v, attn_mask=keep - 1)
    torch.allclose(out, shifted)
    #> True
    allowed = keep == 1  # (L, S) bool: True = take part
    by_bool = F.scaled_dot_product_attention(q, k, v, attn_mask=allowed)
    torch.allclose(by_bool[0, 0, 0], v[0, 0, 0])
    #> True
    # additive: 0 where allowed, -inf elsewhere
    additive = to_additive(allowed, neg_inf=True)  # chapter 4
    additive
    #> tensor([[0., -inf, -inf],
    #>         [0., 0., -inf],
    #>         [0., 0., 0.]])
    by_add = F.scaled_dot_product_attention(q, k, v, attn_mask=additive)
    torch.allclose(by_add, by_bool)
    #> True
    # chapter 4's hand-written masked attention
    torch.allclose(masked_attention(q, k, v, allowed), by_bool, atol=1e-6)
    #> True
    # --8<-- [end:float_mask]

    # --8<-- [start:causal]
    # each (B, H, L, D) = (2, 2, 4, 8)
    q, k, v = torch.randn(3, 2, 2, 4, 8).unbind(0)
    by_flag = F.scaled_dot_product_attention(q, k, v, is_causal=True)
    by_mask = F.scaled_dot_product_attention(
        q, k, v, attn_mask=causal_mask(4)
    )
    torch.allclose(by_flag, by_mask)
    #> True
    # one bool mask: causal AND padding, (L, S) & (B, 1, 1, S)
    both = causal_mask(4) & padding_mask(torch.tensor([4, 2]), S=4)
    both.shape
    #> torch.Size([2, 1, 4, 4])
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=both)
    torch.allclose(out, masked_attention(q, k, v, both), atol=1e-6)
    #> True
    # both at once: an error in the reference (math) backend
    with sdpa_kernel(SDPBackend.MATH):
        F.scaled_dot_product_attention(
            q, k, v, attn_mask=both, is_causal=True
        )
    #> RuntimeError: _scaled_dot_product_attention: Explicit attn_mask should
    #> not be set when is_causal=True
    # the default CPU kernel takes both up to 2.13 (2.14.1, 2.15.0 raise)
    F.scaled_dot_product_attention(
        q, k, v, attn_mask=both, is_causal=True
    ).shape
    #> torch.Size([2, 2, 4, 8])
    # --8<-- [end:causal]

    # --8<-- [start:decode]
    # the keys each query sees: 2 new queries, S = 4 keys
    seen_keys(2, 4, is_causal=True).int()  # top-left
    #> tensor([[1, 0, 0, 0],
    #>         [1, 1, 0, 0]], dtype=torch.int32)
    seen_keys(2, 4, attn_mask=causal_lower_right(2, 4)).int()
    #> tensor([[1, 1, 1, 0],
    #>         [1, 1, 1, 1]], dtype=torch.int32)
    # a decode step: 1 new query, a cache of S = 4 keys (the last is its own)
    q1 = q[:, :, -1:]  # (B, H, 1, D)
    step = F.scaled_dot_product_attention(q1, k, v, is_causal=True)
    # is_causal is aligned top-left: the new query sees key 0 only
    torch.allclose(step, v[:, :, :1])
    #> True
    # the last row of the full causal pass is what the step should give
    torch.allclose(step, by_flag[:, :, -1:])
    #> False
    lower_right = causal_lower_right(1, 4)  # L = 1 query, S = 4 keys
    step = F.scaled_dot_product_attention(q1, k, v, attn_mask=lower_right)
    torch.allclose(step, by_flag[:, :, -1:], atol=1e-6)
    #> True
    # for L = 1, lower-right allows every key: no mask is the same
    no_mask = F.scaled_dot_product_attention(q1, k, v)
    torch.allclose(no_mask, step, atol=1e-6)
    #> True
    # the same mask written out: tril shifted by S - L
    torch.ones(2, 4, dtype=torch.bool).tril(diagonal=4 - 2)
    #> tensor([[ True,  True,  True, False],
    #>         [ True,  True,  True,  True]])
    # two new queries at once: lower-right
    q2 = q[:, :, -2:]  # (B, H, 2, D)
    torch.allclose(
        F.scaled_dot_product_attention(
            q2, k, v, attn_mask=causal_lower_right(2, 4)
        ),
        by_flag[:, :, -2:], atol=1e-6,
    )
    #> True
    # upper-left is what is_causal=True does
    torch.allclose(
        F.scaled_dot_product_attention(
            q2, k, v, attn_mask=causal_upper_left(2, 4)
        ),
        F.scaled_dot_product_attention(q2, k, v, is_causal=True),
        atol=1e-6,
    )
    #> True
    seen_keys(0, 4, is_causal=True)
    #> ValueError: L must be a positive int, got 0
    # --8<-- [end:decode]

    # --8<-- [start:weights]
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=both)
    type(out).__name__, out.shape  # one tensor, no weights
    #> ('Tensor', torch.Size([2, 2, 4, 8]))
    w = sdpa_weights(q, k, both)  # (B, H, L, S)
    w.shape
    #> torch.Size([2, 2, 4, 4])
    torch.allclose(w @ v, out, atol=1e-6)
    #> True
    # sequence 1, head 0: causal, and keys 2 and 3 are padding
    (w[1, 0] > 0).int()
    #> tensor([[1, 0, 0, 0],
    #>         [1, 1, 0, 0],
    #>         [1, 1, 0, 0],
    #>         [1, 1, 0, 0]], dtype=torch.int32)
    # the same weights from the additive form of the mask
    add = to_additive(both, neg_inf=True)  # (B, 1, L, S)
    torch.allclose(sdpa_weights(q, k, add), w)
    #> True
    sdpa_weights(q, k, both.int())
    #> TypeError: attn_mask must be bool (True = take part) or a float mask
    #> (added to the scores), got torch.int32; a 0/1 'keep' mask becomes
    #> mask == 1
    sdpa_weights(q, k, both[:, 0, 0])  # (B, S), not (B, 1, 1, S)
    #> ValueError: mask of shape (2, 4) does not broadcast to the scores
    #> (B, H, L, S) = (2, 2, 4, 4); a padding mask is (B, 1, 1, S), a causal
    #> mask (L, S)
    # --8<-- [end:weights]

    # --8<-- [start:dropout]
    attend = Attend(dropout=0.5).eval()
    attend.training
    #> False
    _ = torch.manual_seed(1)
    first = attend(q, k, v)
    _ = torch.manual_seed(2)
    second = attend(q, k, v)
    torch.equal(first, second)  # eval mode, yet two different outputs
    #> False
    no_dropout = F.scaled_dot_product_attention(q, k, v)
    torch.equal(first, no_dropout)
    #> False
    fixed = AttendFixed(dropout=0.5).eval()
    _ = torch.manual_seed(1)
    first = fixed(q, k, v)
    _ = torch.manual_seed(2)
    torch.equal(first, fixed(q, k, v)), torch.equal(first, no_dropout)
    #> (True, True)
    # training mode: dropout again, as it should be
    torch.equal(fixed.train()(q, k, v), no_dropout)
    #> False
    # --8<-- [end:dropout]

    # --8<-- [start:mask_dtype]
    F.scaled_dot_product_attention(q, k, v, attn_mask=both.long())
    #> RuntimeError: Expected attn_mask dtype to be bool or float or to match
    #> query dtype, but got attn_mask.dtype: long int and  query.dtype: float
    #> instead.
    F.scaled_dot_product_attention(q, k, v, attn_mask=add.double())
    #> RuntimeError: Expected attn_mask dtype to be bool or float or to match
    #> query dtype, but got attn_mask.dtype: double and  query.dtype: float
    #> instead.
    mha = nn.MultiheadAttention(8, 2, batch_first=True)
    x = torch.randn(2, 4, 8)  # (B, L, E)
    # nn.MultiheadAttention: True = NOT allowed, for both masks
    pad = torch.tensor([[False, False, False, False],
                        [False, False, True, True]])  # (B, S)
    # (L, S) float: -inf on the future, added
    future = to_additive(causal_mask(4), neg_inf=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        mixed, _ = mha(x, x, x, key_padding_mask=pad, attn_mask=future)
    [str(c.message) for c in caught]
    #> ['Support for mismatched key_padding_mask and attn_mask is
    #> deprecated. Use same type for both instead.']
    future_bool = ~causal_mask(4)  # (L, S) bool: True = NOT allowed
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        same, _ = mha(x, x, x, key_padding_mask=pad, attn_mask=future_bool)
    len(caught), torch.allclose(same, mixed, atol=1e-6)
    #> (0, True)
    # --8<-- [end:mask_dtype]

    # --8<-- [start:mha_is_causal]
    mha(x, x, x, is_causal=True)
    #> RuntimeError: Need attn_mask if specifying the is_causal hint. You may
    #> use the Transformer module method `generate_square_subsequent_mask` to
    #> create this mask.
    hinted, _ = mha(x, x, x, attn_mask=future_bool, is_causal=True)
    plain, _ = mha(x, x, x, attn_mask=future_bool)
    torch.allclose(hinted, plain, atol=1e-6)
    #> True
    # a wrong hint: this mask hides key 0 and is not causal
    no_key0 = torch.zeros(4, 4, dtype=torch.bool)  # (L, S), True = NOT
    no_key0[:, 0] = True
    masked_out, _ = mha(x, x, x, attn_mask=no_key0)
    # need_weights=False, no key_padding_mask: the mask is dropped,
    # SDPA gets is_causal=True
    nw, _ = mha(x, x, x, attn_mask=no_key0, is_causal=True,
                need_weights=False)
    torch.allclose(nw, plain, atol=1e-6)
    #> True
    # need_weights=True: the mask is used
    w_on, _ = mha(x, x, x, attn_mask=no_key0, is_causal=True)
    torch.allclose(w_on, masked_out, atol=1e-6)
    #> True
    with torch.no_grad():  # eval and no_grad: the fast path uses the mask
        fast_nw, _ = mha.eval()(x, x, x, attn_mask=no_key0,
                                is_causal=True, need_weights=False)
    torch.allclose(fast_nw, masked_out, atol=1e-6)
    #> True
    with torch.no_grad():  # the fast path, no mask: no error, no causality
        silent, _ = mha(x, x, x, is_causal=True)
        unmasked, _ = mha(x, x, x)  # (B, L, E)
    torch.allclose(silent, unmasked, atol=1e-6)
    #> True
    torch.allclose(silent, plain, atol=1e-6)  # not the causal result
    #> False
    # --8<-- [end:mha_is_causal]

    # --8<-- [start:encoder_eval]
    _ = torch.manual_seed(0)
    layer = nn.TransformerEncoderLayer(
        d_model=8, nhead=2, dim_feedforward=16, dropout=0.0,
        batch_first=True,
    )
    encoder = nn.TransformerEncoder(layer, num_layers=2)
    x = torch.randn(2, 4, 8)  # (B, L, E)
    # (B, S), True = padding: sequence 1 has 2 real tokens
    pad = torch.tensor([[False, False, False, False],
                        [False, False, True, True]])
    trained = encoder.train()(x, src_key_padding_mask=pad)  # (B, L, E)
    # eval mode alone: the same computation
    evaluated = encoder.eval()(x, src_key_padding_mask=pad)
    torch.equal(evaluated, trained)
    #> True
    with torch.no_grad():  # eval and no_grad: the nested-tensor path
        fast_out = encoder.eval()(x, src_key_padding_mask=pad)  # (B, L, E)
    # the real tokens agree
    torch.allclose(fast_out[~pad], trained[~pad], atol=1e-6)
    #> True
    # the padded positions: zeros on the fast path only
    fast_out[1, 2:].eq(0).all().item(), trained[1, 2:].eq(0).any().item()
    #> (True, False)
    # --8<-- [end:encoder_eval]

    # --8<-- [start:backends]
    # the CPU has a fused kernel (flash) and the reference (math) one
    sdpa_backend(q, k, v), sdpa_backend(q, k, v, attn_mask=both)
    #> ('flash_attention_for_cpu', 'flash_attention_for_cpu')
    sdpa_backend(q, k, v, dropout_p=0.5)  # dropout: the math kernel
    #> 'attention_math'
    with sdpa_kernel(SDPBackend.MATH):  # allow one backend only
        name = sdpa_backend(q, k, v, attn_mask=both)
    name
    #> 'attention_math'
    with sdpa_kernel(SDPBackend.EFFICIENT_ATTENTION):  # a GPU-only kernel
        F.scaled_dot_product_attention(q, k, v)
    #> RuntimeError: No viable backend for scaled_dot_product_attention was
    #> found. This is likely due to turning off both the math kernel and the
    #> fused kernels.
    # --8<-- [end:backends]

    # --8<-- [start:gpu_backends]
    import torch
    import torch.nn.functional as F
    from torch.nn.attention import SDPBackend, sdpa_kernel
    from snippets.sdpa import sdpa_backend

    # each (B, H, L, D) = (2, 8, 128, 64), float16, on the GPU
    qg, kg, vg = torch.randn(
        3, 2, 8, 128, 64, device="cuda", dtype=torch.float16
    ).unbind(0)
    causal = torch.ones(128, 128, dtype=torch.bool, device="cuda").tril()
    flash = SDPBackend.FLASH_ATTENTION
    with sdpa_kernel(flash):  # causal as a flag: flash runs
        name = sdpa_backend(qg, kg, vg, is_causal=True)
    name
    #> 'flash_attention'
    with sdpa_kernel(flash):  # the same causal mask as a tensor
        F.scaled_dot_product_attention(qg, kg, vg, attn_mask=causal)
    #> RuntimeError: No available kernel. Aborting execution.
    with sdpa_kernel([flash, SDPBackend.EFFICIENT_ATTENTION]):
        name = sdpa_backend(qg, kg, vg, attn_mask=causal)
    name  # flash refused the mask; memory-efficient took it
    #> 'efficient_attention'
    with sdpa_kernel(flash):  # float32: flash takes float16/bfloat16 only
        F.scaled_dot_product_attention(qg.float(), kg.float(), vg.float())
    #> RuntimeError: No available kernel. Aborting execution.
    # --8<-- [end:gpu_backends]

    # --8<-- [start:module_on_sdpa]
    B, L, E, H = 2, 4, 8, 2
    mine = MultiHeadAttention(E, H)  # chapter 6, hand-written attention
    fast = SdpaMultiHeadAttention(E, H)
    fast.load_state_dict(mine.state_dict())  # the same weights
    #> <All keys matched successfully>
    x = torch.randn(B, L, E)  # (B, L, E)
    # (B, 1, L, S): causal, and sequence 1 has 3 real tokens
    mask = causal_mask(L) & padding_mask(torch.tensor([4, 3]), S=L)
    out, weights = mine(x, x, x, mask=mask)  # (B, L, E), (B, H, L, S)
    out_fast, none = fast(x, x, x, mask=mask)  # (B, L, E), None
    torch.allclose(out_fast, out, atol=1e-6), none
    #> (True, None)
    # the weights, when needed, from sdpa_weights on the same q and k
    qh = split_heads(fast.q_proj(x), H)  # (B, L, E) -> (B, H, L, D)
    kh = split_heads(fast.k_proj(x), H)  # (B, L, E) -> (B, H, L, D)
    torch.allclose(sdpa_weights(qh, kh, mask), weights, atol=1e-6)
    #> True
    fast(x, x, x, mask=mask.float())
    #> TypeError: mask must be a bool tensor (True = allowed), got
    #> torch.float32; a 0/1 'keep' mask becomes mask == 1, a mask of
    #> nn.MultiheadAttention (True = not allowed) becomes ~mask
    # --8<-- [end:module_on_sdpa]
