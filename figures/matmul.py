"""The figures of the matmul chapter (docs/matmul.*.md), drawn from real tensors: the
broadcasting diagram and the attention scores (B, H, L, S) as a grid of L × S matrices.

Shapes come from real tensors: the result's shape is ``(torch.zeros(a) @ torch.zeros(b)).shape``
and is checked against ``snippets.matmul.matmul_shape``. Batch dims are drawn aligned from the
right; the matrix dims (m, k) and (k, n) are drawn apart, with the contracted dim k marked in both
operands and missing from the result. The scores are ``q @ k.transpose(-2, -1)`` of small integers
from a fixed seed, checked against ``snippets.matmul.scores_loop``; each cell shows its value.
Hand-written SVG, like :mod:`figures.shapes`.
"""

from __future__ import annotations

import torch

from figures import svg
from snippets.matmul import matmul_shape, scores_loop

CELL_W, CELL_H = 58, 36
LEFT = 190  # room for the row labels
GAP = 34  # between the batch columns and the matrix columns
ROLE_FILL = {"batch": "#c7dcf7", "m": "#d4eccd", "k": "#fbd9b0", "n": "#ecd1ef"}
ROLE_STROKE = {"batch": "#3b6fb6", "m": "#3f8a3a", "k": "#c46a12", "n": "#8a3f94"}

LABELS = {
    "en": {
        "title": "A @ B: batch dims align from the right and broadcast; k is summed",
        "batch": "batch dims (broadcast)",
        "matrix": "matrix dims",
        "out": "A @ B",
        "missing": "missing",
        "summed": "k = {k} is summed",
        "gone": "it is not in the result",
        "legend_batch": "batch",
        "legend_m": "m (rows)",
        "legend_k": "k (contracted dimension)",
        "legend_n": "n (columns)",
        "legend_bcast": "dashed: size 1 or missing, stretched to the result's size",
    },
    "zh": {
        "title": "A @ B：批量维度从右对齐并广播；k 被求和",
        "batch": "批量维度（广播）",
        "matrix": "矩阵维度",
        "out": "A @ B",
        "missing": "缺失",
        "summed": "k = {k} 被求和",
        "gone": "结果中没有这一维",
        "legend_batch": "批量",
        "legend_m": "m（行）",
        "legend_k": "k（求和维度）",
        "legend_n": "n（列）",
        "legend_bcast": "虚线：大小为 1 或缺失，被扩展到结果的大小",
    },
}




def _cell(x, y, role, text, dashed=False, note="") -> str:
    dash = ' stroke-dasharray="5 3"' if dashed else ""
    fill = "#fff" if dashed else ROLE_FILL[role]
    parts = [
        f'<rect x="{x:.0f}" y="{y:.0f}" width="{CELL_W}" height="{CELL_H}" rx="4" '
        f'fill="{fill}" stroke="{ROLE_STROKE[role]}" stroke-width="1.5"{dash}/>',
        svg.text(x + CELL_W / 2, y + (17 if note else 24), text, 16, "middle", "bold", mono=True),
    ]
    if note:
        parts.append(svg.text(x + CELL_W / 2, y + 31, note, 11, "middle", fill="#b3261e", mono=True))
    return "".join(parts)


