"""Chapter 5 — nn.MultiheadAttention: batch_first and need_weights
(batch_first 与 need_weights).

Included section by section by ``docs/mha.zh.md`` and ``docs/mha.en.md``.
Sections that hold functions run as code on the page; the sections inside
``sessions()`` are sessions: under each statement, what it shows in ``#>``
lines, checked by the tests. Names follow the math and PyTorch's documentation
of ``nn.MultiheadAttention``: N batch, L query sequence length, S key sequence
length, E hidden size (``embed_dim``), H heads (``num_heads``), D = E // H
head_dim.
"""

# --8<-- [start:imports]
from collections import Counter

import torch
import torch.nn as nn
from torch.profiler import ProfilerActivity, profile

from snippets.cublas import seconds_per_call  # chapter 3: torch's Timer

# chapter 2: aten:: op counts of one call
from snippets.matmul import count_ops

# chapter 1: ValueError unless a positive int
from snippets.shapes import positive_int
# --8<-- [end:imports]


# --8<-- [start:attend_batch_first]
def attend_batch_first(mha: nn.MultiheadAttention, x: torch.Tensor, **kwargs):
    """Self-attention on a batch-first x of shape (N, L, E), whatever
    mha.batch_first says.

    Returns the pair (attn_output, attn_weights) with attn_output batch-first
    (N, L, E). The layout is decided here, in one place, instead of at every
    call site.
    """
    check_attend_batch_first(mha, x)
    if mha.batch_first:
        return mha(x, x, x, **kwargs)  # (N, L, E) in and out
    # (L, N, E): the layout a sequence-first module expects
    xs = x.transpose(0, 1)
    # out: (L, N, E); weights are (N, L, S) either way
    out, weights = mha(xs, xs, xs, **kwargs)
    return out.transpose(0, 1), weights  # (N, L, E)
# --8<-- [end:attend_batch_first]


# --8<-- [start:attend_batch_first_checks]
def _check_module(mha) -> None:
    """mha must be an nn.MultiheadAttention."""
    if not isinstance(mha, nn.MultiheadAttention):
        raise TypeError(
            f"expected an nn.MultiheadAttention, got {type(mha).__name__}"
        )


def check_attend_batch_first(
    mha: nn.MultiheadAttention, x: torch.Tensor
) -> None:
    """mha an nn.MultiheadAttention; x a batch-first (N, L, E) tensor,
    E = embed_dim."""
    _check_module(mha)
    if not isinstance(x, torch.Tensor) or x.dim() != 3:
        got = (
            f"shape {tuple(x.shape)}"
            if isinstance(x, torch.Tensor)
            else type(x).__name__
        )
        raise ValueError(
            f"x must be a batch-first (N, L, E) tensor, got {got}"
        )
    if x.shape[-1] != mha.embed_dim:
        raise ValueError(
            "x's last dim must be the hidden size E = embed_dim = "
            f"{mha.embed_dim}, got shape {tuple(x.shape)}"
        )
# --8<-- [end:attend_batch_first_checks]


# --8<-- [start:wrapper]
class MHAPyTorchClass(nn.Module):
    """Source note 003's wrapper, as the LLMs-from-scratch notebooks define
    it (the code is kept as is, unused d_in included; the comments are ours):
    it calls nn.MultiheadAttention, throws the weights away and returns ONE
    tensor, whatever need_weights says. Its default qkv_bias=False means
    bias=False, so the fast path never runs (see why_not_fast_path)."""

    def __init__(self, d_in, d_out, num_heads, context_length,
                 dropout=0.0, qkv_bias=False, need_weights=True):
        super().__init__()
        self.context_length = context_length
        self.multihead_attn = nn.MultiheadAttention(
            embed_dim=d_out, num_heads=num_heads, dropout=dropout,
            bias=qkv_bias, add_bias_kv=qkv_bias, batch_first=True,
        )
        self.need_weights = need_weights
        self.proj = nn.Linear(d_out, d_out)
        self.register_buffer(
            "mask",
            torch.triu(
                torch.ones(context_length, context_length), diagonal=1
            ).bool(),
        )  # (T, T): True above the diagonal = the future, not allowed

    def forward(self, x):
        batch_size, num_tokens, _ = x.shape  # x: (N, L, E)
        if self.context_length >= num_tokens:
            attn_mask = self.mask[:num_tokens, :num_tokens]  # (L, L)
        else:
            T = self.context_length
            # (T, T): for L > T it does not fit the (L, L) scores, and the
            # call below raises a RuntimeError
            attn_mask = self.mask[:T, :T]
        attn_output, _ = self.multihead_attn(
            x, x, x, attn_mask=attn_mask, need_weights=self.need_weights
        )  # attn_output: (N, L, E); the weights (or None) are dropped here
        output = self.proj(attn_output)  # (N, L, E)
        return output  # one tensor, not a pair
