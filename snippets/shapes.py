"""Chapter 1 — shapes and memory (形状与内存).

Included section by section by ``docs/shapes.zh.md`` and ``docs/shapes.en.md``. Sections that
hold functions run as code on the page; the sections inside ``SESSIONS`` are interactive
sessions, checked as doctests. Names follow the math: B batch, L sequence length, H heads,
D head_dim, E = H * D the hidden (embedding) size.
"""

# --8<-- [start:imports]
import torch
# --8<-- [end:imports]


# --8<-- [start:split_heads]
def split_heads(x: torch.Tensor, num_heads: int) -> torch.Tensor:
    """(B, L, E) -> (B, H, L, D), with E = H * D. Returns a view: nothing is copied."""
    if x.dim() != 3:
        raise ValueError(
            f"split_heads expects a (B, L, E) tensor, got {x.dim()} dims with shape {tuple(x.shape)}"
        )
    if isinstance(num_heads, bool) or not isinstance(num_heads, int) or num_heads < 1:
        raise ValueError(f"num_heads must be a positive int, got {num_heads!r}")
    B, L, E = x.shape
    if E % num_heads != 0:
        raise ValueError(
            f"hidden size E={E} is not divisible by num_heads={num_heads}: "
            f"every head needs E // num_heads features, and {E} / {num_heads} is not a whole number"
        )
    D = E // num_heads
    x = x.view(B, L, num_heads, D)  # (B, L, H, D): cut each token's E features into H heads
    return x.transpose(1, 2)  # (B, H, L, D): a view with swapped strides
# --8<-- [end:split_heads]


# --8<-- [start:merge_heads]
def merge_heads(x: torch.Tensor) -> torch.Tensor:
    """(B, H, L, D) -> (B, L, E), with E = H * D. Copies when the strides do not allow a view."""
    if x.dim() != 4:
        raise ValueError(
            f"merge_heads expects a (B, H, L, D) tensor, got {x.dim()} dims with shape {tuple(x.shape)}"
        )
    B, H, L, D = x.shape
    x = x.transpose(1, 2)  # (B, L, H, D): a view, usually not contiguous
    return x.reshape(B, L, H * D)  # (B, L, E): a view if possible, otherwise a copy
# --8<-- [end:merge_heads]


