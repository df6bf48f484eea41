"""Properties of snippets/matmul.py over many shapes (the pages show one readable example each)."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from figures.matmul import attention_scores, broadcast_svg, scores_grid_svg
from snippets.matmul import count_ops, gemm_shapes, matmul_ops, matmul_shape, scores_bmm, scores_loop
from snippets.shapes import split_heads

sizes = st.integers(min_value=0, max_value=3)
shapes = st.lists(sizes, min_size=1, max_size=4).map(tuple)


def torch_matmul_shape(a, b):
    """What torch itself says: the result's shape, or None when it raises."""
    try:
        return (torch.empty(a) @ torch.empty(b)).shape
    except RuntimeError:
        return None


@settings(max_examples=400, deadline=None)
@given(a=shapes, b=shapes)
def test_matmul_shape_raises_exactly_where_torch_raises(a, b):
    expected = torch_matmul_shape(a, b)
    if expected is None:
        with pytest.raises(ValueError):
            matmul_shape(a, b)
    else:
        assert matmul_shape(a, b) == expected


@st.composite
def broadcastable_pairs(draw):
    """Shapes built to broadcast: a common batch shape, each operand keeping a right-aligned
    suffix of it with some dims set to 1."""
    dim = st.integers(min_value=1, max_value=4)
    batch = draw(st.lists(dim, max_size=3))
    m, k, n = draw(dim), draw(dim), draw(dim)

    def operand(last_two):
        keep = draw(st.integers(min_value=0, max_value=len(batch)))
        own = [1 if draw(st.booleans()) else s for s in batch[len(batch) - keep:]]
        return tuple(own) + last_two

    return operand((m, k)), operand((k, n)), tuple(batch), (m, n)


@settings(max_examples=200, deadline=None)
@given(pair=broadcastable_pairs())
def test_matmul_shape_follows_the_rule_and_equals_torch(pair):
    a, b, batch, (m, n) = pair
    result = matmul_shape(a, b)
    assert result == torch_matmul_shape(a, b)
    assert result[-2:] == (m, n)  # the matrix dims: k is gone
    assert len(result) == max(len(a), len(b))  # missing batch dims are filled in
    for i in range(1, len(result) - 1):  # every batch dim is the larger of the aligned sizes
        aligned = [s[-i - 2] if i + 2 <= len(s) else 1 for s in (a, b)]
        assert result[-i - 2] == max(aligned)


@pytest.mark.parametrize(
    "a, b, error, message",
    [
        ((2, 3, 4), (5, 6), ValueError, "a (2, 3, 4) has k=4 in its last dim, b (5, 6) has 5"),
        ((2, 3), (4,), ValueError, "b (4,) has 4 in its only dim"),
        ((2, 3, 4), (3, 4, 6), ValueError, "at dim -3 the sizes 2 and 3 differ and neither is 1"),
        ((), (3,), ValueError, "at least 1 dim"),
        ((2, -1), (1, 2), ValueError, "non-negative ints, got (2, -1)"),
        ((2, True), (1, 2), ValueError, "non-negative ints"),
        ((2, 3.0), (3, 2), ValueError, "non-negative ints"),
        (torch.zeros(2, 3), (3, 2), TypeError, "got Tensor"),
        ("23", (3, 2), TypeError, "got str"),
    ],
)
def test_bad_shapes_get_a_clear_error(a, b, error, message):
    with pytest.raises(error) as info:
        matmul_shape(a, b)
    assert message in str(info.value)


dims = st.integers(min_value=1, max_value=4)


@settings(max_examples=60, deadline=None)
@given(B=dims, H=dims, L=dims, S=dims, D=dims, split=st.booleans())
def test_scores_loop_and_bmm_equal_matmul_and_einsum(B, H, L, S, D, split):
    if split:  # (B, H, L, D) views made by split_heads, as in attention
        q = split_heads(torch.randint(-3, 4, (B, L, H * D)).float(), H)
        k = split_heads(torch.randint(-3, 4, (B, S, H * D)).float(), H)
    else:
        q = torch.randint(-3, 4, (B, H, L, D)).float()
        k = torch.randint(-3, 4, (B, H, S, D)).float()
    scores = q @ k.transpose(-2, -1)
    assert scores.shape == (B, H, L, S)
    assert torch.equal(scores, scores_loop(q, k))
    assert torch.equal(scores, scores_bmm(q, k))
    assert torch.equal(scores, torch.einsum("bhld,bhsd->bhls", q, k))


