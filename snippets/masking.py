"""Chapter 4 — masking (掩码).

Included section by section by ``docs/masking.zh.md`` and
``docs/masking.en.md``. Sections that hold functions run as code on the page;
the sections inside ``sessions()`` are sessions: under each statement, what it
shows in ``#>`` lines, checked by the tests. Names follow the math: B batch, H
heads, L query length, S key length, D head_dim, E hidden size.

Conventions of this module: a boolean mask named ``allowed`` (or ``keep``) is
True where a query may look at a key — the convention of
``F.scaled_dot_product_attention``. Masks only have to broadcast against the
scores ``(B, H, L, S)``.
"""

# --8<-- [start:imports]
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel

# chapter 1: ValueError unless a positive int
from snippets.shapes import positive_int
# --8<-- [end:imports]


# --8<-- [start:identity_mha]
def identity_mha(E: int) -> nn.MultiheadAttention:
    """One-head nn.MultiheadAttention whose four projections are the identity
    and have no bias.

    Its attention scores are then exactly q @ kᵀ / √E of the tensors passed
    in, so its masks can be compared with hand-written ones on the same
    scores.
    """
    mha = nn.MultiheadAttention(E, num_heads=1, bias=False, batch_first=True)
    with torch.no_grad():
        # (3E, E): W_q = W_k = W_v = I
        mha.in_proj_weight.copy_(torch.eye(E).repeat(3, 1))
        mha.out_proj.weight.copy_(torch.eye(E))  # (E, E): W_o = I
    return mha.requires_grad_(False)
# --8<-- [end:identity_mha]


# --8<-- [start:mask_helpers]
def causal_mask(L: int, S: int | None = None, device=None) -> torch.Tensor:
    """(L, S) bool, True = allowed: query i may look at keys 0..i
    (top-left aligned, as is_causal)."""
    L = positive_int("L (number of queries)", L)
    S = L if S is None else positive_int("S (number of keys)", S)
    return torch.ones(L, S, dtype=torch.bool, device=device).tril()  # (L, S)


def padding_mask(lengths: torch.Tensor, S: int) -> torch.Tensor:
    """(B, 1, 1, S) bool, True = a real token: key j of sequence b is
    allowed iff j < lengths[b]."""
    check_padding_mask(lengths, S)
    B = lengths.shape[0]
    keep = torch.arange(S, device=lengths.device) < lengths[:, None]  # (B, S)
    # (B, 1, 1, S): broadcasts over heads and queries
    return keep.view(B, 1, 1, S)


def to_additive(
    allowed: torch.Tensor, dtype: torch.dtype = torch.float32,
    neg_inf: bool = False,
) -> torch.Tensor:
    """Bool mask (True = allowed) -> additive mask: 0 where allowed, a very
    negative number elsewhere.

    The negative number is torch.finfo(dtype).min (finite in every float
    dtype), or -inf with neg_inf=True. Same shape as ``allowed``.
    """
    check_to_additive(allowed, dtype)
    neg = float("-inf") if neg_inf else torch.finfo(dtype).min
    # same shape as allowed, all 0
    zeros = torch.zeros(allowed.shape, dtype=dtype, device=allowed.device)
    return zeros.masked_fill(~allowed, neg)  # same shape as allowed
# --8<-- [end:mask_helpers]


# --8<-- [start:mask_helpers_checks]
def check_padding_mask(lengths: torch.Tensor, S: int) -> None:
    """S a positive int; lengths a (B,) integer tensor, each in 1..S."""
    positive_int("S (padded length)", S)
    if not isinstance(lengths, torch.Tensor) or lengths.dim() != 1:
        is_tensor = isinstance(lengths, torch.Tensor)
        got = (
            f"shape {tuple(lengths.shape)}"
            if is_tensor
            else type(lengths).__name__
        )
        raise ValueError(
            "lengths must be a 1-D tensor with one "
            f"length per sequence (B,), got {got}"
        )
    dtype = lengths.dtype
    if (
        lengths.is_floating_point()
        or dtype == torch.bool
        or lengths.is_complex()
    ):
        raise TypeError(f"lengths must hold integers, got dtype {dtype}")
    if lengths.numel() and (lengths.min() < 1 or lengths.max() > S):
        raise ValueError(
            f"every length must be between 1 and S={S}, got "
            f"{lengths.tolist()}: a length 0 would leave its queries no key "
            "at all, a length > S does not fit the padded sequences"
        )