# --8<-- [end:wrapper]


# --8<-- [start:padding_to_attn_mask]
def padding_to_attn_mask(
    key_padding_mask: torch.Tensor, num_heads: int, L: int
) -> torch.Tensor:
    """(N, S) bool key_padding_mask -> the equivalent (N·H, L, S) attn_mask
    (True = not allowed).

    Row n·H + h belongs to sequence n and head h:
    F.multi_head_attention_forward views the projected (L, N, E) as
    (L, N·H, D), so the heads of one sequence are adjacent.
    """
    check_padding_to_attn_mask(key_padding_mask, num_heads, L)
    N, S = key_padding_mask.shape
    m = key_padding_mask.view(N, 1, 1, S)  # (N, 1, 1, S)
    # (N, H, L, S): a view, stride 0 along H and L
    m = m.expand(N, num_heads, L, S)
    return m.reshape(N * num_heads, L, S)  # (N·H, L, S): row n·H + h
# --8<-- [end:padding_to_attn_mask]


# --8<-- [start:padding_to_attn_mask_checks]
def check_padding_to_attn_mask(
    kpm: torch.Tensor, num_heads: int, L: int
) -> None:
    """kpm, the key_padding_mask: (N, S) bool; num_heads, L positive ints."""
    positive_int("num_heads", num_heads)
    positive_int("L (number of queries)", L)
    if not isinstance(kpm, torch.Tensor) or kpm.dim() != 2:
        is_tensor = isinstance(kpm, torch.Tensor)
        got = f"shape {tuple(kpm.shape)}" if is_tensor else type(kpm).__name__
        raise ValueError(
            "key_padding_mask must be (N, S), one row of keys per sequence, "
            f"got {got}"
        )
    if kpm.dtype != torch.bool:
        raise TypeError(
            "key_padding_mask must be bool (True = padding, not allowed), "
            f"got {kpm.dtype}"
        )
# --8<-- [end:padding_to_attn_mask_checks]


# --8<-- [start:attention_path]
def attention_path(ops: Counter) -> str:
    """Which of the module's three paths ran, read from count_ops(...)."""
    if "aten::_native_multi_head_attention" in ops:
        # MultiheadAttention.forward -> torch._native_multi_head_attention
        return "fast path"
    if "aten::scaled_dot_product_attention" in ops:
        return "sdpa"  # F.multi_head_attention_forward, need_weights=False
    if "aten::softmax" in ops:
        # F.multi_head_attention_forward, need_weights=True
        return "bmm + softmax"
    raise ValueError(
        f"no attention operator among the {len(ops)} ATen operators recorded"
    )
# --8<-- [end:attention_path]


