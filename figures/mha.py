"""Diagram for the nn.MultiheadAttention chapter: which tokens attend to one another.

A batch-first tensor x of shape (N, L, E) = (2, 3, 8) is drawn as a grid: one row per sequence,
one column per token. It is fed to a batch-first module (right) and to a sequence-first module
with the same weights (wrong). The groups are measured, not drawn by hand: token (n, l) is nudged
and every output token that changes is in its group (they share one softmax). Hand-written SVG,
like :mod:`figures.shapes`.
"""

from __future__ import annotations

import torch
import torch.nn as nn

from figures import svg

N, L, E, H = 2, 3, 8, 2
CELL_W, CELL_H = 64, 34
PANEL = 300  # horizontal distance between panels

LABELS = {
    "en": {
        "right": ("batch_first=True, x is (N, L, E)", "each sequence attends within itself"),
        "wrong": ("batch_first=False, same x: no error", "token l of every sequence attends together"),
        "row": "seq {n}",
        "col": "token {l}",
        "cell": "x[{n},{l}]",
        "legend": ("rows = sequences of the batch, columns = tokens",
                   "same colour = one softmax: these tokens attend to one another"),
    },
    "zh": {
        "right": ("batch_first=True，x 是 (N, L, E)", "每个序列只在自己内部做注意力"),
        "wrong": ("batch_first=False，同一个 x：不报错", "各序列的第 l 个词元互相做注意力"),
        "row": "序列 {n}",
        "col": "词元 {l}",
        "cell": "x[{n},{l}]",
        "legend": ("行 = 批量中的序列，列 = 词元",
                   "同色 = 同一个 softmax：这些词元互相做注意力"),
    },
}


def attention_groups() -> dict[str, torch.Tensor]:
    """(N, L) integer grids: the group of each token of x, for the right and the wrong layout."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        mha_bf = nn.MultiheadAttention(E, H, batch_first=True)
        mha_sf = nn.MultiheadAttention(E, H)  # batch_first=False
        mha_sf.load_state_dict(mha_bf.state_dict())
        x = torch.randn(N, L, E)  # (N, L, E)
    grids = {}
    with torch.no_grad():
        for name, mha in (("right", mha_bf.train()), ("wrong", mha_sf.train())):
            out = mha(x, x, x)[0]  # (N, L, E) as the caller reads it
            groups: dict[tuple, int] = {}
            grid = torch.zeros(N, L, dtype=torch.long)
            for n in range(N):
                for l in range(L):
                    x2 = x.clone()
                    x2[n, l] += 1.0  # nudge one token
                    changed = (mha(x2, x2, x2)[0] - out).abs().amax(dim=-1) > 1e-6  # (N, L)
                    key = tuple(changed.flatten().tolist())
                    grid[n, l] = groups.setdefault(key, len(groups))
            grids[name] = grid
    return grids


def groups_svg(lang: str) -> str:
    """Two (N, L) grids of x's tokens, coloured by the tokens they attend together with."""
    label = LABELS[lang]
    parts = []
    top = 74
    for p, (name, grid) in enumerate(attention_groups().items()):
        x0 = 20 + p * PANEL
        title, subtitle = label[name]
        parts.append(svg.text(x0, 20, title, 13, weight="bold"))
        parts.append(svg.text(x0, 38, subtitle, 12))
        gx = x0 + 52  # room for the row labels
        for l in range(L):
            parts.append(svg.text(gx + l * CELL_W + CELL_W / 2, top - 8, label["col"].format(l=l), 11, "middle"))
        for n in range(N):
            y = top + n * (CELL_H + 6)
            parts.append(svg.text(x0, y + CELL_H / 2 + 5, label["row"].format(n=n), 11))
            for l in range(L):
                g = int(grid[n, l])
                fill, stroke = svg.FILLS[g % len(svg.FILLS)], svg.STROKES[g % len(svg.STROKES)]
                parts.append(
                    svg.cell(gx + l * CELL_W + 2, y, label["cell"].format(n=n, l=l), fill, stroke,
                             CELL_W - 4, 12, height=CELL_H)
                )
    y = top + N * (CELL_H + 6) + 24
    for i, line in enumerate(label["legend"]):
        parts.append(svg.text(20, y + i * 18, line, 12))
    return svg.document(20 + 2 * PANEL, y + 18 * len(label["legend"]), parts)


#: Every generated figure of this chapter: file name (relative to docs/) -> function of the language.
FIGURES = {
    "assets/figures/mha_layout.{lang}.svg": groups_svg,
}
