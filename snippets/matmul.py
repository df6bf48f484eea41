"""Chapter 2 — Broadcasting batched matmul (广播批量矩阵乘法).

Included section by section by ``docs/matmul.zh.md`` and
``docs/matmul.en.md``. Sections that hold functions run as code on the page;
the sections inside ``sessions()`` are sessions: under each statement, what it
shows in ``#>`` lines, checked by the tests. Names follow the math: B batch, H
heads, L query length, S key length, D head_dim, E hidden size; m, k, n are
the matrix dims of ``(..., m, k) @ (..., k, n)``, k being the contracted
dimension.
"""

# --8<-- [start:imports]
import collections

import torch
from torch import nn
from torch.profiler import ProfilerActivity, profile

# chapter 1: (B, L, E) -> (B, H, L, D) view
from snippets.shapes import split_heads
# --8<-- [end:imports]


# --8<-- [start:matmul_shape]
def matmul_shape(a_shape, b_shape) -> torch.Size:
    """Shape of a @ b by the rule (..., m, k) @ (..., k, n) -> (..., m, n).

    Raises ValueError exactly where torch.matmul raises (1-D operands follow
    torch: a vector a is a (1, k) matrix, a vector b a (k, 1) matrix, and that
    1 is dropped from the result).
    """
    a, b = _as_shape(a_shape, "a_shape"), _as_shape(b_shape, "b_shape")
    if len(a) == 0 or len(b) == 0:
        raise ValueError(
            "matmul needs operands with at "
            f"least 1 dim, got shapes {a} and {b}"
        )
    a2 = (1,) + a if len(a) == 1 else a  # (..., m, k)
    b2 = b + (1,) if len(b) == 1 else b  # (..., k, n)
    *batch_a, m, k = a2
    *batch_b, k_b, n = b2
    if k != k_b:
        raise ValueError(
            f"contracted dimension k does not match: a {a} has k={k} in its "
            f"last dim, b {b} has {k_b} in its "
            f"{'only' if len(b) == 1 else 'second-to-last'} dim"
        )
    batch = []
    # align the batch dims from the right
    for i in range(1, max(len(batch_a), len(batch_b)) + 1):
        # a missing dim acts as size 1
        size_a = batch_a[-i] if i <= len(batch_a) else 1
        size_b = batch_b[-i] if i <= len(batch_b) else 1
        if size_a != size_b and 1 not in (size_a, size_b):
            raise ValueError(
                f"batch dims {tuple(batch_a)} of a {a} and {tuple(batch_b)} "
                f"of b {b} cannot broadcast: at dim {-i - 2} the sizes "
                f"{size_a} and {size_b} differ and neither is 1"
            )
        batch.insert(0, size_b if size_a == 1 else size_a)
    # (m, n) minus vector 1s
    matrix = ([m] if len(a) > 1 else []) + ([n] if len(b) > 1 else [])
    return torch.Size(batch + matrix)
# --8<-- [end:matmul_shape]


# --8<-- [start:matmul_shape_checks]
def _as_shape(shape, name: str) -> tuple[int, ...]:
    """A shape (tuple/list/torch.Size of non-negative ints) as a tuple."""
    if isinstance(shape, torch.Tensor) or not isinstance(
        shape, (tuple, list)
    ):
        raise TypeError(
            f"{name} must be a shape such as (2, 3, 4) or t.shape, "
            f"got {type(shape).__name__}"
        )
    if not all(
        isinstance(s, int) and not isinstance(s, bool) and s >= 0
        for s in shape
    ):
        raise ValueError(
            f"{name} must hold non-negative ints, got {tuple(shape)!r}"
        )
    return tuple(shape)
# --8<-- [end:matmul_shape_checks]


