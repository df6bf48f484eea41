"""Diagram for chapter 3 (cuBLAS batched GEMM), drawn from real tensors.

Two strips of memory, one cell per element (the number in a cell is its position in memory, the
colour is the matrix it belongs to):

* a contiguous (B·H, L, D) batch: every matrix starts ``stride`` elements after the previous one,
  so one base pointer and one stride (``strided_batch_params``) find them all;
* the split-heads view (B, H, L, D) of a (B, L, E) tensor: the matrix starts are not evenly spaced,
  so no single stride exists.

Matrix starts and gaps are read from ``Tensor.storage_offset()`` and ``Tensor.stride()``; the SVG
is written by hand (no plotting library), small and deterministic.
"""

from __future__ import annotations

import torch

from figures import svg
from snippets.cublas import strided_batch_params

CELL = 24
LEFT = 20
COLORS, STROKES = svg.FILLS, svg.STROKES

LABELS = {
    "en": {
        "contiguous": "contiguous (B·H, L, D) = {shape}, stride {stride}",
        "contiguous_note": "one base pointer A + one stride: matrix i starts at A + i·{s} (strideA = {s}, lda = {ld}, batchCount = {n})",
        "split": "split_heads view (B, H, L, D) = {shape}, stride {stride}",
        "split_note": "matrix starts {starts}: gaps {gaps} — no single stride; a pointer array or a copy",
        "matrix": "matrix {i}",
        "legend": "number = position in memory · colour = the matrix it belongs to · ▼ = where a matrix starts",
    },
    "zh": {
        "contiguous": "连续的 (B·H, L, D) = {shape}，步长 {stride}",
        "contiguous_note": "一个基址 A + 一个步长：第 i 个矩阵从 A + i·{s} 开始（strideA = {s}，lda = {ld}，batchCount = {n}）",
        "split": "split_heads 视图 (B, H, L, D) = {shape}，步长 {stride}",
        "split_note": "各矩阵起点 {starts}：间隔 {gaps}——没有统一的步长；只能用指针数组或先复制",
        "matrix": "矩阵 {i}",
        "legend": "数字 = 在内存中的位置 · 颜色 = 所属矩阵 · ▼ = 矩阵的起点",
    },
}




def _strip(y: float, owner: list[int], starts: list[int]) -> list[str]:
    """One row of cells (memory positions 0..n-1), coloured by owner, with a marker at each start."""
    parts = []
    for pos, m in enumerate(owner):
        x = LEFT + pos * CELL
        parts.append(svg.cell(x, y, pos, COLORS[m % len(COLORS)], STROKES[m % len(STROKES)], CELL, 11, rx=0))
    for i, start in enumerate(starts):
        x = LEFT + start * CELL + CELL / 2
        parts.append(
            f'<path d="M{x - 5:.0f} {y - 12:.0f} h10 l-5 8 z" fill="{STROKES[i % len(STROKES)]}" '
            f'class="start" data-offset="{start}"/>'
        )
    return parts


def _gap_arrows(y: float, starts: list[int]) -> list[str]:
    """An arc from each matrix start to the next, labelled with the distance in elements."""
    parts = []
    for a, b in zip(starts, starts[1:]):
        xa, xb = LEFT + a * CELL + CELL / 2, LEFT + b * CELL + CELL / 2
        parts.append(
            f'<path d="M{xa:.0f} {y:.0f} Q{(xa + xb) / 2:.0f} {y - 22:.0f} {xb:.0f} {y:.0f}" '
            f'fill="none" stroke="#555" marker-end="url(#arrow)"/>'
        )
        parts.append(svg.text((xa + xb) / 2, y - 14, f"+{b - a}", 11, "middle"))
    return parts


def strided_batch_svg(lang: str, B: int = 2, H: int = 3, L: int = 3, D: int = 2) -> str:
    """Memory of a contiguous (B·H, L, D) batch vs the split-heads view of a (B, L, E) tensor."""
    label = LABELS[lang]
    n = B * H * L * D
    q = torch.arange(n).view(B * H, L, D)  # (B·H, L, D): value = position in memory
    p = strided_batch_params(q)
    starts_c = [p.offset + i * p.stride for i in range(p.count)]
    owner_c = [pos // p.stride for pos in range(n)]

    x = torch.arange(n).view(B, L, H * D)  # (B, L, E)
    q4 = x.view(B, L, H, D).transpose(1, 2)  # (B, H, L, D): a view
    starts_s = [q4[b, h].storage_offset() for b in range(B) for h in range(H)]
    owner_s = [0] * n
    for m, (b, h) in enumerate((b, h) for b in range(B) for h in range(H)):
        for v in q4[b, h].flatten().tolist():  # the positions matrix (b, h) reads
            owner_s[v] = m

    width = max(LEFT * 2 + n * CELL, 640)
    parts = [
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="6" '
        'markerHeight="6" orient="auto-start-reverse"><path d="M0 0 L10 5 L0 10 z" fill="#555"/>'
        "</marker></defs>"
    ]
    y = 22
    parts.append(svg.text(LEFT, y, label["contiguous"].format(shape=tuple(q.shape), stride=q.stride()), 14, weight="bold"))
    parts.append(svg.text(LEFT, y + 18, label["contiguous_note"].format(s=p.stride, ld=p.ld, n=p.count), 12))
    y += 70
    parts += _gap_arrows(y - 14, starts_c)
    parts += _strip(y, owner_c, starts_c)

    y += CELL + 44
    gaps = [b - a for a, b in zip(starts_s, starts_s[1:])]
    parts.append(svg.text(LEFT, y, label["split"].format(shape=tuple(q4.shape), stride=q4.stride()), 14, weight="bold"))
    parts.append(svg.text(LEFT, y + 18, label["split_note"].format(starts=starts_s, gaps=gaps), 12))
    y += 70
    parts += _gap_arrows(y - 14, starts_s)
    parts += _strip(y, owner_s, starts_s)

    y += CELL + 28
    parts.append(svg.text(LEFT, y, label["legend"], 12))
    height = y + 14
    return svg.document(width, height, parts)


#: Every generated figure: file name (relative to docs/) -> function of the language.
FIGURES = {
    "assets/figures/strided_batch.{lang}.svg": strided_batch_svg,
}