# --8<-- [start:why_not_fast_path]
def why_not_fast_path(
    mha: nn.MultiheadAttention, query, key, value, key_padding_mask=None,
    attn_mask=None,
) -> str:
    """The checks of nn.MultiheadAttention.forward (PyTorch 2.13,
    torch/nn/modules/activation.py) in their order and with their exact
    messages; '' means the fast path runs. Of the four checks that follow the
    chain of elifs, three are left out (__torch_function__ overrides, unusual
    devices, make_fx tracing); the grad check is kept."""
    _check_module(mha)
    reason = ""
    if (attn_mask is not None and torch.is_floating_point(attn_mask)) or (
        key_padding_mask is not None
        and torch.is_floating_point(key_padding_mask)
    ):
        reason = "floating-point masks are not supported for fast path."
    if not torch.backends.mha.get_fastpath_enabled():
        reason = "torch.backends.mha.get_fastpath_enabled() was not True"
    elif query.dim() != 3:
        reason = (
            "input not batched; expected query.dim() of 3 "
            f"but got {query.dim()}"
        )
    elif query is not key or key is not value:
        reason = (
            "non-self attention was used "
            "(query, key, and value are not the same Tensor)"
        )
    elif (
        mha.in_proj_bias is not None and query.dtype != mha.in_proj_bias.dtype
    ):
        reason = (
            f"dtypes of query ({query.dtype}) and self.in_proj_bias "
            f"({mha.in_proj_bias.dtype}) don't match"
        )
    elif mha.in_proj_weight is None:
        reason = "in_proj_weight was None"
    elif query.dtype != mha.in_proj_weight.dtype:
        reason = (f"dtypes of query ({query.dtype}) and self.in_proj_weight "
                  f"({mha.in_proj_weight.dtype}) don't match")
    elif mha.training:
        reason = "training is enabled"
    elif mha.num_heads % 2 != 0:
        reason = "self.num_heads is not even"
    elif not mha.batch_first:
        reason = "batch_first was not True"
    elif mha.bias_k is not None:
        reason = "self.bias_k was not None"
    elif mha.bias_v is not None:
        reason = "self.bias_v was not None"
    elif mha.add_zero_attn:
        reason = "add_zero_attn was enabled"
    elif not mha._qkv_same_embed_dim:
        reason = "_qkv_same_embed_dim was not True"
    elif query.is_nested and (
        key_padding_mask is not None or attn_mask is not None
    ):
        # the source's string, exactly: a backslash continuation leaves 34
        # spaces in it, and it says "both" although either mask alone blocks
        # the fast path
        reason = (
            "supplying both src_key_padding_mask "
            "and src_mask at the same time"
            + " " * 34
            + "is not supported with NestedTensor input"
        )
    elif torch.is_autocast_enabled():
        reason = "autocast is enabled"
    if reason:
        return reason
    tensors = (
        query, key, value, mha.in_proj_weight, mha.in_proj_bias,
        mha.out_proj.weight, mha.out_proj.bias,
    )
    if torch.is_grad_enabled() and any(
        t is not None and t.requires_grad for t in tensors
    ):
        return (
            "grad is enabled and at least one of query or the input/output "
            "projection weights or biases requires_grad"
        )
    # the source has no message for this: it just skips the call
    if mha.in_proj_bias is None:
        return "(no message) in_proj_bias is None: no fast-path call"
    return ""
# --8<-- [end:why_not_fast_path]


# --8<-- [start:time_mha_paths]
def time_mha_paths(
    L: int, N: int = 2, E: int = 64, num_heads: int = 4, repeat: int = 5
) -> dict:
    """Seconds per self-attention call of nn.MultiheadAttention on the CPU,
    per path.

    The same module (eval mode) and input, all under torch.no_grad():
    'bmm + softmax' is need_weights=True and 'sdpa' need_weights=False, both
    with the fast path switched off by
    torch.backends.mha.set_fastpath_enabled(False);
    'fast path' is need_weights=False with it on. The profiler checks that
    each path really ran (that call is also the warm-up).
    """
    check_time_mha_paths(L, N, E, num_heads, repeat)
    mha = nn.MultiheadAttention(E, num_heads, batch_first=True).eval()
    x = torch.randn(N, L, E)  # (N, L, E)
    paths = {
        "bmm + softmax": (False, True), "sdpa": (False, False),
        "fast path": (True, False),
    }
    previous = torch.backends.mha.get_fastpath_enabled()
    times = {}
    try:
        with torch.no_grad():
            for path, (fast_path_enabled, need_weights) in paths.items():
                torch.backends.mha.set_fastpath_enabled(fast_path_enabled)

                def call():
                    # out: (N, L, E)
                    return mha(x, x, x, need_weights=need_weights)

                ran = attention_path(count_ops(call))
                if ran != path:
                    raise RuntimeError(
                        f"expected the {path!r} path, but {ran!r} ran"
                    )
                times[path] = seconds_per_call(call, repeat)
    finally:
        torch.backends.mha.set_fastpath_enabled(previous)
    return times
