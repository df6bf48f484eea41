"""Chapter 1 — shapes and memory (形状与内存).

Included section by section by ``docs/shapes.zh.md`` and
``docs/shapes.en.md``. Sections that hold functions run as code on the page;
the sections inside ``sessions()`` are sessions: under each statement, what it
shows in ``#>`` lines, checked by the tests. Sections whose name starts with
``gpu_`` need a CUDA GPU: they are skipped elsewhere. Names follow the math: B
batch, L sequence length, H heads, D head_dim, E = H * D the hidden
(embedding) size.
"""

# --8<-- [start:imports]
import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel
# --8<-- [end:imports]


# --8<-- [start:split_heads]
def split_heads(x: torch.Tensor, num_heads: int) -> torch.Tensor:
    """(B, L, E) -> (B, H, L, D), E = H * D. A view: nothing is copied."""
    check_split_heads(x, num_heads)
    B, L, E = x.shape
    D = E // num_heads
    # (B, L, H, D): each token's E features in H heads
    x = x.view(B, L, num_heads, D)
    return x.transpose(1, 2)  # (B, H, L, D): a view with swapped strides
# --8<-- [end:split_heads]


# --8<-- [start:split_heads_checks]
def positive_int(name: str, value) -> int:
    """value if a positive int (not a bool); else a ValueError naming it."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return value


def check_rank(x: torch.Tensor, layout: str, caller: str) -> None:
    """x must have one dim per name of layout, e.g. "(B, L, E)";
    otherwise a ValueError."""
    if x.dim() != layout.count(",") + 1:
        raise ValueError(
            f"{caller} expects a {layout} tensor, "
            f"got {x.dim()} dims with shape {tuple(x.shape)}"
        )


def check_split_heads(x: torch.Tensor, num_heads: int) -> None:
    """x must be (B, L, E) with E divisible by num_heads."""
    check_rank(x, "(B, L, E)", "split_heads")
    positive_int("num_heads", num_heads)
    E = x.shape[-1]
    if E % num_heads != 0:
        raise ValueError(
            f"hidden size E={E} is not divisible by num_heads={num_heads}: "
            f"every head needs E // num_heads features, "
            f"and {E} / {num_heads} is not a whole number"
        )
# --8<-- [end:split_heads_checks]


# --8<-- [start:merge_heads]
def merge_heads(x: torch.Tensor) -> torch.Tensor:
    """(B, H, L, D) -> (B, L, E), E = H * D. Copies only if it must."""
    check_merge_heads(x)
    B, H, L, D = x.shape
    # (B, L, H, D): a view; contiguous if memory is B->L->H->D
    x = x.transpose(1, 2)
    # (B, L, E): a view if possible, otherwise a copy
    return x.reshape(B, L, H * D)
# --8<-- [end:merge_heads]


# --8<-- [start:merge_heads_checks]
def check_merge_heads(x: torch.Tensor) -> None:
    """x must be (B, H, L, D)."""
    check_rank(x, "(B, H, L, D)", "merge_heads")
# --8<-- [end:merge_heads_checks]


# --8<-- [start:split_qkv]
def split_qkv(
    qkv: torch.Tensor, num_heads: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(B, L, 3E) from one Linear(E, 3E) -> q, k, v: (B, H, L, D) views."""
    check_split_qkv(qkv, num_heads)
    B, L, E3 = qkv.shape
    D = E3 // (3 * num_heads)
    qkv = qkv.view(B, L, 3, num_heads, D)  # (B, L, 3, H, D)
    qkv = qkv.permute(2, 0, 3, 1, 4)  # (3, B, H, L, D)
    q, k, v = qkv  # unpacks dim 0: three (B, H, L, D) views
    return q, k, v
# --8<-- [end:split_qkv]


# --8<-- [start:split_qkv_checks]
def check_split_qkv(qkv: torch.Tensor, num_heads: int) -> None:
    """qkv must be (B, L, 3E) with E divisible by num_heads."""
    check_rank(qkv, "(B, L, 3E)", "split_qkv")
    positive_int("num_heads", num_heads)
    E3 = qkv.shape[-1]
    if E3 % (3 * num_heads) != 0:
        raise ValueError(
            f"the last dim {E3} must be 3 * E "
            f"with E divisible by num_heads={num_heads}, "
            f"but {E3} is not divisible by 3 * {num_heads} = {3 * num_heads}"
        )