# --8<-- [start:scores_reference]
def scores_loop(q: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    """(B, H, L, D), (B, H, S, D) -> (B, H, L, S):
    one (L, D) @ (D, S) product per (b, h)."""
    _check_qk(q, k)
    B, H, L, D = q.shape
    S = k.shape[2]
    out = q.new_empty(B, H, L, S)  # (B, H, L, S)
    for b in range(B):
        for h in range(H):
            # (L, D) @ (D, S) -> (L, S): D is summed
            out[b, h] = q[b, h] @ k[b, h].T
    return out


def scores_bmm(q: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    """The same with torch.bmm, which takes exactly one batch dim:
    flatten B·H, then unflatten."""
    _check_qk(q, k)
    B, H, L, D = q.shape
    S = k.shape[2]
    q3 = q.reshape(B * H, L, D)  # (B·H, L, D): a copy if B and H cannot merge
    k3 = k.reshape(B * H, S, D)  # (B·H, S, D)
    # (B·H, L, D) @ (B·H, D, S) -> (B·H, L, S)
    out = torch.bmm(q3, k3.transpose(1, 2))
    return out.view(B, H, L, S)  # (B, H, L, S)
# --8<-- [end:scores_reference]


# --8<-- [start:scores_reference_checks]
def _check_qk(q: torch.Tensor, k: torch.Tensor) -> None:
    """q (B, H, L, D) and k (B, H, S, D) must agree in B, H and D."""
    if q.dim() != 4 or k.dim() != 4:
        raise ValueError(
            f"expected q (B, H, L, D) and k (B, H, S, D), "
            f"got shapes {tuple(q.shape)} and {tuple(k.shape)}"
        )
    if q.shape[:2] != k.shape[:2] or q.shape[3] != k.shape[3]:
        raise ValueError(
            f"q {tuple(q.shape)} and k {tuple(k.shape)} "
            f"must share B, H (dims 0, 1) and D (dim 3)"
        )
# --8<-- [end:scores_reference_checks]


# --8<-- [start:count_ops]
# the matrix-multiply kernels
GEMM_OPS = ("aten::mm", "aten::addmm", "aten::bmm")
# copies made to get mergeable strides
COPY_OPS = ("aten::clone", "aten::contiguous")


def count_ops(fn, *args) -> collections.Counter:
    """Run fn(*args) once under the CPU profiler; count every aten:: op
    called (nested ones too)."""
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        fn(*args)
    return collections.Counter(
        e.name for e in prof.events() if e.name.startswith("aten::")
    )


def matmul_ops(counts: collections.Counter) -> dict:
    """Only the ops that matter here: GEMMs and copies, in a fixed order."""
    return {op: counts[op] for op in GEMM_OPS + COPY_OPS if counts[op]}


def gemm_shapes(fn, *args) -> list:
    """(op, input shapes) of every GEMM that fn(*args) calls."""
    with profile(
        activities=[ProfilerActivity.CPU], record_shapes=True
    ) as prof:
        fn(*args)
    return [
        # drop the scalars' empty shapes
        (e.name, [tuple(s) for s in e.input_shapes if s])
        for e in prof.events()
        if e.name in GEMM_OPS
    ]
# --8<-- [end:count_ops]


def sessions():
    """The chapter's sessions, run section by section by the pages, in page
    order; not run on import. One function body, so the names a section leaves
    for the next are plain to see. Under each statement, its output in ``#>``
    lines."""
    # --8<-- [start:rule]
    a = torch.arange(6).view(2, 3)  # (m, k) = (2, 3)
    b = torch.arange(12).view(3, 4)  # (k, n) = (3, 4)
    c = a @ b  # (m, n) = (2, 4): k is gone
    c.shape
    #> torch.Size([2, 4])
    c[1, 2] == sum(a[1, j] * b[j, 2] for j in range(3))
    #> tensor(True)
    A = torch.arange(24).view(2, 3, 4)  # (batch, m, k) = (2, 3, 4)
    Bm = torch.arange(40).view(2, 4, 5)  # (batch, k, n) = (2, 4, 5)
    (A @ Bm).shape
    #> torch.Size([2, 3, 5])
    torch.equal(A @ Bm, torch.stack([A[0] @ Bm[0], A[1] @ Bm[1]]))
    #> True
    # --8<-- [end:rule]

    # --8<-- [start:broadcast]
    (torch.zeros(2, 1, 3, 4) @ torch.zeros(5, 4, 6)).shape
    #> torch.Size([2, 5, 3, 6])
    W = torch.zeros(4, 6)  # a 2-D weight: no batch dims at all
    (torch.zeros(7, 3, 4) @ W).shape, (torch.zeros(2, 7, 3, 4) @ W).shape
    #> (torch.Size([7, 3, 6]), torch.Size([2, 7, 3, 6]))
    A = torch.randint(-3, 4, (2, 1, 3, 4)).float()  # (B, 1, L, D)
    K = torch.randint(-3, 4, (5, 4, 6)).float()  # (H, D, S)
    torch.equal(A @ K, A.expand(2, 5, 3, 4) @ K.expand(2, 5, 4, 6))
    #> True
    # --8<-- [end:broadcast]

    # --8<-- [start:matmul_shape_examples]
    cases = [
        ((2, 3, 4), (4, 5)), ((2, 1, 3, 4), (5, 4, 6)),
        ((3, 4), (7, 2, 4, 5)), ((8, 4), (4,)), ((4,), (2, 4, 3)),
    ]
    [tuple(matmul_shape(a, b)) for a, b in cases]
    #> [(2, 3, 5), (2, 5, 3, 6), (7, 2, 3, 5), (8,), (2, 3)]
    all(
        matmul_shape(a, b) == (torch.empty(a) @ torch.empty(b)).shape
        for a, b in cases
    )
    #> True
    # --8<-- [end:matmul_shape_examples]

    # --8<-- [start:shape_errors]
    q = torch.zeros(2, 4, 3, 8)  # (B, H, L, D)
    k = torch.zeros(2, 4, 5, 8)  # (B, H, S, D)
    q @ k
    #> RuntimeError: Expected size for first two dimensions of batch2 tensor
    #> to be: [8, 8] but got: [8, 5].
    matmul_shape(q.shape, k.shape)
    #> ValueError: contracted dimension k does not match: a (2, 4, 3, 8) has
    #> k=8 in its last dim, b (2, 4, 5, 8) has 5 in its second-to-last dim
    torch.zeros(2, 3, 4) @ torch.zeros(5, 6)
    #> RuntimeError: mat1 and mat2 shapes cannot be multiplied (6x4 and 5x6)
    q @ torch.zeros(3, 4, 8, 5)
    #> RuntimeError: The size of tensor a (2) must match the size of tensor b
    #> (3) at non-singleton dimension 0
    matmul_shape(q.shape, (3, 4, 8, 5))
    #> ValueError: batch dims (2, 4) of a (2, 4, 3, 8) and (3, 4) of b
    #> (3, 4, 8, 5) cannot broadcast: at dim -4 the sizes 2 and 3 differ and
    #> neither is 1
    # --8<-- [end:shape_errors]

    # --8<-- [start:scores_equal]
    B, H, L, S, D = 2, 3, 4, 5, 8
    # small integers: every sum is exact
    q = torch.randint(-3, 4, (B, H, L, D)).float()
    k = torch.randint(-3, 4, (B, H, S, D)).float()
    # (B, H, L, D) @ (B, H, D, S) -> (B, H, L, S)
    scores = q @ k.transpose(-2, -1)
    scores.shape
    #> torch.Size([2, 3, 4, 5])
    torch.equal(scores, scores_loop(q, k))
    #> True
    torch.equal(scores, torch.einsum("bhld,bhsd->bhls", q, k))
    #> True
    torch.equal(scores, scores_bmm(q, k))
    #> True
    # --8<-- [end:scores_equal]

    # --8<-- [start:linear_ops]
    B, L, E, hd = 32, 128, 512, 64
    # small integers: every sum is exact
    x = torch.randint(-3, 4, (B, L, E)).float()
    proj = nn.Linear(E, hd)
    proj(x).shape
    #> torch.Size([32, 128, 64])
    matmul_ops(count_ops(proj, x))
    #> {'aten::addmm': 1}
    gemm_shapes(proj, x)
    #> [('aten::addmm', [(64,), (4096, 512), (512, 64)])]
    # --8<-- [end:linear_ops]

    # --8<-- [start:fold_ops]
    W = torch.randint(-3, 4, (E, hd)).float()  # (512, 64)
    (x @ W).shape
    #> torch.Size([32, 128, 64])
    matmul_ops(count_ops(torch.matmul, x, W))
    #> {'aten::mm': 1}
    gemm_shapes(torch.matmul, x, W)
    #> [('aten::mm', [(4096, 512), (512, 64)])]
    torch.equal(x @ W, (x.reshape(B * L, E) @ W).view(B, L, hd))
    #> True
    torch.equal((x @ W)[3, 7], x[3, 7] @ W)  # one token: (512,) @ (512, 64)
    #> True
    # --8<-- [end:fold_ops]

    # --8<-- [start:bmm_ops]
    B, H, L, D = 2, 4, 8, 16
    q = torch.randint(-3, 4, (B, H, L, D)).float()  # contiguous
    k = torch.randint(-3, 4, (B, H, L, D)).float()
    gemm_shapes(torch.matmul, q, k.transpose(-2, -1))
    #> [('aten::bmm', [(8, 8, 16), (8, 16, 8)])]
    matmul_ops(count_ops(torch.matmul, q, k.transpose(-2, -1)))
    #> {'aten::bmm': 1}
    # (B, H, L, D) view
    qs = split_heads(torch.randint(-3, 4, (B, L, H * D)).float(), H)
    ks = split_heads(torch.randint(-3, 4, (B, L, H * D)).float(), H)
    qs.stride()
    #> (512, 16, 64, 1)
    matmul_ops(count_ops(torch.matmul, qs, ks.transpose(-2, -1)))
    #> {'aten::bmm': 1, 'aten::clone': 2}
    q.reshape(B * H, L, D).data_ptr() == q.data_ptr()  # contiguous: a view
    #> True
    # split_heads view: a copy
    qs.reshape(B * H, L, D).data_ptr() == qs.data_ptr()
    #> False
    torch.equal(qs @ ks.transpose(-2, -1), scores_loop(qs, ks))
    #> True
    # --8<-- [end:bmm_ops]

    # --8<-- [start:broadcast_ops]
    a = torch.zeros(2, 1, 3, 4)  # (B, 1, L, D)
    kh = torch.zeros(5, 4, 6)  # (H, D, S)
    (a @ kh).shape  # (B, H, L, S)
    #> torch.Size([2, 5, 3, 6])
    gemm_shapes(torch.matmul, a, kh)  # one bmm over B·H = 10 matrices
    #> [('aten::bmm', [(10, 3, 4), (10, 4, 6)])]
    matmul_ops(count_ops(torch.matmul, a, kh))
    #> {'aten::bmm': 1, 'aten::clone': 2}
    # (B, H, L, D): the broadcast dim has stride 0
    a.expand(2, 5, 3, 4).stride()
    #> (12, 0, 4, 1)
    kh.expand(2, 5, 4, 6).stride()  # (B, H, D, S)
    #> (0, 24, 6, 1)
    # same batch dims
    matmul_ops(
        count_ops(
            torch.matmul, torch.zeros(2, 5, 3, 4), torch.zeros(2, 5, 4, 6)
        )
    )
    #> {'aten::bmm': 1}
    # elementwise: (B, 1, L, D) + (H, L, D) -> (B, H, L, D)
    count_ops(torch.add, a, torch.zeros(5, 3, 4))
    #> Counter({'aten::add': 1})
    # --8<-- [end:broadcast_ops]

    # --8<-- [start:broadcast_no_copy]
    B, H, L, D, S = 2, 4, 3, 8, 5
    q = torch.randint(-3, 4, (B, H, L, D)).float()  # contiguous
    # broadcast over both B and H
    k1 = torch.randint(-3, 4, (1, 1, D, S)).float()
    gemm_shapes(torch.matmul, q, k1)  # one bmm over B·H = 8 matrices
    #> [('aten::bmm', [(8, 3, 8), (8, 8, 5)])]
    matmul_ops(count_ops(torch.matmul, q, k1))  # no copy
    #> {'aten::bmm': 1}
    # (B, H, D, S): both batch dims have stride 0
    k1.expand(B, H, D, S).stride()
    #> (0, 0, 5, 1)
    # (B·H, D, S), as in _matmul_impl
    k3 = k1.expand(B, H, D, S).reshape(B * H, D, S)
    # a view: the batch stride stays 0
    k3.stride(), k3.data_ptr() == k1.data_ptr()
    #> ((0, 5, 1), True)
    torch.equal(q @ k1, q @ k1.expand(B, H, D, S).contiguous())
    #> True
    # a 2-D matrix: no batch dims at all
    k2 = torch.randint(-3, 4, (D, S)).float()
    matmul_ops(count_ops(torch.matmul, q, k2))  # folded into one mm
    #> {'aten::mm': 1}
    # --8<-- [end:broadcast_no_copy]

    # --8<-- [start:broadcast_gqa_copy]
    Hkv, G = 2, 3  # 2 key/value heads, each shared by G = 3 query heads
    qg = torch.randint(-3, 4, (B, Hkv, G, L, D)).float()  # (B, Hkv, G, L, D)
    kg = torch.randint(-3, 4, (B, Hkv, 1, D, S)).float()  # (B, Hkv, 1, D, S)
    (qg @ kg).shape  # (B, Hkv, G, L, S)
    #> torch.Size([2, 2, 3, 3, 5])
    gemm_shapes(torch.matmul, qg, kg)  # one bmm over B·Hkv·G = 12 matrices
    #> [('aten::bmm', [(12, 3, 8), (12, 8, 5)])]
    matmul_ops(count_ops(torch.matmul, qg, kg))  # kg is copied G times
    #> {'aten::bmm': 1, 'aten::clone': 1}
    # the 0 of G sits next to the 40 of Hkv
    kg.expand(B, Hkv, G, D, S).stride()
    #> (80, 40, 0, 5, 1)
    # (B·Hkv·G, D, S)
    kx = kg.expand(B, Hkv, G, D, S).reshape(B * Hkv * G, D, S)
    kx.data_ptr() == kg.data_ptr()  # a copy
    #> False
    # (B, Hkv, G·L, D): a view, the G heads stacked as rows
    qf = qg.flatten(2, 3)
    kf = kg.squeeze(2)  # (B, Hkv, D, S): a view
    gemm_shapes(torch.matmul, qf, kf)  # B·Hkv = 4 matrices of G·L = 9 rows
    #> [('aten::bmm', [(4, 9, 8), (4, 8, 5)])]
    matmul_ops(count_ops(torch.matmul, qf, kf))  # no copy
    #> {'aten::bmm': 1}
    torch.equal((qf @ kf).view(B, Hkv, G, L, S), qg @ kg)
    #> True
    # --8<-- [end:broadcast_gqa_copy]

    # --8<-- [start:fold_strides]
    B, L, E = 32, 128, 512
    # (B, L, E) view of sequence-first memory
    xs = torch.randn(L, B, E).transpose(0, 1)
    xs.is_contiguous(), xs.stride()
    #> (False, (512, 16384, 1))
    gemm_shapes(torch.matmul, xs, W)
    #> [('aten::bmm', [(32, 128, 512), (32, 512, 64)])]
    matmul_ops(count_ops(torch.matmul, xs, W))
    #> {'aten::bmm': 1}
    # a weight that will be trained
    Wg = torch.randn(E, hd, requires_grad=True)
    matmul_ops(count_ops(torch.matmul, xs, Wg))
    #> {'aten::mm': 1, 'aten::clone': 1}
    matmul_ops(count_ops(torch.matmul, x, Wg))
    #> {'aten::mm': 1}
    # --8<-- [end:fold_strides]

    # --8<-- [start:bmm_loop]
    torch.backends.mkl.is_available()  # this build has MKL
    #> True
    b1 = torch.randn(6, 8, 32)  # (batch, m, 32): 6 matrices of 8 rows
    # (batch, k, n): k·m·n = 16·8·8 = 1024, not tiny
    b2 = torch.randn(6, 16, 8)
    rows = b1[..., :16]  # (6, 8, 16): each matrix stored by rows
    every2 = b1[..., ::2]  # (6, 8, 16): every second column
    rows.stride(), every2.stride()  # every2: neither by rows nor by columns
    #> ((256, 32, 1), (256, 32, 2))
    count_ops(torch.bmm, rows, b2)["aten::clone"]  # one MKL batched call
    #> 0
    # the loop: a copy per matrix
    count_ops(torch.bmm, every2, b2)["aten::clone"]
    #> 6
    torch.allclose(every2 @ b2, every2.contiguous() @ b2)
    #> True
    # --8<-- [end:bmm_loop]

    # --8<-- [start:layouts]
    proj = nn.Linear(8, 2)
    [
        tuple(proj(torch.zeros(*lead, 8)).shape)
        for lead in [(), (5,), (2, 3, 4)]
    ]
    #> [(2,), (5, 2), (2, 3, 4, 2)]
    conv = nn.Conv2d(3, 4, kernel_size=1)
    # (N, C, H, W) or (C, H, W)
    conv(torch.zeros(2, 3, 5, 5)).shape, conv(torch.zeros(3, 5, 5)).shape
    #> (torch.Size([2, 4, 5, 5]), torch.Size([4, 5, 5]))
    nn.MultiheadAttention(8, 2).batch_first, nn.LSTM(8, 4).batch_first
    #> (False, False)
    import inspect
    inspect.signature(nn.Transformer).parameters["batch_first"].default
    #> False
    mha = nn.MultiheadAttention(embed_dim=8, num_heads=2)
    x = torch.randn(5, 3, 8)  # (L, N, E): 5 tokens, a batch of 3
    out, weights = mha(x, x, x)
    out.shape, weights.shape
    #> (torch.Size([5, 3, 8]), torch.Size([3, 5, 5]))
    out0, _ = mha(x[:, :1], x[:, :1], x[:, :1])  # sample 0 alone
    torch.allclose(out[:, :1], out0, atol=1e-6)
    #> True
    # --8<-- [end:layouts]

    # --8<-- [start:gradients]
    t = torch.arange(6.).view(2, 3)
    t.sum(), t.mean()
    #> (tensor(15.), tensor(2.5000))
    t.sum(dim=0), t.mean(dim=0)
    #> (tensor([3., 5., 7.]), tensor([1.5000, 2.5000, 3.5000]))
    N = 4
    X, y = torch.randn(N, 3), torch.randn(N, 2)  # N samples
    model = nn.Linear(3, 2)
    loss = ((model(X) - y) ** 2).mean()  # one number for the whole batch
    loss.shape
    #> torch.Size([])
    loss.backward()
    model.weight.grad.shape == model.weight.shape
    #> True
    def sample_grad(i):  # the gradient of sample i's own loss
        return torch.autograd.grad(
            ((model(X[i]) - y[i]) ** 2).mean(), model.weight
        )[0]

    per_sample = torch.stack([sample_grad(i) for i in range(N)])  # (N, 2, 3)
    per_sample.shape
    #> torch.Size([4, 2, 3])
    torch.allclose(model.weight.grad, per_sample.mean(dim=0), atol=1e-6)
    #> True
    # --8<-- [end:gradients]
