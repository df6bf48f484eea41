"""Diagram for the module chapter: the data flow of one real forward pass, with the shape of the
tensor after every step.

The shapes are not typed in: :func:`flow_steps` runs a ``MultiHeadAttention`` step by step with
the chapter's own functions (``snippets.module`` and ``snippets.shapes``), reads ``.shape`` after
every step, and checks that the result equals the module's own forward pass. Hand-written SVG,
like :mod:`figures.shapes`.
"""

from __future__ import annotations

import torch

from figures import svg
from snippets.masking import padding_mask
from snippets.module import (
    MultiHeadAttention,
    attention_scores,
    attention_weights,
    mask_scores,
)
from snippets.shapes import merge_heads, split_heads

B, L, S, E, H = 2, 3, 4, 8, 2
BOX_W, BOX_H = 216, 46
COL_X = (20, 252, 484)  # q, k, v columns
ROW_GAP = 22
LANE_X = COL_X[2] + BOX_W + 18  # the lane that carries v down to the weighted sum
WIDTH = LANE_X + 22

LABELS = {
    "en": {
        "title": "One forward pass, B={B}, L={L}, S={S}, E={E}, H={H}, D={D}: the shape after every step",
        "note": "shapes read from the real tensors · beige: inputs · orange: all heads side by side (H·D features) · blue: split into heads · green: output",
        "query": "query",
        "key": "key",
        "value": "value",
        "mask": "mask (padding)",
    },
    "zh": {
        "title": "一次前向计算，B={B}, L={L}, S={S}, E={E}, H={H}, D={D}：每一步之后的形状",
        "note": "形状读自真实张量 · 米色：输入 · 橙色：所有头并排（H·D 个特征）· 蓝色：已拆成多头 · 绿色：输出",
        "query": "query",
        "key": "key",
        "value": "value",
        "mask": "掩码（填充）",
    },
}


def flow_steps() -> list[tuple[str, str, str, tuple[int, ...]]]:
    """(column, code, symbolic shape, real shape) of every step of one forward pass."""
    with torch.random.fork_rng(devices=[]):  # a fixed example that leaves the global RNG alone
        torch.manual_seed(0)
        mha = MultiHeadAttention(E, H).eval()
        query, memory = torch.randn(B, L, E), torch.randn(B, S, E)  # (B, L, E), (B, S, E)
    mask = padding_mask(torch.tensor([4, 2]), S)  # (B, 1, 1, S)
    with torch.no_grad():
        qp, kp, vp = mha.q_proj(query), mha.k_proj(memory), mha.v_proj(memory)  # (B, L|S, H·D)
        q, k, v = split_heads(qp, H), split_heads(kp, H), split_heads(vp, H)  # (B, H, L|S, D)
        scores = attention_scores(q, k)  # (B, H, L, S)
        masked = mask_scores(scores, mask)  # (B, H, L, S)
        weights = attention_weights(masked, mask)  # (B, H, L, S)
        out = weights @ v  # (B, H, L, D)
        merged = merge_heads(out)  # (B, L, H·D)
        result = mha.out_proj(merged)  # (B, L, E)
        expected, expected_weights = mha(query, memory, memory, mask=mask)
    assert torch.equal(result, expected) and torch.equal(weights, expected_weights)
    return [
        ("q", "query", "(B, L, E)", tuple(query.shape)),
        ("k", "key", "(B, S, E)", tuple(memory.shape)),
        ("v", "value", "(B, S, E)", tuple(memory.shape)),
        ("q", "q_proj(query)", "(B, L, H·D)", tuple(qp.shape)),
        ("k", "k_proj(key)", "(B, S, H·D)", tuple(kp.shape)),
        ("v", "v_proj(value)", "(B, S, H·D)", tuple(vp.shape)),
        ("q", "split_heads → q", "(B, H, L, D)", tuple(q.shape)),
        ("k", "split_heads → k", "(B, H, S, D)", tuple(k.shape)),
        ("v", "split_heads → v", "(B, H, S, D)", tuple(v.shape)),
        ("qk", "q @ kᵀ / √D", "(B, H, L, S)", tuple(scores.shape)),
        ("mask", "mask", "(B, 1, 1, S)", tuple(mask.shape)),
        ("qk", "masked_fill(~mask, -inf)", "(B, H, L, S)", tuple(masked.shape)),
        ("qk", "softmax(dim=-1)", "(B, H, L, S)", tuple(weights.shape)),
        ("qkv", "weights @ v", "(B, H, L, D)", tuple(out.shape)),
        ("qkv", "merge_heads", "(B, L, H·D)", tuple(merged.shape)),
        ("qkv", "out_proj", "(B, L, E)", tuple(result.shape)),
    ]