def check_to_additive(allowed: torch.Tensor, dtype: torch.dtype) -> None:
    """allowed a bool mask (True = allowed); dtype a floating-point dtype."""
    if not isinstance(allowed, torch.Tensor) or allowed.dtype != torch.bool:
        is_tensor = isinstance(allowed, torch.Tensor)
        got = allowed.dtype if is_tensor else type(allowed).__name__
        raise TypeError(
            f"to_additive expects a bool mask (True = allowed), got {got}; "
            f"turn a 0/1 'keep' mask into one with mask == 1"
        )
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise TypeError(
            "dtype must be a floating-point dtype "
            f"such as torch.float16, got {dtype!r}"
        )
# --8<-- [end:mask_helpers_checks]


# --8<-- [start:causal_module]
class CausalMask(nn.Module):
    """Masks the future in (B, H, L, S) scores; the (max_len, max_len)
    mask is kept as a buffer."""

    def __init__(self, max_len: int, persistent: bool = False):
        super().__init__()
        # (max_len, max_len) bool, True = allowed
        causal = causal_mask(max_len)
        self.register_buffer("causal", causal, persistent=persistent)

    def forward(self, scores: torch.Tensor) -> torch.Tensor:
        L, S = scores.shape[-2:]
        max_len = self.causal.shape[0]
        if L > max_len or S > max_len:
            raise ValueError(
                f"scores are (…, {L}, {S}) but this "
                f"CausalMask was built for at most {max_len}"
            )
        allowed = self.causal[:L, :S]  # (L, S): a view of the buffer, no copy
        return scores.masked_fill(~allowed, float("-inf"))  # (…, L, S)
# --8<-- [end:causal_module]


# --8<-- [start:masked_attention]
def masked_attention(q, k, v, mask=None, is_causal=False):
    """softmax(q·kᵀ/√D) · v with a bool mask (True = take part), like
    F.scaled_dot_product_attention.

    q: (B, H, L, D), k: (B, H, S, D), v: (B, H, S, Dv). mask: bool,
    broadcastable to (B, H, L, S). A query row with no allowed key gets zero
    weights, not NaN, explicitly and on every device (SDPA's CPU backends give
    the same zeros on x86 from torch 2.5 on; other paths give NaN).
    """
    check_attention_inputs(q, k, v, mask, is_causal)
    L, D, S = q.shape[2], q.shape[3], k.shape[2]
    if is_causal:
        mask = causal_mask(L, S, device=q.device)  # (L, S)
    scores = q @ k.transpose(-2, -1) / D**0.5  # (B, H, L, S)
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))  # (B, H, L, S)
    # (B, H, L, S); a row of only -inf gives NaN
    weights = torch.softmax(scores, dim=-1)
    if mask is not None:
        # (…, L, 1): rows with no allowed key
        no_key = ~mask.any(dim=-1, keepdim=True)
        # (B, H, L, S): those rows become zeros
        weights = weights.masked_fill(no_key, 0.0)
    return weights @ v  # (B, H, L, Dv)
# --8<-- [end:masked_attention]