@pytest.mark.parametrize(
    "q, k, message",
    [
        (torch.zeros(2, 3, 4), torch.zeros(2, 3, 4), "expected q (B, H, L, D) and k (B, H, S, D)"),
        (torch.zeros(2, 3, 4, 5), torch.zeros(2, 2, 4, 5), "must share B, H (dims 0, 1) and D (dim 3)"),
        (torch.zeros(2, 3, 4, 5), torch.zeros(2, 3, 4, 6), "must share B, H (dims 0, 1) and D (dim 3)"),
    ],
)
@pytest.mark.parametrize("scores", [scores_loop, scores_bmm])
def test_scores_reference_rejects_mismatched_q_and_k(scores, q, k, message):
    with pytest.raises(ValueError) as info:
        scores(q, k)
    assert message in str(info.value)


@settings(max_examples=20, deadline=None)
@given(B=dims, L=dims, E=dims, n=dims, bias=st.booleans())
def test_linear_and_3d_times_2d_are_one_gemm_over_all_rows(B, L, E, n, bias):
    x = torch.randn(B, L, E)
    proj = torch.nn.Linear(E, n, bias=bias)
    gemm = "aten::addmm" if bias else "aten::mm"
    assert matmul_ops(count_ops(proj, x)) == {gemm: 1}
    assert gemm_shapes(proj, x)[0][1][-2:] == [(B * L, E), (E, n)]
    W = torch.randn(E, n)
    assert matmul_ops(count_ops(torch.matmul, x, W)) == {"aten::mm": 1}
    assert gemm_shapes(torch.matmul, x, W) == [("aten::mm", [(B * L, E), (E, n)])]


@settings(max_examples=20, deadline=None)
@given(B=dims, H=dims, L=dims, D=dims)
def test_4d_matmul_is_one_bmm_and_copies_only_unmergeable_views(B, H, L, D):
    q, k = torch.randn(B, H, L, D), torch.randn(B, H, L, D)
    assert matmul_ops(count_ops(torch.matmul, q, k.transpose(-2, -1))) == {"aten::bmm": 1}
    assert gemm_shapes(torch.matmul, q, k.transpose(-2, -1)) == [
        ("aten::bmm", [(B * H, L, D), (B * H, D, L)])
    ]
    qs = split_heads(torch.randn(B, L, H * D), H)
    ks = split_heads(torch.randn(B, L, H * D), H)
    # B and H merge into one stride only if one of them is 1, or if L is 1 (then stride_B = H·D).
    mergeable = B == 1 or H == 1 or L == 1
    expected = {"aten::bmm": 1} if mergeable else {"aten::bmm": 1, "aten::clone": 2}
    assert matmul_ops(count_ops(torch.matmul, qs, ks.transpose(-2, -1))) == expected


batch = st.integers(min_value=2, max_value=3)


@settings(max_examples=30, deadline=None)
@given(B=batch, H=batch, L=dims, D=dims, S=dims)
def test_an_operand_broadcast_over_every_batch_dim_is_never_copied(B, H, L, D, S):
    q = torch.randn(B, H, L, D)
    assert matmul_ops(count_ops(torch.matmul, q, torch.randn(1, 1, D, S))) == {"aten::bmm": 1}
    assert matmul_ops(count_ops(torch.matmul, q, torch.randn(1, D, S))) == {"aten::bmm": 1}
    assert matmul_ops(count_ops(torch.matmul, q, torch.randn(D, S))) == {"aten::mm": 1}
    # broadcast over one batch dim, real in the other: one copy of that operand
    for part in (torch.randn(1, H, D, S), torch.randn(B, 1, D, S), torch.randn(H, D, S)):
        assert matmul_ops(count_ops(torch.matmul, q, part)) == {"aten::bmm": 1, "aten::clone": 1}


@settings(max_examples=30, deadline=None)
@given(B=dims, Hkv=dims, G=batch, L=dims, D=dims, S=dims)
def test_gqa_keys_are_copied_unless_the_groups_are_folded_into_the_rows(B, Hkv, G, L, D, S):
    qg = torch.randint(-3, 4, (B, Hkv, G, L, D)).float()  # small integers: every sum is exact
    kg = torch.randint(-3, 4, (B, Hkv, 1, D, S)).float()
    copied = B * Hkv > 1  # a real batch dim of the keys sits next to the broadcast G
    expected = {"aten::bmm": 1, "aten::clone": 1} if copied else {"aten::bmm": 1}
    assert matmul_ops(count_ops(torch.matmul, qg, kg)) == expected
    qf, kf = qg.flatten(2, 3), kg.squeeze(2)  # (B, Hkv, G·L, D), (B, Hkv, D, S): views
    assert matmul_ops(count_ops(torch.matmul, qf, kf)) == {"aten::bmm": 1}
    assert torch.equal((qf @ kf).view(B, Hkv, G, L, S), qg @ kg)