# --8<-- [end:split_qkv_checks]


def sessions():
    """The chapter's sessions, run section by section by the pages, in page
    order; not run on import. One function body, so the names a section leaves
    for the next are plain to see. Under each statement, its output in ``#>``
    lines."""
    # --8<-- [start:strides]
    x = torch.arange(24).view(2, 3, 4)
    x.shape, x.stride()
    #> (torch.Size([2, 3, 4]), (12, 4, 1))
    x[1, 2, 3]
    #> tensor(23)
    1 * 12 + 2 * 4 + 3 * 1
    #> 23
    # --8<-- [end:strides]

    # --8<-- [start:view_shares]
    y = x.view(6, 4)
    y.stride()
    #> (4, 1)
    y.data_ptr() == x.data_ptr()
    #> True
    y[0, 0] = 100
    x[0, 0, 0]
    #> tensor(100)
    y[0, 0] = 0
    # --8<-- [end:view_shares]

    # --8<-- [start:transpose_strides]
    t = x.transpose(1, 2)
    t.shape, t.stride()
    #> (torch.Size([2, 4, 3]), (12, 1, 4))
    t.data_ptr() == x.data_ptr(), t.is_contiguous()
    #> (True, False)
    t[0, 1, 0], t[0, 0, 1]
    #> (tensor(1), tensor(4))
    p = x.permute(2, 0, 1)
    p.shape, p.stride()
    #> (torch.Size([4, 2, 3]), (1, 12, 4))
    torch.equal(x.view(-1), torch.arange(24))
    #> True
    # --8<-- [end:transpose_strides]

    # --8<-- [start:contiguous]
    c = t.contiguous()
    c.stride(), c.data_ptr() == x.data_ptr()
    #> ((12, 3, 1), False)
    torch.equal(c, t)
    #> True
    c.view(-1)[:6]
    #> tensor([0, 4, 8, 1, 5, 9])
    x.contiguous() is x
    #> True
    # --8<-- [end:contiguous]

    # --8<-- [start:contiguous_size_one]
    B, L, H, D = 2, 1, 3, 2  # one token (L = 1), as in one decoding step
    step = torch.arange(B * L * H * D).view(B, L, H * D)  # (B, L, E)
    one_token = step.view(B, L, H, D).transpose(1, 2)  # (B, H, L, D)
    one_token.stride(), torch.empty(B, H, L, D).stride()  # vs row-major
    #> ((6, 2, 6, 1), (6, 2, 2, 1))
    one_token.is_contiguous(), one_token.contiguous() is one_token
    #> (True, True)
    # (B·H, L, D), no copy
    one_token.view(B * H, L, D).data_ptr() == step.data_ptr()
    #> True
    B, L, H, D = 2, 3, 1, 2  # one head (H = 1)
    one_head = torch.arange(B * L * H * D).view(B, L, H, D)  # (B, L, H, D)
    one_head = one_head.transpose(1, 2)  # (B, H, L, D)
    one_head.stride(), torch.empty(B, H, L, D).stride()  # vs row-major
    #> ((6, 2, 2, 1), (6, 6, 2, 1))
    one_head.is_contiguous()
    #> True
    # --8<-- [end:contiguous_size_one]

    # --8<-- [start:view_error]
    t.view(2, 12)
    #> RuntimeError: view size is not compatible with input tensor's size and
    #> stride (at least one dimension spans across two contiguous subspaces).
    #> Use .reshape(...) instead.
    t.reshape(2, 12).data_ptr() == x.data_ptr()
    #> False
    torch.equal(t.reshape(2, 12), t.contiguous().view(2, 12))
    #> True
    # --8<-- [end:view_error]

    # --8<-- [start:view_split_dim]
    t.view(2, 2, 2, 3).stride()
    #> (12, 2, 1, 4)
    t.view(2, 2, 2, 3).data_ptr() == x.data_ptr()
    #> True
    # --8<-- [end:view_split_dim]

    # --8<-- [start:reshape_view_or_copy]
    x.reshape(6, 4).data_ptr() == x.data_ptr()
    #> True
    t.reshape(2, 12).data_ptr() == x.data_ptr()
    #> False
    t.reshape(2, 12)[0]
    #> tensor([ 0,  4,  8,  1,  5,  9,  2,  6, 10,  3,  7, 11])
    # --8<-- [end:reshape_view_or_copy]

    # --8<-- [start:split_heads_example]
    B, L, H, D = 1, 3, 2, 2
    E = H * D
    x = torch.arange(B * L * E).view(B, L, E)
    x
    #> tensor([[[ 0,  1,  2,  3],
    #>          [ 4,  5,  6,  7],
    #>          [ 8,  9, 10, 11]]])
    q = split_heads(x, num_heads=H)
    q.shape
    #> torch.Size([1, 2, 3, 2])
    q[0, 0]
    #> tensor([[0, 1],
    #>         [4, 5],
    #>         [8, 9]])
    q[0, 1]
    #> tensor([[ 2,  3],
    #>         [ 6,  7],
    #>         [10, 11]])
    # --8<-- [end:split_heads_example]

    # --8<-- [start:split_heads_equals_slicing]
    per_head = torch.stack(
        [x[:, :, h * D : (h + 1) * D] for h in range(H)], dim=1
    )
    per_head.shape
    #> torch.Size([1, 2, 3, 2])
    torch.equal(q, per_head)
    #> True
    torch.equal(q, x.view(B, L, H, D).permute(0, 2, 1, 3))
    #> True
    # --8<-- [end:split_heads_equals_slicing]

    # --8<-- [start:split_heads_memory]
    q.data_ptr() == x.data_ptr(), q.is_contiguous()
    #> (True, False)
    q.stride()
    #> (12, 2, 4, 1)
    q.stride() == (L * H * D, D, H * D, 1)
    #> True
    # --8<-- [end:split_heads_memory]

    # --8<-- [start:wrong_reshape]
    wrong = x.reshape(B, H, L, D)
    wrong[0, 0]
    #> tensor([[0, 1],
    #>         [2, 3],
    #>         [4, 5]])
    torch.equal(wrong, q)
    #> False
    # --8<-- [end:wrong_reshape]

    # --8<-- [start:split_heads_errors]
    split_heads(torch.zeros(2, 5, 10), num_heads=4)
    #> ValueError: hidden size E=10 is not divisible by num_heads=4: every
    #> head needs E // num_heads features, and 10 / 4 is not a whole number
    split_heads(torch.zeros(5, 8), num_heads=2)
    #> ValueError: split_heads expects a (B, L, E) tensor, got 2 dims with
    #> shape (5, 8)
    # --8<-- [end:split_heads_errors]

    # --8<-- [start:merge_heads_example]
    torch.equal(merge_heads(q), x)
    #> True
    merge_heads(q).data_ptr() == x.data_ptr()
    #> True
    out = q.contiguous()
    merge_heads(out).data_ptr() == out.data_ptr()
    #> False
    torch.equal(merge_heads(out), x)
    #> True
    # --8<-- [end:merge_heads_example]

    # --8<-- [start:merge_heads_view]
    out.transpose(1, 2).view(B, L, E)
    #> RuntimeError: view size is not compatible with input tensor's size and
    #> stride (at least one dimension spans across two contiguous subspaces).
    #> Use .reshape(...) instead.
    torch.equal(
        out.transpose(1, 2).contiguous().view(B, L, E), merge_heads(out)
    )
    #> True
    # --8<-- [end:merge_heads_view]

    # --8<-- [start:merge_heads_sdpa]
    xq, xk, xv = torch.randn(3, B, L, E)  # three (B, L, E) inputs
    # (B, H, L, D) views
    q, k, v = (split_heads(t, num_heads=H) for t in (xq, xk, xv))
    q.stride()
    #> (12, 2, 4, 1)
    sdpa_out = F.scaled_dot_product_attention(q, k, v)  # (B, H, L, D)
    with sdpa_kernel(SDPBackend.FLASH_ATTENTION):
        flash_out = F.scaled_dot_product_attention(q, k, v)  # (B, H, L, D)
    sdpa_out.stride(), flash_out.stride()
    #> ((12, 2, 4, 1), (12, 2, 4, 1))
    sdpa_out.transpose(1, 2).is_contiguous()
    #> True
    merge_heads(sdpa_out).data_ptr() == sdpa_out.data_ptr()
    #> True
    # --8<-- [end:merge_heads_sdpa]

    # --8<-- [start:merge_heads_matmul]
    # (B, H, L, L)
    weights = torch.softmax(q @ k.transpose(-2, -1) / D**0.5, dim=-1)
    bmm_out = weights @ v  # (B, H, L, D)
    with sdpa_kernel(SDPBackend.MATH):
        math_out = F.scaled_dot_product_attention(q, k, v)  # (B, H, L, D)
    bmm_out.stride(), math_out.stride()
    #> ((12, 6, 2, 1), (12, 6, 2, 1))
    merge_heads(bmm_out).data_ptr() == bmm_out.data_ptr()
    #> False
    merge_heads(math_out).data_ptr() == math_out.data_ptr()
    #> False
    all(torch.allclose(merge_heads(o), merge_heads(sdpa_out), atol=1e-6)
        for o in (flash_out, bmm_out, math_out))
    #> True
    # --8<-- [end:merge_heads_matmul]

    # --8<-- [start:gpu_sdpa_output_layout]
    import torch
    import torch.nn.functional as F
    from torch.nn.attention import SDPBackend, sdpa_kernel
    from snippets.shapes import merge_heads, split_heads
    def layout_on_gpu(backend, B=2, L=128, H=8, D=64):
        # 3 x (B, L, E)
        x = torch.randn(3, B, L, H * D).to("cuda", torch.float16)
        # 3 x (B, H, L, D) views
        q, k, v = (split_heads(t, num_heads=H) for t in x)
        with sdpa_kernel(backend):
            out = F.scaled_dot_product_attention(q, k, v)  # (B, H, L, D)
        with sdpa_kernel(SDPBackend.MATH):
            ref = F.scaled_dot_product_attention(q, k, v)  # (B, H, L, D)
        merged = merge_heads(out)  # (B, L, E)
        return (
            # memory B -> L -> H -> D
            out.stride() == (L * H * D, D, H * D, 1),
            merged.data_ptr() == out.data_ptr(),  # merge_heads is a view
            # same values
            torch.allclose(merged, merge_heads(ref), atol=1e-2),
        )
    layout_on_gpu(SDPBackend.FLASH_ATTENTION)
    #> (True, True, True)
    layout_on_gpu(SDPBackend.EFFICIENT_ATTENTION)
    #> (True, True, True)
    layout_on_gpu(SDPBackend.CUDNN_ATTENTION)
    #> (True, True, True)
    layout_on_gpu(SDPBackend.MATH)
    #> (False, False, True)
    # --8<-- [end:gpu_sdpa_output_layout]

    # --8<-- [start:packed_qkv]
    qkv = torch.arange(B * L * 3 * E).view(B, L, 3 * E)
    qkv[0, 0]
    #> tensor([ 0,  1,  2,  3,  4,  5,  6,  7,  8,  9, 10, 11])
    q, k, v = split_qkv(qkv, num_heads=H)
    q.shape, k.shape, v.shape
    #> (torch.Size([1, 2, 3, 2]), torch.Size([1, 2, 3, 2]),
    #> torch.Size([1, 2, 3, 2]))
    q[0, 0]
    #> tensor([[ 0,  1],
    #>         [12, 13],
    #>         [24, 25]])
    [t.is_contiguous() for t in (q, k, v)]
    #> [False, False, False]
    base = qkv.untyped_storage().data_ptr()
    all(t.untyped_storage().data_ptr() == base for t in (q, k, v))
    #> True
    # --8<-- [end:packed_qkv]

    # --8<-- [start:packed_qkv_unbind]
    packed = qkv.view(B, L, 3, H, D).permute(2, 0, 3, 1, 4)
    packed.shape
    #> torch.Size([3, 1, 2, 3, 2])
    all(torch.equal(a, b) for a, b in zip((q, k, v), packed.unbind(0)))
    #> True
    torch.equal(q, split_heads(qkv[:, :, :E], num_heads=H))
    #> True
    torch.equal(v, split_heads(qkv[:, :, 2 * E:], num_heads=H))
    #> True
    # --8<-- [end:packed_qkv_unbind]

    # --8<-- [start:split_qkv_errors]
    split_qkv(torch.zeros(1, 3, 10), num_heads=2)
    #> ValueError: the last dim 10 must be 3 * E with E divisible by
    #> num_heads=2, but 10 is not divisible by 3 * 2 = 6
    # --8<-- [end:split_qkv_errors]