# --8<-- [start:masked_attention_checks]
def check_attention_inputs(q, k, v, mask, is_causal: bool) -> None:
    """q (B, H, L, D), k (B, H, S, D), v (B, H, S, Dv);
    a bool mask or is_causal."""
    for name, t in (("q", q), ("k", k), ("v", v)):
        if t.dim() != 4:
            raise ValueError(
                f"{name} must be a 4-D (B, H, L or S, D) tensor, "
                f"got shape {tuple(t.shape)}"
            )
    B, H, L, D = q.shape
    S = k.shape[2]
    if k.shape[:2] != (B, H) or v.shape[:2] != (B, H):
        raise ValueError(
            f"q, k and v must share (B, H) = {(B, H)}, "
            f"got k {tuple(k.shape)} and v {tuple(v.shape)}"
        )
    if k.shape[3] != D:
        raise ValueError(
            "q and k must have the same head_dim, "
            f"got q D={D} and k D={k.shape[3]}"
        )
    if v.shape[2] != S:
        raise ValueError(
            "k and v must have the same number of keys, "
            f"got k S={S} and v S={v.shape[2]}"
        )
    if is_causal and mask is not None:
        raise ValueError(
            "give mask or is_causal=True, not both; "
            "combine them as mask & causal_mask(L, S)"
        )
    if mask is None:
        return
    if mask.dtype != torch.bool:
        raise TypeError(
            "mask must be a bool tensor (True = take part), "
            f"got dtype {mask.dtype}; a 0/1 'keep' mask becomes mask == 1, "
            "a 1 = 'masked' mask becomes mask == 0"
        )
    check_mask_fits(mask, (B, H, L, S))


def check_mask_fits(mask: torch.Tensor, scores_shape: tuple) -> None:
    """The mask must broadcast to the scores (B, H, L, S), not grow them."""
    try:
        fits = (
            torch.broadcast_shapes(mask.shape, scores_shape) == scores_shape
        )
    except RuntimeError:
        fits = False
    if not fits:
        raise ValueError(
            f"mask of shape {tuple(mask.shape)} does not broadcast to the "
            f"scores (B, H, L, S) = {scores_shape}; "
            "a padding mask is (B, 1, 1, S), a causal mask (L, S)"
        )
# --8<-- [end:masked_attention_checks]


