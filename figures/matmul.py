"""The broadcasting diagram of chapter 2 (docs/matmul.*.md), drawn from real tensors.

Shapes come from real tensors: the result's shape is ``(torch.zeros(a) @ torch.zeros(b)).shape``
and is checked against ``snippets.matmul.matmul_shape``. Batch dims are drawn aligned from the
right; the matrix dims (m, k) and (k, n) are drawn apart, with the contracted dim k marked in both
operands and missing from the result. Hand-written SVG, like :mod:`figures.shapes`.
"""

from __future__ import annotations

import torch

from figures import svg
from snippets.matmul import matmul_shape

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


#: File name (relative to docs/) -> function of the language.
FIGURES = {
    "assets/figures/matmul_broadcast.{lang}.svg": broadcast_svg,
}