def broadcast_svg(lang: str, a_shape=(2, 1, 3, 4), b_shape=(5, 4, 6)) -> str:
    """A (…, m, k), B (…, k, n) and A @ B, one row each, computed from real tensors."""
    label = LABELS[lang]
    a = torch.zeros(a_shape)  # (…, m, k)
    b = torch.zeros(b_shape)  # (…, k, n)
    if a.dim() < 2 or b.dim() < 2:
        raise ValueError(f"the diagram needs operands with at least 2 dims, got {a_shape} and {b_shape}")
    out_shape = tuple((a @ b).shape)  # (…, m, n)
    if out_shape != tuple(matmul_shape(a.shape, b.shape)):  # the rule and torch must agree
        raise AssertionError(f"matmul_shape disagrees with torch for {a_shape} @ {b_shape}")
    batch_out = out_shape[:-2]
    nb = len(batch_out)
    x_matrix = LEFT + nb * CELL_W + GAP
    width = x_matrix + 2 * CELL_W + 180
    y_rows = {"a": 78, "b": 140, "out": 222}

    parts = [svg.text(20, 26, label["title"], 15, weight="bold")]
    # Column headers with brackets.
    if nb:
        parts.append(
            f'<path d="M{LEFT + 2} 56 v-6 h{nb * CELL_W - 4} v6" fill="none" stroke="{ROLE_STROKE["batch"]}"/>'
        )
        parts.append(svg.text(LEFT + nb * CELL_W / 2, 44, label["batch"], 12, "middle", fill=ROLE_STROKE["batch"]))
    parts.append(f'<path d="M{x_matrix + 2} 56 v-6 h{2 * CELL_W - 4} v6" fill="none" stroke="#555"/>')
    parts.append(svg.text(x_matrix + CELL_W, 44, label["matrix"], 12, "middle", fill="#555"))

    rows = [("a", "A", tuple(a.shape), ("m", "k")), ("b", "B", tuple(b.shape), ("k", "n")),
            ("out", label["out"], out_shape, ("m", "n"))]
    for key, name, shape, roles in rows:
        y = y_rows[key]
        parts.append(f'<g id="row-{key}" data-shape="{",".join(map(str, shape))}">')
        parts.append(svg.text(20, y + 17, name, 14, weight="bold"))
        parts.append(svg.text(20, y + 33, str(shape).replace(",)", ")"), 12, fill="#444", mono=True))
        batch = shape[:-2]
        for i in range(nb, 0, -1):  # batch dims, aligned from the right, drawn left to right
            x = LEFT + (nb - i) * CELL_W
            target = batch_out[-i]
            if i <= len(batch):
                size = batch[-i]
                stretched = key != "out" and size != target
                parts.append(_cell(x, y, "batch", size, stretched, f"→{target}" if stretched else ""))
            else:
                parts.append(_cell(x, y, "batch", "·", True, f"→{target}"))
        for j, role in enumerate(roles):
            parts.append(_cell(x_matrix + j * CELL_W, y, role, shape[j - 2]))
        parts.append("</g>")

    # The contracted dim: A's last dim meets B's second-to-last dim.
    k = a.shape[-1]
    xa, xb = x_matrix + 1.5 * CELL_W, x_matrix + 0.5 * CELL_W
    parts.append(
        f'<path d="M{xa:.0f} {y_rows["a"] + CELL_H} L{xb:.0f} {y_rows["b"]}" '
        f'stroke="{ROLE_STROKE["k"]}" stroke-width="2" fill="none"/>'
    )
    line_y = y_rows["out"] - 22
    parts.append(f'<path d="M20 {line_y} H{x_matrix + 2 * CELL_W}" stroke="#999"/>')
    parts.append(
        svg.text(x_matrix + 2 * CELL_W + 14, y_rows["b"] + 15, label["summed"].format(k=k), 13,
              fill=ROLE_STROKE["k"], weight="bold")
    )
    parts.append(svg.text(x_matrix + 2 * CELL_W + 14, y_rows["b"] + 32, label["gone"], 12, fill=ROLE_STROKE["k"]))

    # Legend.
    y = y_rows["out"] + CELL_H + 30
    x = 20
    for role in ("batch", "m", "k", "n"):
        text = label[f"legend_{role}"]
        parts.append(
            f'<rect x="{x}" y="{y - 12}" width="16" height="16" rx="3" fill="{ROLE_FILL[role]}" '
            f'stroke="{ROLE_STROKE[role]}"/>'
        )
        parts.append(svg.text(x + 22, y + 1, text, 12))
        x += 22 + 8 * len(text) + (30 if lang == "en" else 60)
    y += 24
    parts.append(
        f'<rect x="20" y="{y - 12}" width="16" height="16" rx="3" fill="#fff" '
        f'stroke="{ROLE_STROKE["batch"]}" stroke-dasharray="4 2"/>'
    )
    parts.append(svg.text(42, y + 1, label["legend_bcast"] + f" ({label['missing']} = ·)", 12))
    height = y + 18
    width = max(width, x + 10)
    return svg.document(width, height, parts)


SCORES_LABELS = {
    "en": {
        "title": "Attention scores q @ kᵀ",
        "shape": "(B, H, L, S) = ({B}, {H}, {L}, {S}); D = {D} is summed",
        "matrix": "b = {b}, h = {h}",
        "rows": "rows l: queries (L = {L})",
        "cols": "columns s: keys (S = {S})",
        "scale": "colour: the score",
    },
    "zh": {
        "title": "注意力分数 q @ kᵀ",
        "shape": "(B, H, L, S) = ({B}, {H}, {L}, {S})；D = {D} 被求和",
        "matrix": "b = {b}，h = {h}",
        "rows": "行 l：查询（L = {L}）",
        "cols": "列 s：键（S = {S}）",
        "scale": "颜色：分数的值",
    },
}
SCORE_CELL_W, SCORE_CELL_H = 28, 22  # 352 px wide: no scaling on a 390 px phone
NEGATIVE, POSITIVE = (59, 111, 182), (196, 106, 18)  # blue below 0, orange above


