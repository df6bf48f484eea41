"""Diagrams for the pages, drawn from real tensors (no hand-drawn picture).

Each figure is computed from the same functions the pages include (``snippets.shapes``): the
numbers in the cells are the values of an ``arange`` tensor, i.e. each element's position in
memory, and the strides printed under each panel are read from ``Tensor.stride()``. The SVG is
written by hand (no plotting library) so that it is small, deterministic and has no external
fonts.
"""

from __future__ import annotations

import torch

from figures import svg
from snippets.shapes import split_heads

CELL = 34
GAP = 8

LABELS = {
    "en": {
        "storage": "memory of x: one row of {n} numbers (value = position in memory)",
        "token": "token {l}",
        "split": "split_heads(x, {h}) — shape {shape}, stride {stride}",
        "wrong": "x.reshape{shape} — stride {stride} (wrong: heads mixed)",
        "head": "head {h}",
        "steps": "next feature +{d} · next token +{l} · next head +{h} in memory",
        "legend": "colour = the head a number belongs to",
    },
    "zh": {
        "storage": "x 的内存：一行 {n} 个数（数值 = 在内存中的位置）",
        "token": "词元 {l}",
        "split": "split_heads(x, {h}) — 形状 {shape}，步长 {stride}",
        "wrong": "x.reshape{shape} — 步长 {stride}（错误：头被混在一起）",
        "head": "头 {h}",
        "steps": "内存中：下一个特征 +{d} · 下一个词元 +{l} · 下一个头 +{h}",
        "legend": "颜色 = 这个数所属的头",
    },
}




def _cell(x: float, y: float, value: int, head: int) -> str:
    return svg.cell(x, y, value, svg.FILLS[head % 4], svg.STROKES[head % 4], CELL)


def _head_grids(t: torch.Tensor, y0: float, head_of, label) -> tuple[list[str], float]:
    """Draw t[0, h] (an (L, D) matrix) for every head h, side by side."""
    parts = []
    _, H, L, D = t.shape
    x = 20
    for h in range(H):
        parts.append(svg.text(x, y0 + 14, label["head"].format(h=h), 13, weight="bold"))
        for l in range(L):
            for d in range(D):
                v = int(t[0, h, l, d])
                parts.append(_cell(x + d * CELL, y0 + 22 + l * CELL, v, head_of(v)))
        x += D * CELL + 3 * GAP
    return parts, y0 + 22 + L * CELL


def split_heads_svg(lang: str, L: int = 3, H: int = 2, D: int = 2) -> str:
    """Memory of x (1, L, E), the (1, H, L, D) view from split_heads, and the wrong reshape."""
    label = LABELS[lang]
    E = H * D
    x = torch.arange(L * E).view(1, L, E)  # (B, L, E) with B = 1: value = memory position
    q = split_heads(x, H)  # (B, H, L, D): a view of the same memory
    wrong = x.reshape(1, H, L, D)  # (B, H, L, D): same numbers, wrong grouping

    def head_of(v: int) -> int:
        return (v % E) // D

    width = max(40 + L * E * CELL, 560)
    parts = [svg.text(20, 22, label["storage"].format(n=L * E), 14, weight="bold")]
    for pos, v in enumerate(x.flatten().tolist()):
        parts.append(_cell(20 + pos * CELL, 32, v, head_of(v)))
    for l in range(L):
        mid = 20 + (l * E + E / 2) * CELL
        parts.append(
            f'<path d="M{20 + l * E * CELL + 3} {32 + CELL + 6} v6 h{E * CELL - 6} v-6" '
            f'fill="none" stroke="#555"/>'
        )
        parts.append(svg.text(mid, 32 + CELL + 28, label["token"].format(l=l), 12, "middle"))

    y = 32 + CELL + 58
    s = q.stride()
    parts.append(
        svg.text(20, y, label["split"].format(h=H, shape=tuple(q.shape), stride=s), 14, weight="bold")
    )
    parts.append(svg.text(20, y + 18, label["steps"].format(d=s[3], l=s[2], h=s[1]), 12))
    grids, y = _head_grids(q, y + 24, head_of, label)
    parts += grids

    y += 34
    parts.append(
        svg.text(20, y, label["wrong"].format(shape=tuple(wrong.shape), stride=wrong.stride()), 14, weight="bold")
    )
    grids, y = _head_grids(wrong, y + 6, head_of, label)
    parts += grids

    y += 26
    for h in range(H):
        parts.append(_cell(20 + h * (CELL + 70), y, h, h))
        parts.append(svg.text(20 + h * (CELL + 70) + CELL + 6, y + 22, label["head"].format(h=h), 12))
    parts.append(svg.text(20 + H * (CELL + 70), y + 22, label["legend"], 12))
    height = y + CELL + 14
    return svg.document(width, height, parts)


#: Every generated figure: file name (relative to docs/) -> function of the language.
FIGURES = {
    "assets/figures/split_heads.{lang}.svg": split_heads_svg,
}
