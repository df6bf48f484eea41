"""Diagram for the sdpa chapter: which keys each query sees when L != S, as SDPA computes it.

L = 3 new queries and S = 5 keys (two of them already in the cache): the upper-left alignment of
``is_causal=True`` and the lower-right alignment of ``causal_lower_right(L, S)``. Each grid comes
from ``snippets.sdpa.seen_keys``, which reads the weights out of a real SDPA call. Hand-written
SVG, like :mod:`figures.masking`; 340 px wide, legible on a phone.
"""

from __future__ import annotations

from torch.nn.attention.bias import causal_lower_right

from figures import svg
from snippets.sdpa import seen_keys

L, S = 3, 5
CELL = 34
LEFT = 20  # x of the query labels
GRID = LEFT + 30  # x of the first cell
ALLOWED = (svg.FILLS[2], svg.STROKES[2])
MASKED = ("#eeeeee", "#b0b0b0")

LABELS = {
    "en": {
        "upper": "is_causal=True: upper-left",
        "upper_note": "query 2 does not see keys 3 and 4",
        "lower": "causal_lower_right(3, 5): lower-right",
        "lower_note": "the last query sees every key",
        "query": "q{i}",
        "key": "k{j}",
        "legend": "1 = takes part · rows = queries, columns = keys",
    },
    "zh": {
        "upper": "is_causal=True：左上对齐",
        "upper_note": "查询 2 看不到键 3 和键 4",
        "lower": "causal_lower_right(3, 5)：右下对齐",
        "lower_note": "最后一个查询看到所有的键",
        "query": "q{i}",
        "key": "k{j}",
        "legend": "1 = 参与 · 行 = 查询，列 = 键",
    },
}


def alignments() -> dict[str, list[list[bool]]]:
    """The two (L, S) grids, from real SDPA calls."""
    return {
        "upper": seen_keys(L, S, is_causal=True).tolist(),
        "lower": seen_keys(L, S, attn_mask=causal_lower_right(L, S)).tolist(),
    }


def causal_svg(lang: str) -> str:
    """Two stacked grids: the keys each query takes part with, in each alignment."""
    label = LABELS[lang]
    parts = []
    y = 20
    for name, grid in alignments().items():
        parts.append(svg.text(LEFT, y, label[name], 13, weight="bold"))
        parts.append(svg.text(LEFT, y + 18, label[f"{name}_note"], 12))
        top = y + 44
        for j in range(S):
            parts.append(svg.text(GRID + j * CELL + CELL / 2, top - 6, label["key"].format(j=j), 12, "middle"))
        for i, row in enumerate(grid):
            cy = top + i * CELL
            parts.append(svg.text(LEFT, cy + CELL / 2 + 5, label["query"].format(i=i), 12))
            for j, seen in enumerate(row):
                fill, stroke = ALLOWED if seen else MASKED
                parts.append(svg.cell(GRID + j * CELL, cy, int(seen), fill, stroke, CELL))
        y = top + L * CELL + 30
    parts.append(svg.text(LEFT, y, label["legend"], 12))
    return svg.document(340, y + 14, parts)


#: Every generated figure of this chapter: file name (relative to docs/) -> function of the language.
FIGURES = {
    "assets/figures/sdpa_causal.{lang}.svg": causal_svg,
}