def _box(x: float, y: float, w: float, code: str, symbolic: str, shape: tuple[int, ...], colour: int) -> list[str]:
    real = "(" + ", ".join(str(n) for n in shape) + ")"
    return [
        f'<rect x="{x:.0f}" y="{y:.0f}" width="{w:.0f}" height="{BOX_H}" rx="5" '
        f'fill="{svg.FILLS[colour]}" stroke="{svg.STROKES[colour]}"/>',
        svg.text(x + w / 2, y + 19, code, 13, "middle", weight="bold", mono=True),
        svg.text(x + w / 2, y + 37, f"{symbolic} = {real}", 12, "middle", mono=True),
    ]


def _arrow(x1: float, y1: float, x2: float, y2: float) -> str:
    return (
        f'<line x1="{x1:.0f}" y1="{y1:.0f}" x2="{x2:.0f}" y2="{y2:.0f}" stroke="#555" '
        f'stroke-width="1.5" marker-end="url(#arrow)"/>'
    )


def module_flow_svg(lang: str) -> str:
    """The data flow of MultiHeadAttention.forward, with real shapes."""
    label = LABELS[lang]
    steps = flow_steps()
    D = E // H
    parts = [
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" '
        'markerHeight="7" orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" fill="#555"/></marker></defs>',
        svg.text(20, 22, label["title"].format(B=B, L=L, S=S, E=E, H=H, D=D), 14, weight="bold"),
    ]
    top = 40
    step = BOX_H + ROW_GAP
    centre = {c: x + BOX_W / 2 for c, x in zip("qkv", COL_X)}
    # Rows 0-2: three columns (input, projection, split heads).
    for i, (column, code, symbolic, shape) in enumerate(steps[:9]):
        row = i // 3
        x, y = COL_X["qkv".index(column)], top + row * step
        code = label[code] if code in label else code
        parts += _box(x, y, BOX_W, code, symbolic, shape, 5 if row == 0 else (1 if row == 1 else 0))
        if row > 0:
            parts.append(_arrow(x + BOX_W / 2, y - ROW_GAP, x + BOX_W / 2, y - 2))
    # Scores from q and k, spanning the first two columns; the mask enters from the v column.
    wide = COL_X[1] + BOX_W - COL_X[0]
    mid_qk = COL_X[0] + wide / 2
    y = top + 3 * step
    rows = [steps[9], steps[11], steps[12]]
    for r, (_, code, symbolic, shape) in enumerate(rows):
        yy = y + r * step
        parts += _box(COL_X[0], yy, wide, code, symbolic, shape, 0)
        if r == 0:
            parts.append(_arrow(centre["q"], yy - ROW_GAP, mid_qk - 30, yy - 2))
            parts.append(_arrow(centre["k"], yy - ROW_GAP, mid_qk + 30, yy - 2))
        else:
            parts.append(_arrow(mid_qk, yy - ROW_GAP, mid_qk, yy - 2))
    _, _, m_symbolic, m_shape = steps[10]
    mask_y = y + step
    parts += _box(COL_X[2], mask_y, BOX_W, label["mask"], m_symbolic, m_shape, 5)
    parts.append(_arrow(COL_X[2] - 2, mask_y + BOX_H / 2, COL_X[1] + BOX_W + 2, mask_y + BOX_H / 2))
    # v leaves its column on the right and runs down a lane to the weighted sum.
    y = top + 6 * step
    v_mid = top + 2 * step + BOX_H / 2
    parts.append(
        f'<path d="M {COL_X[2] + BOX_W:.0f} {v_mid:.0f} H {LANE_X:.0f} V {y + BOX_H / 2:.0f} '
        f'H {COL_X[2] + BOX_W + 2:.0f}" fill="none" stroke="#555" stroke-width="1.5" marker-end="url(#arrow)"/>'
    )
    full = COL_X[2] + BOX_W - COL_X[0]
    for r, (_, code, symbolic, shape) in enumerate(steps[13:]):
        yy = y + r * step
        parts += _box(COL_X[0], yy, full, code, symbolic, shape, 2 if r == 2 else (0 if r == 0 else 1))
        parts.append(_arrow(mid_qk, yy - ROW_GAP, mid_qk, yy - 2))
    bottom = y + 3 * step - ROW_GAP
    parts.append(svg.text(20, bottom + 24, label["note"], 12))
    return svg.document(WIDTH, bottom + 38, parts)


#: Every generated figure of this chapter: file name (relative to docs/) -> function of the language.
FIGURES = {
    "assets/figures/module_flow.{lang}.svg": module_flow_svg,
}