def attention_scores(B=2, H=3, L=4, S=5, D=8, seed=0):
    """q (B, H, L, D), k (B, H, S, D) of small integers from a fixed seed, and q @ kᵀ."""
    g = torch.Generator().manual_seed(seed)
    q = torch.randint(-3, 4, (B, H, L, D), generator=g).float()  # exact sums
    k = torch.randint(-3, 4, (B, H, S, D), generator=g).float()
    scores = q @ k.transpose(-2, -1)  # (B, H, L, D) @ (B, H, D, S) -> (B, H, L, S)
    if not torch.equal(scores, scores_loop(q, k)):  # one (L, D) @ (D, S) per (b, h)
        raise AssertionError("q @ kᵀ differs from the loop over (b, h)")
    return q, k, scores


def _score_fill(value: float, top: float) -> str:
    """White at 0, towards blue (negative) or orange (positive), at most 70 % of the way."""
    rgb = POSITIVE if value > 0 else NEGATIVE
    t = 0.7 * min(abs(value) / top, 1.0) if top else 0.0
    return "#" + "".join(f"{round(255 + (c - 255) * t):02x}" for c in rgb)


def scores_grid_svg(lang: str, B=2, H=3, L=4, S=5, D=8, seed=0) -> str:
    """The scores (B, H, L, S) as a grid of L × S matrices: one column per b, one row per h."""
    label = SCORES_LABELS[lang]
    _, _, scores = attention_scores(B, H, L, S, D, seed)
    top = scores.abs().max().item()
    index_w = 18  # the column of row indices l left of each matrix
    block_w = index_w + S * SCORE_CELL_W
    gap, margin = 16, 10
    width = max(margin * 2 + B * block_w + (B - 1) * gap, 340)  # room for the title lines
    parts = [
        svg.text(margin, 24, label["title"], 15, weight="bold"),
        svg.text(margin, 44, label["shape"].format(B=B, H=H, L=L, S=S, D=D), 12, fill="#444"),
    ]
    y = 62
    block_h = 18 + 16 + L * SCORE_CELL_H  # caption, column indices s, the cells
    for h in range(H):
        for b in range(B):
            x = margin + b * (block_w + gap)
            x_cells = x + index_w
            parts.append(f'<g class="scores" data-b="{b}" data-h="{h}">')
            parts.append(svg.text(x_cells, y + 13, label["matrix"].format(b=b, h=h), 12, weight="bold"))
            for s in range(S):
                parts.append(svg.text(x_cells + (s + 0.5) * SCORE_CELL_W, y + 30, s, 12, "middle",
                                      fill="#666", mono=True))
            for l in range(L):
                y_cell = y + 34 + l * SCORE_CELL_H
                parts.append(svg.text(x + index_w - 5, y_cell + 16, l, 12, "end", fill="#666", mono=True))
                for s in range(S):
                    value = int(scores[b, h, l, s].item())  # exact: small integers
                    parts.append(svg.cell(x_cells + s * SCORE_CELL_W, y_cell, value,
                                          _score_fill(value, top), "#bbb", SCORE_CELL_W, 12,
                                          height=SCORE_CELL_H, rx=0))
            parts.append("</g>")
        y += block_h + 12
    # What rows and columns are, and the colour scale with the real extremes.
    parts.append(svg.text(margin, y + 8, label["rows"].format(L=L), 12))
    parts.append(svg.text(margin, y + 26, label["cols"].format(S=S), 12))
    y += 44
    lo, hi = scores.min().item(), scores.max().item()
    bar_x, bar_w, steps = margin, width - 2 * margin, 24
    parts.append(svg.text(margin, y + 8, label["scale"], 12))
    for i in range(steps):
        value = lo + (hi - lo) * (i + 0.5) / steps
        parts.append(f'<rect x="{bar_x + i * bar_w / steps:.1f}" y="{y + 16}" width="{bar_w / steps + 0.5:.1f}" '
                     f'height="12" fill="{_score_fill(value, top)}"/>')
    parts.append(svg.text(bar_x, y + 44, f"{lo:.0f}", 12, mono=True))
    if lo < 0 < hi:
        parts.append(svg.text(bar_x + bar_w * (-lo) / (hi - lo), y + 44, "0", 12, "middle", mono=True))
    parts.append(svg.text(bar_x + bar_w, y + 44, f"{hi:.0f}", 12, "end", mono=True))
    return svg.document(width, y + 52, parts)


#: File name (relative to docs/) -> function of the language.
FIGURES = {
    "assets/figures/matmul_broadcast.{lang}.svg": broadcast_svg,
    "assets/figures/matmul_scores.{lang}.svg": scores_grid_svg,
}
