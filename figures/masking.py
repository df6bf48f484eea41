"""Diagram for the masking chapter, drawn from the real outputs of ``snippets.masking``.

Four (L, S) grids for L = S = 4: ``causal_mask(4)``, the padding mask of a sequence with 2 real
tokens (``padding_mask``, broadcast over the queries), the two combined with ``&``, and causal
combined with left padding, whose first rows keep no key at all. Every cell is one element of the
tensor: 1 = True = allowed, 0 = False = masked. Hand-written SVG, like :mod:`figures.shapes`.
"""

from __future__ import annotations

import torch

from figures import svg
from snippets.masking import causal_mask, padding_mask

CELL = 30
PANEL = 240  # horizontal distance between panels
ALLOWED = ("#d4eccd", "#3f8a3a")  # fill, stroke
MASKED = ("#eeeeee", "#9a9a9a")
EMPTY_ROW = "#c0392b"  # a query that keeps no key

LABELS = {
    "en": {
        "causal": ("causal_mask(4)", "query i sees keys 0..i"),
        "padding": ("padding_mask([4, 2], 4)", "sequence 1: length 2, every query"),
        "both": ("causal & padding", "(L, S) & (B, 1, 1, S)"),
        "left": ("causal & left padding", "real tokens at the end"),
        "query": "q{i}",
        "key": "k{j}",
        "legend": "1 = True = allowed · 0 = False = masked · rows = queries, columns = keys",
        "empty": "red row: the query keeps no key (a fully masked row)",
    },
    "zh": {
        "causal": ("causal_mask(4)", "查询 i 能看键 0..i"),
        "padding": ("padding_mask([4, 2], 4)", "序列 1：长度 2，每个查询相同"),
        "both": ("因果 & 填充", "(L, S) & (B, 1, 1, S)"),
        "left": ("因果 & 左填充", "真实词元在末尾"),
        "query": "q{i}",
        "key": "k{j}",
        "legend": "1 = True = 允许 · 0 = False = 被屏蔽 · 行 = 查询，列 = 键",
        "empty": "红色行：该查询没有任何可看的键（整行被屏蔽）",
    },
}


def mask_panels() -> dict[str, torch.Tensor]:
    """The four (L, S) bool grids, computed with the chapter's helpers."""
    L = 4
    causal = causal_mask(L)  # (L, S)
    pad = padding_mask(torch.tensor([4, 2]), S=L)  # (B, 1, 1, S)
    left = torch.tensor([0, 0, 1, 1]).view(1, 1, 1, L) == 1  # (1, 1, 1, S): left padding
    return {
        "causal": causal,
        "padding": pad[1, 0].expand(L, L),  # (L, S): the same key row for every query
        "both": (causal & pad)[1, 0],  # (L, S)
        "left": (causal & left)[0, 0],  # (L, S)
    }




def _cell(x: float, y: float, value: bool) -> str:
    fill, stroke = ALLOWED if value else MASKED
    return svg.cell(x, y, int(value), fill, stroke, CELL)


def masks_svg(lang: str) -> str:
    """Causal, padding, combined and left-padded causal masks as coloured grids."""
    label = LABELS[lang]
    parts = []
    top = 64
    bottom = top
    for p, (name, grid) in enumerate(mask_panels().items()):
        x0 = 20 + p * PANEL
        title, subtitle = label[name]
        parts.append(svg.text(x0, 20, title, 13, weight="bold"))
        parts.append(svg.text(x0, 38, subtitle, 12))
        L, S = grid.shape
        gx = x0 + 26  # room for the query labels
        for j in range(S):
            parts.append(svg.text(gx + j * CELL + CELL / 2, top - 6, label["key"].format(j=j), 12, "middle"))
        for i in range(L):
            y = top + i * CELL
            empty = not bool(grid[i].any())
            colour = EMPTY_ROW if empty else "#222"
            parts.append(svg.text(x0, y + CELL / 2 + 5, label["query"].format(i=i), 12, fill=colour))
            for j in range(S):
                parts.append(_cell(gx + j * CELL, y, bool(grid[i, j])))
            if empty:
                parts.append(
                    f'<rect x="{gx - 2}" y="{y - 2}" width="{S * CELL + 4}" height="{CELL + 4}" '
                    f'fill="none" stroke="{EMPTY_ROW}" stroke-width="2" rx="4"/>'
                )
        bottom = max(bottom, top + L * CELL)
    y = bottom + 28
    parts.append(svg.text(20, y, label["legend"], 12))
    parts.append(svg.text(20, y + 20, label["empty"], 12, fill=EMPTY_ROW))
    width = 20 + 4 * PANEL
    height = y + 34
    return svg.document(width, height, parts)


#: Every generated figure of this chapter: file name (relative to docs/) -> function of the language.
FIGURES = {
    "assets/figures/masks.{lang}.svg": masks_svg,
}