def sessions():
    """The chapter's sessions, run section by section by the pages, in page
    order; not run on import. One function body, so the names a section leaves
    for the next are plain to see. Under each statement, its output in ``#>``
    lines."""
    # --8<-- [start:bool_vs_additive]
    scores = torch.arange(9.0).view(1, 1, 3, 3)  # (B, H, L, S) = (1, 1, 3, 3)
    allowed = torch.tensor(
        [[True, False, True], [True, True, False], [False, True, True]]
    )  # (L, S): True = may look
    # boolean mask: replace
    by_fill = scores.masked_fill(~allowed, float("-inf"))
    by_fill
    #> tensor([[[[0., -inf, 2.],
    #>           [3., 4., -inf],
    #>           [-inf, 7., 8.]]]])
    # (L, S)
    additive = torch.zeros(3, 3).masked_fill(~allowed, float("-inf"))
    additive
    #> tensor([[0., -inf, 0.],
    #>         [0., 0., -inf],
    #>         [-inf, 0., 0.]])
    torch.equal(scores + additive, by_fill)
    #> True
    torch.softmax(by_fill, dim=-1)
    #> tensor([[[[0.1192, 0.0000, 0.8808],
    #>           [0.2689, 0.7311, 0.0000],
    #>           [0.0000, 0.2689, 0.7311]]]])
    scores.mask_fill(~allowed, float("-inf"))
    #> AttributeError: 'Tensor' object has no attribute 'mask_fill'
    # --8<-- [end:bool_vs_additive]

    # --8<-- [start:broadcast]
    B, H, L, S = 2, 2, 3, 3
    scores = torch.arange(B * H * L * S, dtype=torch.float32).view(B, H, L, S)
    # sequence 1: its last key is padding
    keep = torch.tensor([[True, True, True],
                         [True, True, False]]).view(B, 1, 1, S)
    keep.shape, scores.shape
    #> (torch.Size([2, 1, 1, 3]), torch.Size([2, 2, 3, 3]))
    masked = scores.masked_fill(~keep, float("-inf"))  # (B, H, L, S)
    masked[1, 0]
    #> tensor([[18., 19., -inf],
    #>         [21., 22., -inf],
    #>         [24., 25., -inf]])
    full = keep.expand(B, H, L, S)  # the full-size mask, as a view
    full.shape, full.stride(), full.data_ptr() == keep.data_ptr()
    #> (torch.Size([2, 2, 3, 3]), (3, 0, 0, 1), True)
    torch.equal(masked, scores.masked_fill(~full.contiguous(), float("-inf")))
    #> True
    # (B, S) aligns with (L, S), not (B, S)
    scores.masked_fill(~keep.view(B, S), float("-inf"))
    #> RuntimeError: The size of tensor a (2) must match the size of tensor b
    #> (3) at non-singleton dimension 2
    square = torch.zeros(2, 1, 2, 3)  # (B, H, L, S) with B = L = 2
    # no error, but sequence 0 has no padding
    square.masked_fill(~keep.view(B, S), float("-inf"))[0, 0]
    #> tensor([[0., 0., 0.],
    #>         [0., 0., -inf]])
    # --8<-- [end:broadcast]

    # --8<-- [start:seed_conventions]
    B, H, L, S, D = 2, 1, 3, 3, 3
    # (B, L, D): token l is the unit vector e_l
    x = torch.eye(D).expand(B, L, D)
    # (B, H, L, D); v = I makes the output equal the weights
    q = k = v = x.view(B, H, L, D)
    scores = q @ k.transpose(-2, -1) / D**0.5  # (B, H, L, S)
    # sequence 1: key 2 is padding
    allowed = torch.tensor([[True, True, True],
                            [True, True, False]]).view(B, 1, 1, S)
    reference = torch.softmax(
        scores.masked_fill(~allowed, float("-inf")), dim=-1
    )
    reference[0, 0]
    #> tensor([[0.4711, 0.2645, 0.2645],
    #>         [0.2645, 0.4711, 0.2645],
    #>         [0.2645, 0.2645, 0.4711]])
    reference[1, 0]
    #> tensor([[0.6405, 0.3595, 0.0000],
    #>         [0.3595, 0.6405, 0.0000],
    #>         [0.5000, 0.5000, 0.0000]])
    # source note 004: 0 = ignore
    mask_004 = torch.tensor([[1, 1, 1], [1, 1, 0]]).view(B, 1, 1, S)
    w_004 = torch.softmax(scores.masked_fill(mask_004 == 0, -1e9), dim=-1)
    torch.allclose(w_004, reference)
    #> True
    # source note 002: 1 = masked
    mask_002 = torch.tensor([[0.0, 0, 0], [0, 0, 1]]).view(B, 1, 1, S)
    w_002 = torch.softmax(scores + mask_002 * -1e9, dim=-1)
    torch.allclose(w_002, reference)
    #> True
    (scores + mask_002 * -1e9)[1, 0, 0]
    #> tensor([ 5.7735e-01,  0.0000e+00, -1.0000e+09])
    # the padding key's weight: exactly 0, not just small
    w_002[1, 0, 0], w_002[1, 0, 0, 2].item()
    #> (tensor([0.6405, 0.3595, 0.0000]), 0.0)
    # 004's mask, 002's rule
    torch.allclose(torch.softmax(scores + mask_004 * -1e9, dim=-1), reference)
    #> False
    # --8<-- [end:seed_conventions]

    # --8<-- [start:hugging_face]
    # (B, S): 1 = real token, 0 = padding
    attention_mask = torch.tensor([[1, 1, 1], [1, 1, 0]])
    # (B, 1, 1, S) bool, True = allowed
    hf_allowed = attention_mask[:, None, None, :] == 1
    torch.equal(hf_allowed, allowed)
    #> True
    fp32_min = torch.finfo(torch.float32).min
    # (B, 1, 1, S)
    hf_additive = (1.0 - attention_mask[:, None, None, :]) * fp32_min
    hf_additive[1, 0, 0]
    #> tensor([-0.0000e+00, -0.0000e+00, -3.4028e+38])
    torch.allclose(torch.softmax(scores + hf_additive, dim=-1), reference)
    #> True
    # seed 002's mask is the opposite
    torch.equal(1 - attention_mask, mask_002.view(B, S).long())
    #> True
    # --8<-- [end:hugging_face]

    # --8<-- [start:mha]
    mha = identity_mha(D)
    # (B, S): True = padding, NOT allowed
    key_padding_mask = torch.tensor([[False, False, False],
                                     [False, False, True]])
    out, w = mha(x, x, x, key_padding_mask=key_padding_mask)
    w.shape
    #> torch.Size([2, 3, 3])
    torch.allclose(w, reference[:, 0])
    #> True
    # (B·H, L, S): True = NOT allowed
    attn_mask = ~allowed.expand(B, H, L, S).reshape(B * H, L, S)
    out, w = mha(x, x, x, attn_mask=attn_mask)
    torch.allclose(w, reference[:, 0])
    #> True
    # wrong way round
    out, w = mha(
        x, x, x, attn_mask=allowed.expand(B, H, L, S).reshape(B * H, L, S)
    )
    w[1]
    #> tensor([[0., 0., 1.],
    #>         [0., 0., 1.],
    #>         [0., 0., 1.]])
    # --8<-- [end:mha]

    # --8<-- [start:sdpa]
    # True = TAKE PART
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=allowed)
    out.shape
    #> torch.Size([2, 1, 3, 3])
    torch.allclose(out, reference)
    #> True
    torch.allclose(
        F.scaled_dot_product_attention(q, k, v, attn_mask=~allowed), reference
    )
    #> False
    # a float mask is added
    additive = torch.zeros(B, 1, 1, S).masked_fill(~allowed, float("-inf"))
    torch.allclose(
        F.scaled_dot_product_attention(q, k, v, attn_mask=additive), reference
    )
    #> True
    # --8<-- [end:sdpa]

    # --8<-- [start:fill_values]
    scores = torch.arange(9.0).view(1, 1, 3, 3)  # (B, H, L, S)
    # (L, S): query 0 may look at no key
    allowed = torch.tensor([[False, False, False],
                            [True, True, False],
                            [True, True, True]])
    fills = {
        "-inf": float("-inf"), "-1e9": -1e9,
        "finfo.min": torch.finfo(torch.float32).min,
    }
    w = {
        name: torch.softmax(scores.masked_fill(~allowed, fill), dim=-1)
        for name, fill in fills.items()
    }
    w["-inf"][0, 0, 1:]
    #> tensor([[0.2689, 0.7311, 0.0000],
    #>         [0.0900, 0.2447, 0.6652]])
    all(
        torch.equal(w[name][..., 1:, :], w["-inf"][..., 1:, :])
        for name in fills
    )
    #> True
    {name: w[name][0, 0, 0] for name in fills}  # query 0: no allowed key
    #> {'-inf': tensor([nan, nan, nan]), '-1e9':
    #> tensor([0.3333, 0.3333, 0.3333]), 'finfo.min':
    #> tensor([0.3333, 0.3333, 0.3333])}
    # (B, H, L, 1): each query's output, values all 1
    out = w["-inf"] @ torch.ones(3, 1)
    out[0, 0, :, 0]
    #> tensor([nan, 1., 1.])
    # next layer: weight 0 on token 0, still NaN
    torch.tensor([0.0, 0.5, 0.5]) @ out[0, 0]
    #> tensor([nan])
    # --8<-- [end:fill_values]

    # --8<-- [start:fp16]
    s16 = scores.half()  # (1, 1, 3, 3) in float16
    s16.masked_fill(~allowed, -1e9)
    #> RuntimeError: value cannot be converted to type c10::Half without
    #> overflow
    torch.finfo(torch.float16).min, torch.finfo(torch.float16).max
    #> (-65504.0, 65504.0)
    torch.tensor([1.], dtype=torch.float16) * -1e9
    #> tensor([-inf], dtype=torch.float16)
    masked16 = (~allowed).half()  # source note 002's "1 = masked", in float16
    s16 + masked16 * -1e9
    #> tensor([[[[-inf, -inf, -inf],
    #>           [3., 4., -inf],
    #>           [6., 7., 8.]]]], dtype=torch.float16)
    torch.softmax(s16 + masked16 * -1e9, dim=-1)[0, 0, 0]
    #> tensor([nan, nan, nan], dtype=torch.float16)
    torch.softmax(
        s16.masked_fill(~allowed, torch.finfo(torch.float16).min), dim=-1
    )[0, 0, 0]
    #> tensor([0.3333, 0.3333, 0.3333], dtype=torch.float16)
    # adding can overflow
    (
        torch.tensor([-20.0], dtype=torch.float16)
        + torch.finfo(torch.float16).min
    )
    #> tensor([-inf], dtype=torch.float16)
    # --8<-- [end:fp16]

    # --8<-- [start:library_full_row]
    # (B, H, L, D); v = I: output row = weight row
    q = k = v = torch.eye(3).view(1, 1, 3, 3)
    for backend in (SDPBackend.MATH, SDPBackend.FLASH_ATTENTION):
        with sdpa_kernel(backend):
            out = F.scaled_dot_product_attention(q, k, v, attn_mask=allowed)
        print(
            backend.name, out[0, 0, 0].tolist(), torch.isnan(out).any().item()
        )
    #> MATH [0.0, 0.0, 0.0] False
    #> FLASH_ATTENTION [0.0, 0.0, 0.0] False
    # which kernel does the default call run?
    with torch.profiler.profile() as prof:
        _ = F.scaled_dot_product_attention(q, k, v, attn_mask=allowed)
    "aten::_scaled_dot_product_flash_attention_for_cpu" in {
        e.key for e in prof.key_averages()
    }
    #> True
    # and the math backend?
    with sdpa_kernel(SDPBackend.MATH), torch.profiler.profile() as prof:
        _ = F.scaled_dot_product_attention(q, k, v, attn_mask=allowed)
    {"aten::_scaled_dot_product_attention_math", "aten::_safe_softmax"} <= {
        e.key for e in prof.key_averages()
    }
    #> True
    # (L, S) additive
    neg_inf = torch.zeros(3, 3).masked_fill(~allowed, float("-inf"))
    F.scaled_dot_product_attention(q, k, v, attn_mask=neg_inf)[0, 0, 0]
    #> tensor([0., 0., 0.])
    row0 = neg_inf[:1]  # (1, S): only -inf
    torch.softmax(row0, dim=-1)[0], torch.ops.aten._safe_softmax(row0, -1)[0]
    #> (tensor([nan, nan, nan]), tensor([0., 0., 0.]))
    minus_1e9 = torch.zeros(3, 3).masked_fill(~allowed, -1e9)
    F.scaled_dot_product_attention(q, k, v, attn_mask=minus_1e9)[0, 0, 0]
    #> tensor([0.3333, 0.3333, 0.3333])
    x = torch.eye(3).view(1, 3, 3)  # (B, L, E)
    # training mode and an odd head count: never the fast path
    mha.training, mha.num_heads
    #> (True, 1)
    # need_weights=True (the default)
    out, w = mha(x, x, x, attn_mask=~allowed)
    out[0, 0], w[0, 0]
    #> (tensor([nan, nan, nan]), tensor([nan, nan, nan]))
    # does need_weights=False call SDPA?
    with torch.profiler.profile() as prof:
        out, w = mha(x, x, x, attn_mask=~allowed, need_weights=False)
    "aten::scaled_dot_product_attention" in {
        e.key for e in prof.key_averages()
    }
    #> True
    out[0, 0], w
    #> (tensor([0., 0., 0.]), None)
    # bias=False as well: no fast path in eval mode either
    mha.in_proj_bias is None
    #> True
    # eval mode, autograd off
    with torch.no_grad(), torch.profiler.profile() as prof:
        out, w = mha.eval()(x, x, x, attn_mask=~allowed)
    ops = {e.key for e in prof.key_averages()}
    "aten::_native_multi_head_attention" in ops, out[0, 0]
    #> (False, tensor([nan, nan, nan]))
    # --8<-- [end:library_full_row]

    # --8<-- [start:causal]
    L = 4
    # True = masked (the future)
    future = torch.triu(torch.ones(L, L, dtype=torch.bool), diagonal=1)
    future
    #> tensor([[False,  True,  True,  True],
    #>         [False, False,  True,  True],
    #>         [False, False, False,  True],
    #>         [False, False, False, False]])
    # True = allowed (past and present)
    past = torch.tril(torch.ones(L, L, dtype=torch.bool))
    torch.equal(~future, past), torch.equal(causal_mask(L), past)
    #> (True, True)
    # each (B, H, L, D) = (2, 2, 4, 8)
    q, k, v = torch.randn(3, 2, 2, L, 8).unbind(0)
    by_flag = F.scaled_dot_product_attention(q, k, v, is_causal=True)
    torch.allclose(
        by_flag,
        F.scaled_dot_product_attention(q, k, v, attn_mask=causal_mask(L)),
    )
    #> True
    torch.allclose(
        by_flag, F.scaled_dot_product_attention(q, k, v, attn_mask=future)
    )
    #> False
    # L = 2 queries, S = 4 keys: aligned top-left, like is_causal=True
    causal_mask(2, 4)
    #> tensor([[ True, False, False, False],
    #>         [ True,  True, False, False]])
    # bottom-right aligned: the last query sees every key
    torch.ones(2, 4, dtype=torch.bool).tril(diagonal=4 - 2)
    #> tensor([[ True,  True,  True, False],
    #>         [ True,  True,  True,  True]])
    causal_mask(0)
    #> ValueError: L (number of queries) must be a positive int, got 0
    causal_mask(3, 2.0)
    #> ValueError: S (number of keys) must be a positive int, got 2.0
    # --8<-- [end:causal]

    # --8<-- [start:padding_combined]
    # (B, 1, 1, S): sequence 1 has 2 real tokens
    pad = padding_mask(torch.tensor([4, 2]), S=4)
    pad.shape
    #> torch.Size([2, 1, 1, 4])
    pad[:, 0, 0]
    #> tensor([[ True,  True,  True,  True],
    #>         [ True,  True, False, False]])
    # allowed AND allowed: (L, S) & (B, 1, 1, S) -> (B, 1, L, S)
    both = causal_mask(4) & pad
    both.shape
    #> torch.Size([2, 1, 4, 4])
    both[1, 0]
    #> tensor([[ True, False, False, False],
    #>         [ True,  True, False, False],
    #>         [ True,  True, False, False],
    #>         [ True,  True, False, False]])
    # masked OR masked, for "True = NOT allowed" (nn.MultiheadAttention)
    not_allowed = future | ~pad
    torch.equal(not_allowed, ~both)
    #> True
    # left padding: the real tokens at the end
    left = torch.tensor([0, 0, 1, 1]).view(1, 1, 1, 4) == 1
    # does each query keep at least one key?
    (causal_mask(4) & left).any(dim=-1)
    #> tensor([[[False, False,  True,  True]]])
    padding_mask(torch.tensor([3, 0]), S=4)
    #> ValueError: every length must be between 1 and S=4, got [3, 0]: a
    #> length 0 would leave its queries no key at all, a length > S does not
    #> fit the padded sequences
    padding_mask(torch.tensor([2.0, 3.0]), S=4)
    #> TypeError: lengths must hold integers, got dtype torch.float32
    padding_mask(torch.tensor([[2, 3]]), S=4)
    #> ValueError: lengths must be a 1-D tensor with one length per sequence
    #> (B,), got shape (1, 2)
    # --8<-- [end:padding_combined]

    # --8<-- [start:additive]
    to_additive(both[1, 0, :2])  # finfo(float32).min where not allowed
    #> tensor([[ 0.0000e+00, -3.4028e+38, -3.4028e+38, -3.4028e+38],
    #>         [ 0.0000e+00,  0.0000e+00, -3.4028e+38, -3.4028e+38]])
    to_additive(both[1, 0, :2], torch.float16)
    #> tensor([[     0., -65504., -65504., -65504.],
    #>         [     0.,      0., -65504., -65504.]], dtype=torch.float16)
    to_additive(both[1, 0, :2], neg_inf=True)
    #> tensor([[0., -inf, -inf, -inf],
    #>         [0., 0., -inf, -inf]])
    # each (B, H, L, D) = (2, 2, 4, 8)
    q, k, v = torch.randn(3, 2, 2, 4, 8).unbind(0)
    torch.allclose(
        F.scaled_dot_product_attention(q, k, v, attn_mask=to_additive(both)),
        F.scaled_dot_product_attention(q, k, v, attn_mask=both),
    )
    #> True
    to_additive(torch.tensor([[1, 0]]))
    #> TypeError: to_additive expects a bool mask (True = allowed), got
    #> torch.int64; turn a 0/1 'keep' mask into one with mask == 1
    to_additive(both, torch.int32)
    #> TypeError: dtype must be a floating-point dtype such as torch.float16,
    #> got torch.int32
    # --8<-- [end:additive]

    # --8<-- [start:buffers]
    m = CausalMask(max_len=3)  # persistent=False
    m(torch.zeros(1, 1, 3, 3))
    #> tensor([[[[0., -inf, -inf],
    #>           [0., 0., -inf],
    #>           [0., 0., 0.]]]])
    list(m.parameters()), [name for name, _ in m.named_buffers()]
    #> ([], ['causal'])
    # nothing for an optimizer to update
    torch.optim.SGD(m.parameters(), lr=0.1)
    #> ValueError: optimizer got an empty parameter list
    (
        list(m.state_dict().keys()),
        list(CausalMask(max_len=3, persistent=True).state_dict().keys()),
    )
    #> ([], ['causal'])
    # .to(dtype) converts floating buffers only
    m.to(torch.float64).causal.dtype
    #> torch.bool
    # .to(device) moves every buffer
    CausalMask(max_len=3).to("meta").causal.device
    #> device(type='meta')
    bn = nn.BatchNorm1d(2)  # its running statistics are buffers too
    [name for name, _ in bn.named_buffers()]
    #> ['running_mean', 'running_var', 'num_batches_tracked']
    bn.running_mean
    #> tensor([0., 0.])
    _ = bn(torch.tensor([[1., 2.], [3., 4.]]))  # one forward in training mode
    bn.running_mean, bn.num_batches_tracked
    #> (tensor([0.2000, 0.3000]), tensor(1))
    bn.to(torch.float64).running_mean.dtype
    #> torch.float64
    # --8<-- [end:buffers]

    # --8<-- [start:masked_attention_check]
    # each (B, H, L, D) = (2, 2, 4, 8)
    q, k, v = torch.randn(3, 2, 2, 4, 8).unbind(0)
    mask = padding_mask(torch.tensor([4, 3]), S=4)  # (B, 1, 1, S)
    torch.allclose(
        masked_attention(q, k, v, mask),
        F.scaled_dot_product_attention(q, k, v, attn_mask=mask), atol=1e-6,
    )
    #> True
    torch.allclose(
        masked_attention(q, k, v, is_causal=True),
        F.scaled_dot_product_attention(q, k, v, is_causal=True), atol=1e-6,
    )
    #> True
    row0_empty = causal_mask(4) & left  # queries 0 and 1 have no allowed key
    torch.equal(
        masked_attention(q, k, v, row0_empty)[:, :, :2],
        torch.zeros(2, 2, 2, 8),
    )
    #> True
    torch.allclose(
        masked_attention(q, k, v, row0_empty),
        F.scaled_dot_product_attention(q, k, v, attn_mask=row0_empty),
        atol=1e-6,
    )
    #> True
    masked_attention(q, k, v, mask.int())
    #> TypeError: mask must be a bool tensor (True = take part), got dtype
    #> torch.int32; a 0/1 'keep' mask becomes mask == 1, a 1 = 'masked' mask
    #> becomes mask == 0
    masked_attention(q, k, v, mask.view(2, 4))
    #> ValueError: mask of shape (2, 4) does not broadcast to the scores
    #> (B, H, L, S) = (2, 2, 4, 4); a padding mask is (B, 1, 1, S), a causal
    #> mask (L, S)
    masked_attention(q, k[..., :4], v)
    #> ValueError: q and k must have the same head_dim, got q D=8 and k D=4
    masked_attention(q[0], k, v)
    #> ValueError: q must be a 4-D (B, H, L or S, D) tensor, got shape
    #> (2, 4, 8)
    masked_attention(q, k, v, mask, is_causal=True)
    #> ValueError: give mask or is_causal=True, not both; combine them as mask
    #> & causal_mask(L, S)
    # --8<-- [end:masked_attention_check]