# --8<-- [end:time_mha_paths]


# --8<-- [start:time_mha_paths_checks]
def check_time_mha_paths(
    L: int, N: int, E: int, num_heads: int, repeat: int
) -> None:
    """All positive ints; E divisible by num_heads, and num_heads even
    (fast path)."""
    sizes = {"L": L, "N": N, "E": E, "num_heads": num_heads, "repeat": repeat}
    for name, value in sizes.items():
        positive_int(name, value)
    if E % num_heads != 0:
        raise ValueError(f"E={E} is not divisible by num_heads={num_heads}")
    if num_heads % 2 != 0:
        raise ValueError(
            f"num_heads={num_heads} is odd: "
            "the fast path needs an even number of heads"
        )
# --8<-- [end:time_mha_paths_checks]


def sessions():
    """The chapter's sessions, run section by section by the pages, in page
    order; not run on import. One function body, so the names a section leaves
    for the next are plain to see. Under each statement, its output in ``#>``
    lines."""
    # --8<-- [start:batch_first]
    E, H, L, N = 8, 2, 3, 2  # hidden size, heads, sequence length, batch
    S = L  # self-attention: as many keys as queries
    # batch_first=False, the default
    mha_sf = nn.MultiheadAttention(E, num_heads=H)
    mha_sf.batch_first
    #> False
    x = torch.randn(N, L, E)  # batch first: (N, L, E)
    xs = x.transpose(0, 1)  # sequence first: (L, N, E)
    out_sf, w_sf = mha_sf(xs, xs, xs)
    out_sf.shape, w_sf.shape  # output (L, N, E); weights (N, L, S)
    #> (torch.Size([3, 2, 8]), torch.Size([2, 3, 3]))
    mha_bf = nn.MultiheadAttention(E, num_heads=H, batch_first=True)
    _ = mha_bf.load_state_dict(mha_sf.state_dict())  # the same weights
    out_bf, w_bf = mha_bf(x, x, x)
    out_bf.shape, w_bf.shape  # output (N, L, E); weights (N, L, S) again
    #> (torch.Size([2, 3, 8]), torch.Size([2, 3, 3]))
    torch.allclose(out_bf, out_sf.transpose(0, 1)), torch.allclose(w_bf, w_sf)
    #> (True, True)
    # --8<-- [end:batch_first]

    # --8<-- [start:silent_bug]
    # (N, L, E) into a sequence-first module: no error
    out_bug, w_bug = mha_sf(x, x, x)
    out_bug.shape  # looks right
    #> torch.Size([2, 3, 8])
    torch.allclose(out_bug, out_bf)
    #> False
    w_bug.shape  # the module saw 3 "sequences" of 2 "tokens"
    #> torch.Size([3, 2, 2])
    # (2, 1, 8): token 0 of sequence 0 and token 0 of sequence 1
    col = x[:, :1]
    # attended to each other
    torch.allclose(out_bug[:, 0], mha_sf(col, col, col)[0][:, 0], atol=1e-6)
    #> True
    x2 = x.clone()
    x2[1] += 1  # change sequence 1 only
    # right layout: sequence 0 unchanged
    torch.allclose(mha_bf(x2, x2, x2)[0][0], out_bf[0], atol=1e-6)
    #> True
    # wrong layout: sequence 0 changed
    torch.allclose(mha_sf(x2, x2, x2)[0][0], out_bug[0], atol=1e-6)
    #> False
    # --8<-- [end:silent_bug]

    # --8<-- [start:attend_batch_first_example]
    # x is (N, L, E); mha_sf is sequence-first
    out, w = attend_batch_first(mha_sf, x)
    out.shape, torch.allclose(out, out_bf), torch.allclose(w, w_bf)
    #> (torch.Size([2, 3, 8]), True, True)
    attend_batch_first(mha_sf, torch.randn(L, E))
    #> ValueError: x must be a batch-first (N, L, E) tensor, got shape (3, 8)
    attend_batch_first(mha_sf, torch.randn(N, L, 4))
    #> ValueError: x's last dim must be the hidden size E = embed_dim = 8, got
    #> shape (2, 3, 4)
    # --8<-- [end:attend_batch_first_example]

    # --8<-- [start:need_weights_pair]
    # need_weights=True is the default: the weights come back
    _, w_default = mha_bf(x, x, x)
    w_default.shape  # (N, L, S)
    #> torch.Size([2, 3, 3])
    result = mha_bf(x, x, x, need_weights=False)
    type(result), len(result)
    #> (<class 'tuple'>, 2)
    result[1] is None
    #> True
    out, w = mha_bf(x, x, x, need_weights=False)  # unpack the pair; w is None
    torch.allclose(out, out_bf), w is None
    #> (True, True)
    # the source note's reading: "only the output"
    out = mha_bf(x, x, x, need_weights=False)
    out.shape
    #> AttributeError: 'tuple' object has no attribute 'shape'
    # --8<-- [end:need_weights_pair]

    # --8<-- [start:wrapper_unpack]
    wrapper = MHAPyTorchClass(
        d_in=E, d_out=E, num_heads=H, context_length=L, need_weights=True
    )
    y = wrapper(x)  # x: (N, L, E) = (2, 3, 8)
    type(y).__name__, y.shape  # one tensor, even with need_weights=True
    #> ('Tensor', torch.Size([2, 3, 8]))
    out, attn_weights = wrapper(x)  # the source note's line: no error...
    out.shape, attn_weights.shape  # ...but these are batch elements 0 and 1
    #> (torch.Size([3, 8]), torch.Size([3, 8]))
    torch.equal(out, y[0]), torch.equal(attn_weights, y[1])
    #> (True, True)
    # only a batch of 3 raises
    out, attn_weights = wrapper(torch.randn(3, L, E))
    #> ValueError: too many values to unpack (expected 2)
    # the weights it drops
    _, w = wrapper.multihead_attn(x, x, x, attn_mask=wrapper.mask[:L, :L])
    w.shape
    #> torch.Size([2, 3, 3])
    # --8<-- [end:wrapper_unpack]

    # --8<-- [start:average_weights]
    out, w_avg = mha_bf(x, x, x)  # average_attn_weights=True, the default
    w_avg.shape  # (N, L, S)
    #> torch.Size([2, 3, 3])
    out2, w_heads = mha_bf(x, x, x, average_attn_weights=False)
    w_heads.shape  # (N, H, L, S)
    #> torch.Size([2, 2, 3, 3])
    torch.allclose(w_avg, w_heads.mean(dim=1)), torch.equal(out, out2)
    #> (True, True)
    (
        torch.allclose(w_heads.sum(-1), torch.ones(N, H, L)),
        torch.allclose(w_avg.sum(-1), torch.ones(N, L)),
    )
    #> (True, True)
    from snippets.shapes import split_heads
    W_q, W_k, W_v = mha_bf.in_proj_weight.chunk(3)  # each (E, E)
    b_q, b_k, b_v = mha_bf.in_proj_bias.chunk(3)  # each (E,)
    q = split_heads(x @ W_q.T + b_q, H)  # (N, H, L, D)
    k = split_heads(x @ W_k.T + b_k, H)  # (N, H, S, D)
    # (N, H, L, S)
    by_hand = torch.softmax(q @ k.transpose(-2, -1) / (E // H) ** 0.5, dim=-1)
    torch.allclose(by_hand, w_heads, atol=1e-6)
    #> True
    # --8<-- [end:average_weights]

    # --8<-- [start:masks]
    # (N, S): True = padding, not allowed
    key_padding_mask = torch.tensor([[False, False, False],
                                     [False, False, True]])
    out_kpm, w_kpm = mha_bf(
        x, x, x, key_padding_mask=key_padding_mask, average_attn_weights=False
    )
    # (H, L): no query of sequence 1 looks at key 2, in any head
    w_kpm.detach()[1, :, :, 2]
    #> tensor([[0., 0., 0.],
    #>         [0., 0., 0.]])
    attn_mask = padding_to_attn_mask(key_padding_mask, num_heads=H, L=L)
    attn_mask.shape  # (N·H, L, S)
    #> torch.Size([4, 3, 3])
    out_am, w_am = mha_bf(
        x, x, x, attn_mask=attn_mask, average_attn_weights=False
    )
    torch.allclose(out_am, out_kpm), torch.allclose(w_am, w_kpm)
    #> (True, True)
    # (N·H, L, S), but row h·N + n
    wrong_order = (
        key_padding_mask.view(1, N, 1, S)
        .expand(H, N, L, S)
        .reshape(H * N, L, S)
    )
    torch.allclose(mha_bf(x, x, x, attn_mask=wrong_order)[0], out_kpm)
    #> False
    one = torch.zeros(N * H, L, S, dtype=torch.bool)
    # row n·H + h = 2: sequence 1, head 0 may not look at key 0
    one[1 * H + 0, :, 0] = True
    _, w_one = mha_bf(x, x, x, attn_mask=one, average_attn_weights=False)
    # (N, H): which (sequence, head) ignores key 0
    (w_one[..., 0] == 0).all(dim=-1)
    #> tensor([[False, False],
    #>         [ True, False]])
    # (N, L, S) is not accepted
    mha_bf(x, x, x, attn_mask=torch.zeros(N, L, S, dtype=torch.bool))
    #> RuntimeError: The shape of the 3D attn_mask is torch.Size([2, 3, 3]),
    #> but should be (4, 3, 3).
    padding_to_attn_mask(key_padding_mask.long(), num_heads=H, L=L)
    #> TypeError: key_padding_mask must be bool (True = padding, not allowed),
    #> got torch.int64
    # --8<-- [end:masks]

    # --8<-- [start:paths]
    mha_bf.training, torch.is_grad_enabled()
    #> (True, True)
    ops = count_ops(lambda: mha_bf(x, x, x))  # need_weights=True, the default
    (
        "aten::bmm" in ops, "aten::softmax" in ops,
        "aten::scaled_dot_product_attention" in ops,
    )
    #> (True, True, False)
    "aten::baddbmm" in count_ops(
        lambda: mha_bf(x, x, x, key_padding_mask=key_padding_mask)
    )
    #> True
    ops = count_ops(lambda: mha_bf(x, x, x, need_weights=False))
    "aten::scaled_dot_product_attention" in ops, "aten::softmax" in ops
    #> (True, False)
    # the fused CPU kernel SDPA picked
    "aten::_scaled_dot_product_flash_attention_for_cpu" in ops
    #> True
    attention_path(ops)
    #> 'sdpa'
    for training in (True, False):
        for grad in (True, False):
            for need_weights in (True, False):
                _ = mha_bf.train(training)
                with torch.set_grad_enabled(grad):
                    ops = count_ops(
                        lambda: mha_bf(x, x, x, need_weights=need_weights)
                    )
                print(
                    f"training={training!s:5}  grad={grad!s:5}  "
                    f"need_weights={need_weights!s:5}  -> "
                    f"{attention_path(ops)}"
                )
    #> training=True   grad=True   need_weights=True   -> bmm + softmax
    #> training=True   grad=True   need_weights=False  -> sdpa
    #> training=True   grad=False  need_weights=True   -> bmm + softmax
    #> training=True   grad=False  need_weights=False  -> sdpa
    #> training=False  grad=True   need_weights=True   -> bmm + softmax
    #> training=False  grad=True   need_weights=False  -> sdpa
    #> training=False  grad=False  need_weights=True   -> fast path
    #> training=False  grad=False  need_weights=False  -> fast path
    # --8<-- [end:paths]

    # --8<-- [start:fast_path_inside]
    _ = mha_bf.eval()  # the fast path needs eval mode (and no grad)
    with torch.no_grad(), profile(activities=[ProfilerActivity.CPU]) as prof:
        _ = mha_bf(x, x, x)
    # top-level operators only
    [e.name for e in prof.events() if e.cpu_parent is None]
    #> ['aten::_native_multi_head_attention']
    with torch.no_grad():
        fast_w = count_ops(lambda: mha_bf(x, x, x))
        fast_nw = count_ops(lambda: mha_bf(x, x, x, need_weights=False))
    (
        fast_w["aten::bmm"], fast_nw["aten::bmm"], fast_w["aten::_softmax"],
        fast_nw["aten::_softmax"],
    )
    #> (2, 2, 1, 1)
    "aten::scaled_dot_product_attention" in fast_nw
    #> False
    with (
        torch.no_grad(),
        profile(
            activities=[ProfilerActivity.CPU], record_shapes=True
        ) as prof,
    ):
        _ = mha_bf(x, x, x, key_padding_mask=key_padding_mask)
    for e in prof.events():
        if e.name in ("aten::bmm", "aten::_softmax", "aten::_masked_softmax"):
            # bmm: (N·H, L, D) @ (N·H, D, S), then (N·H, L, S) @ (N·H, S, D)
            print(e.name, e.input_shapes[:2])
    #> aten::bmm [[4, 3, 4], [4, 4, 3]]
    #> aten::_masked_softmax [[2, 2, 3, 3], [2, 3]]
    #> aten::bmm [[4, 3, 3], [4, 3, 4]]
    with torch.no_grad():
        fast_out, fast_weights = mha_bf(x, x, x)
        fast_kpm, _ = mha_bf(x, x, x, key_padding_mask=key_padding_mask)
    (
        torch.allclose(fast_out, out_bf, atol=1e-6),
        torch.allclose(fast_weights, w_bf),
    )
    #> (True, True)
    torch.allclose(fast_kpm, out_kpm, atol=1e-6)
    #> True
    # --8<-- [end:fast_path_inside]

    # --8<-- [start:fast_path_full_row]
    # (N, S): sequence 1 has no key to look at
    all_padding = torch.tensor([[False, False, False],
                                [True, True, True]])
    with torch.no_grad():
        # eval, autograd off: fast path
        fast_full, _ = mha_bf(x, x, x, key_padding_mask=all_padding)
    # autograd on: bmm + softmax
    bmm_full, _ = mha_bf(x, x, x, key_padding_mask=all_padding)
    # autograd on: sdpa
    sdpa_full, _ = mha_bf(
        x, x, x, key_padding_mask=all_padding, need_weights=False
    )
    (
        fast_full[1].isnan().all().item(), bmm_full[1].isnan().all().item(),
        sdpa_full[1].isnan().any().item(),
    )
    #> (True, True, False)
    # SDPA gave zeros; out_proj added its bias
    torch.equal(sdpa_full[1], mha_bf.out_proj.bias.expand(L, E))
    #> True
    # sequence 0 has keys: the paths agree
    torch.allclose(fast_full[0], sdpa_full[0], atol=1e-6)
    #> True
    # --8<-- [end:fast_path_full_row]

    # --8<-- [start:gpu_fast_path_sdpa]
    import torch
    import torch.nn as nn
    from snippets.matmul import count_ops

    # D = 64 / 8 = 8
    gpu_mha = nn.MultiheadAttention(
        64, 8, batch_first=True, device="cuda"
    ).eval()
    xg = torch.randn(2, 16, 64, device="cuda")  # (N, L, E), float32, no mask
    with torch.no_grad():
        ops_w = count_ops(lambda: gpu_mha(xg, xg, xg))  # need_weights=True
        ops_nw = count_ops(lambda: gpu_mha(xg, xg, xg, need_weights=False))
    (
        "aten::_native_multi_head_attention" in ops_w,
        "aten::_native_multi_head_attention" in ops_nw,
    )
    #> (True, True)
    (
        "aten::scaled_dot_product_attention" in ops_w,
        "aten::scaled_dot_product_attention" in ops_nw,
    )
    #> (False, True)
    [
        any(name.startswith("aten::_scaled_dot_product") for name in ops)
        for ops in (ops_w, ops_nw)
    ]
    #> [False, True]
    # --8<-- [end:gpu_fast_path_sdpa]

    # --8<-- [start:fast_path_reasons]
    # eval mode, but grad is on and the weights require grad
    why_not_fast_path(mha_bf, x, x, x)
    #> 'grad is enabled and at least one of query or the input/output
    #> projection weights or biases requires_grad'
    with torch.no_grad():
        reason = why_not_fast_path(mha_bf, x, x, x)
    reason
    #> ''
    frozen = (
        nn.MultiheadAttention(E, 2, batch_first=True)
        .eval()
        .requires_grad_(False)
    )
    torch.is_grad_enabled()
    #> True
    (
        why_not_fast_path(frozen, x, x, x),
        attention_path(count_ops(lambda: frozen(x, x, x))),
    )
    #> ('', 'fast path')
    cases = {
        "training": (nn.MultiheadAttention(E, 2, batch_first=True), {}),
        "odd heads": (
            nn.MultiheadAttention(E, 1, batch_first=True).eval(),
            {},
        ),
        "sequence first": (nn.MultiheadAttention(E, 2).eval(), {}),
        "float mask": (mha_bf, {"attn_mask": torch.zeros(L, S)}),
        "add_zero_attn": (
            nn.MultiheadAttention(
                E, 2, add_zero_attn=True, batch_first=True
            ).eval(),
            {},
        ),
        "bias=False": (
            nn.MultiheadAttention(E, 2, bias=False, batch_first=True).eval(),
            {},
        ),
        "bool mask": (
            mha_bf,
            {"attn_mask": torch.ones(L, S, dtype=torch.bool).triu(1)},
        ),
    }
    agree = []
    with torch.no_grad():
        for name, (module, masks) in cases.items():
            reason = why_not_fast_path(module, x, x, x, **masks)
            ran = attention_path(count_ops(lambda: module(x, x, x, **masks)))
            agree.append((reason == "") == (ran == "fast path"))
            print(f"{name:15} {ran}")
            print(f"    {reason!r}")
    #> training        bmm + softmax
    #>     'training is enabled'
    #> odd heads       bmm + softmax
    #>     'self.num_heads is not even'
    #> sequence first  bmm + softmax
    #>     'batch_first was not True'
    #> float mask      bmm + softmax
    #>     'floating-point masks are not supported for fast path.'
    #> add_zero_attn   bmm + softmax
    #>     'add_zero_attn was enabled'
    #> bias=False      bmm + softmax
    #>     '(no message) in_proj_bias is None: no fast-path call'
    #> bool mask       fast path
    #>     ''
    all(agree)
    #> True
    with torch.no_grad():
        # equal values are not enough
        reason = why_not_fast_path(mha_bf, x, x.clone(), x)
    reason
    #> 'non-self attention was used (query, key, and value are not the same
    #> Tensor)'
    # --8<-- [end:fast_path_reasons]

    # --8<-- [start:timing]
    t = time_mha_paths(L=16, repeat=3)
    sorted(t)
    #> ['bmm + softmax', 'fast path', 'sdpa']
    all(isinstance(s, float) and s > 0 for s in t.values())
    #> True
    torch.backends.mha.get_fastpath_enabled()  # restored afterwards
    #> True
    time_mha_paths(L=16, E=63, num_heads=3)
    #> ValueError: num_heads=3 is odd: the fast path needs an even number of
    #> heads
    # --8<-- [end:timing]

    # --8<-- [start:wrapper_paths]
    seed_wrapper = MHAPyTorchClass(
        d_in=E, d_out=E, num_heads=H, context_length=L
    ).eval()
    # qkv_bias=False, the default, gives bias=False
    seed_wrapper.multihead_attn.in_proj_bias is None
    #> True
    with torch.no_grad():  # eval mode, autograd off: still not the fast path
        for need_weights in (True, False):
            seed_wrapper.need_weights = need_weights
            ops = count_ops(lambda: seed_wrapper(x))
            print(
                f"need_weights={need_weights!s:5}  -> {attention_path(ops)}"
            )
    #> need_weights=True   -> bmm + softmax
    #> need_weights=False  -> sdpa
    with torch.no_grad():
        reason = why_not_fast_path(seed_wrapper.multihead_attn, x, x, x)
    reason
    #> '(no message) in_proj_bias is None: no fast-path call'
    # --8<-- [end:wrapper_paths]