@pytest.mark.skipif(not torch.backends.mkl.is_available(), reason="MKL's batched path needs MKL")
@settings(max_examples=20, deadline=None)
@given(n=batch, m=st.integers(5, 8), k=st.integers(10, 12), p=st.integers(10, 12))
def test_the_cpu_bmm_loops_per_matrix_with_mkl_too(n, m, k, p):
    # k·m·p >= 500: above the tiny-matrix limit of 400, so MKL or the loop
    b1, b2 = torch.randn(n, m, 2 * k), torch.randn(n, k, p)
    rows, every2 = b1[..., :k], b1[..., ::2]  # (n, m, k): by rows; neither by rows nor columns
    assert count_ops(torch.bmm, rows, b2)["aten::clone"] == 0  # one MKL batched call
    assert count_ops(torch.bmm, every2, b2)["aten::clone"] == n  # the loop copies each matrix
    assert torch.allclose(torch.bmm(every2, b2), torch.bmm(every2.contiguous(), b2), atol=1e-5)


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize(
    "a, b", [((2, 1, 3, 4), (5, 4, 6)), ((7, 3, 4), (4, 5)), ((3, 2, 4), (1, 4, 2)), ((3, 4), (2, 4, 5))]
)
def test_the_broadcast_figure_shows_the_real_shapes(lang, a, b):
    svg = ET.fromstring(broadcast_svg(lang, a, b))
    ns = "{http://www.w3.org/2000/svg}"
    rows = {g.get("id"): g for g in svg.iter(f"{ns}g")}
    out = tuple((torch.zeros(a) @ torch.zeros(b)).shape)
    for key, shape in (("row-a", a), ("row-b", b), ("row-out", out)):
        assert rows[key].get("data-shape") == ",".join(map(str, shape))
    cells = [t.text for t in rows["row-out"].iter(f"{ns}text") if t.get("text-anchor") == "middle"]
    assert cells == [str(s) for s in out]  # the result row: broadcast batch dims, then m, n
    a_cells = [t.text for t in rows["row-a"].iter(f"{ns}text") if t.get("text-anchor") == "middle"]
    assert a_cells[-2:] == [str(a[-2]), str(a[-1])]  # m and k of A
    texts = " ".join(t.text or "" for t in svg.iter(f"{ns}text"))
    assert f"k = {a[-1]}" in texts


def test_the_figure_rejects_vectors():
    with pytest.raises(ValueError):
        broadcast_svg("en", (3,), (3, 4))


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("sizes", [{}, {"B": 1, "H": 2, "L": 3, "S": 2, "D": 4, "seed": 7}])
def test_the_scores_figure_shows_the_real_scores(lang, sizes):
    """One L × S matrix per (b, h), its numbers those of q[b, h] @ k[b, h]ᵀ, at sizes a phone shows."""
    q, k, scores = attention_scores(**sizes)
    B, H, L, D = q.shape
    S = k.shape[2]
    assert scores.shape == (B, H, L, S)
    svg = ET.fromstring(scores_grid_svg(lang, **sizes))
    ns = "{http://www.w3.org/2000/svg}"
    groups = {(int(g.get("data-b")), int(g.get("data-h"))): list(g) for g in svg.iter(f"{ns}g")
              if g.get("class") == "scores"}
    assert sorted(groups) == [(b, h) for b in range(B) for h in range(H)]
    for (b, h), children in groups.items():
        # A cell is a rect and the text right after it: its value, row by row.
        cells = [float(children[i + 1].text) for i, el in enumerate(children) if el.tag == f"{ns}rect"]
        expected = torch.einsum("ld,sd->ls", q[b, h], k[b, h])  # (L, D), (S, D) -> (L, S)
        assert cells == expected.flatten().tolist(), (b, h)
    texts = [t.text or "" for t in svg.iter(f"{ns}text")]
    assert f"({B}, {H}, {L}, {S})" in " ".join(texts)
    assert texts[-1] == f"{scores.max().item():.0f}"  # the colour scale ends at the real extremes
    assert f"{scores.min().item():.0f}" in texts[-3:]
    # Legible on a 390 px phone: narrower than its content column (358 px), no text under 12 px.
    assert float(svg.get("width")) <= 358
    assert min(int(t.get("font-size")) for t in svg.iter(f"{ns}text")) >= 12