# --8<-- [start:split_qkv]
def split_qkv(qkv: torch.Tensor, num_heads: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(B, L, 3E) from one Linear(E, 3E) -> q, k, v, each a (B, H, L, D) view."""
    if qkv.dim() != 3:
        raise ValueError(
            f"split_qkv expects a (B, L, 3E) tensor, got {qkv.dim()} dims with shape {tuple(qkv.shape)}"
        )
    if isinstance(num_heads, bool) or not isinstance(num_heads, int) or num_heads < 1:
        raise ValueError(f"num_heads must be a positive int, got {num_heads!r}")
    B, L, E3 = qkv.shape
    if E3 % (3 * num_heads) != 0:
        raise ValueError(
            f"the last dim {E3} must be 3 * E with E divisible by num_heads={num_heads}, "
            f"but {E3} is not divisible by 3 * {num_heads} = {3 * num_heads}"
        )
    D = E3 // (3 * num_heads)
    qkv = qkv.view(B, L, 3, num_heads, D)  # (B, L, 3, H, D)
    qkv = qkv.permute(2, 0, 3, 1, 4)  # (3, B, H, L, D)
    q, k, v = qkv  # unpacks dim 0: three (B, H, L, D) views
    return q, k, v
# --8<-- [end:split_qkv]


SESSIONS = r"""
# --8<-- [start:strides]
>>> x = torch.arange(24).view(2, 3, 4)
>>> x.shape, x.stride()
(torch.Size([2, 3, 4]), (12, 4, 1))
>>> x[1, 2, 3]
tensor(23)
>>> 1 * 12 + 2 * 4 + 3 * 1
23
# --8<-- [end:strides]

# --8<-- [start:view_shares]
>>> y = x.view(6, 4)
>>> y.stride()
(4, 1)
>>> y.data_ptr() == x.data_ptr()
True
>>> y[0, 0] = 100
>>> x[0, 0, 0]
tensor(100)
>>> y[0, 0] = 0
# --8<-- [end:view_shares]

# --8<-- [start:transpose_strides]
>>> t = x.transpose(1, 2)
>>> t.shape, t.stride()
(torch.Size([2, 4, 3]), (12, 1, 4))
>>> t.data_ptr() == x.data_ptr(), t.is_contiguous()
(True, False)
>>> t[0, 1, 0], t[0, 0, 1]
(tensor(1), tensor(4))
>>> p = x.permute(2, 0, 1)
>>> p.shape, p.stride()
(torch.Size([4, 2, 3]), (1, 12, 4))
>>> torch.equal(x.view(-1), torch.arange(24))
True
# --8<-- [end:transpose_strides]

# --8<-- [start:contiguous]
>>> c = t.contiguous()
>>> c.stride(), c.data_ptr() == x.data_ptr()
((12, 3, 1), False)
>>> torch.equal(c, t)
True
>>> c.view(-1)[:6]
tensor([0, 4, 8, 1, 5, 9])
>>> x.contiguous() is x
True
# --8<-- [end:contiguous]

# --8<-- [start:view_error]
>>> t.view(2, 12)
Traceback (most recent call last):
  ...
RuntimeError: view size is not compatible with input tensor's size and stride (at least one dimension spans across two contiguous subspaces). Use .reshape(...) instead.
>>> t.reshape(2, 12).data_ptr() == x.data_ptr()
False
>>> torch.equal(t.reshape(2, 12), t.contiguous().view(2, 12))
True
# --8<-- [end:view_error]

# --8<-- [start:view_split_dim]
>>> t.view(2, 2, 2, 3).stride()
(12, 2, 1, 4)
>>> t.view(2, 2, 2, 3).data_ptr() == x.data_ptr()
True
# --8<-- [end:view_split_dim]

# --8<-- [start:reshape_view_or_copy]
>>> x.reshape(6, 4).data_ptr() == x.data_ptr()
True
>>> t.reshape(2, 12).data_ptr() == x.data_ptr()
False
>>> t.reshape(2, 12)[0]
tensor([ 0,  4,  8,  1,  5,  9,  2,  6, 10,  3,  7, 11])
# --8<-- [end:reshape_view_or_copy]

# --8<-- [start:split_heads_example]
>>> B, L, H, D = 1, 3, 2, 2
>>> E = H * D
>>> x = torch.arange(B * L * E).view(B, L, E)
>>> x
tensor([[[ 0,  1,  2,  3],
         [ 4,  5,  6,  7],
         [ 8,  9, 10, 11]]])
>>> q = split_heads(x, num_heads=H)
>>> q.shape
torch.Size([1, 2, 3, 2])
>>> q[0, 0]
tensor([[0, 1],
        [4, 5],
        [8, 9]])
>>> q[0, 1]
tensor([[ 2,  3],
        [ 6,  7],
        [10, 11]])
# --8<-- [end:split_heads_example]

# --8<-- [start:split_heads_equals_slicing]
>>> per_head = torch.stack([x[:, :, h * D:(h + 1) * D] for h in range(H)], dim=1)
>>> per_head.shape
torch.Size([1, 2, 3, 2])
>>> torch.equal(q, per_head)
True
>>> torch.equal(q, x.view(B, L, H, D).permute(0, 2, 1, 3))
True
# --8<-- [end:split_heads_equals_slicing]

# --8<-- [start:split_heads_memory]
>>> q.data_ptr() == x.data_ptr(), q.is_contiguous()
(True, False)
>>> q.stride()
(12, 2, 4, 1)
>>> q.stride() == (L * H * D, D, H * D, 1)
True
# --8<-- [end:split_heads_memory]

# --8<-- [start:wrong_reshape]
>>> wrong = x.reshape(B, H, L, D)
>>> wrong[0, 0]
tensor([[0, 1],
        [2, 3],
        [4, 5]])
>>> torch.equal(wrong, q)
False
# --8<-- [end:wrong_reshape]

# --8<-- [start:split_heads_errors]
>>> split_heads(torch.zeros(2, 5, 10), num_heads=4)
Traceback (most recent call last):
  ...
ValueError: hidden size E=10 is not divisible by num_heads=4: every head needs E // num_heads features, and 10 / 4 is not a whole number
>>> split_heads(torch.zeros(5, 8), num_heads=2)
Traceback (most recent call last):
  ...
ValueError: split_heads expects a (B, L, E) tensor, got 2 dims with shape (5, 8)
# --8<-- [end:split_heads_errors]

# --8<-- [start:merge_heads_example]
>>> torch.equal(merge_heads(q), x)
True
>>> merge_heads(q).data_ptr() == x.data_ptr()
True
>>> out = q.contiguous()
>>> merge_heads(out).data_ptr() == out.data_ptr()
False
>>> torch.equal(merge_heads(out), x)
True
# --8<-- [end:merge_heads_example]

# --8<-- [start:merge_heads_view]
>>> out.transpose(1, 2).view(B, L, E)
Traceback (most recent call last):
  ...
RuntimeError: view size is not compatible with input tensor's size and stride (at least one dimension spans across two contiguous subspaces). Use .reshape(...) instead.
>>> torch.equal(out.transpose(1, 2).contiguous().view(B, L, E), merge_heads(out))
True
# --8<-- [end:merge_heads_view]

# --8<-- [start:packed_qkv]
>>> qkv = torch.arange(B * L * 3 * E).view(B, L, 3 * E)
>>> qkv[0, 0]
tensor([ 0,  1,  2,  3,  4,  5,  6,  7,  8,  9, 10, 11])
>>> q, k, v = split_qkv(qkv, num_heads=H)
>>> q.shape, k.shape, v.shape
(torch.Size([1, 2, 3, 2]), torch.Size([1, 2, 3, 2]), torch.Size([1, 2, 3, 2]))
>>> q[0, 0]
tensor([[ 0,  1],
        [12, 13],
        [24, 25]])
>>> [t.is_contiguous() for t in (q, k, v)]
[False, False, False]
>>> all(t.untyped_storage().data_ptr() == qkv.untyped_storage().data_ptr() for t in (q, k, v))
True
# --8<-- [end:packed_qkv]

# --8<-- [start:packed_qkv_unbind]
>>> packed = qkv.view(B, L, 3, H, D).permute(2, 0, 3, 1, 4)
>>> packed.shape
torch.Size([3, 1, 2, 3, 2])
>>> all(torch.equal(a, b) for a, b in zip((q, k, v), packed.unbind(0)))
True
>>> torch.equal(q, split_heads(qkv[:, :, :E], num_heads=H))
True
>>> torch.equal(v, split_heads(qkv[:, :, 2 * E:], num_heads=H))
True
# --8<-- [end:packed_qkv_unbind]

# --8<-- [start:split_qkv_errors]
>>> split_qkv(torch.zeros(1, 3, 10), num_heads=2)
Traceback (most recent call last):
  ...
ValueError: the last dim 10 must be 3 * E with E divisible by num_heads=2, but 10 is not divisible by 3 * 2 = 6
# --8<-- [end:split_qkv_errors]
"""
