"""Diagrams for the gqa chapter, drawn from real tensors.

* ``gqa_heads``: H = 8 query heads, Hkv = 2 key/value heads: for each query head h, the key/value
  head it reads when the keys are shared by ``expand_kv`` (the same as ``repeat_interleave``) and
  by ``repeat(1, G, 1, 1)``. Each cell is one element of the index tensor, coloured by its value.
* ``gqa_cache``: T = 5 decoding steps of the key cache of the page, appended with ``torch.cat``
  and written in place into a preallocated buffer: at each step, which token positions were
  written (read off the storage: a new storage is written whole; in place, the positions whose
  values changed), kept, or allocated and not yet written.

Hand-written SVG, like :mod:`figures.masking`; at most 360 px wide, legible on a phone.
"""

from __future__ import annotations

import torch

from figures import svg
from snippets.gqa import expand_kv

H, HKV = 8, 2
CELL = 34
LEFT = 20  # x of the first cell
WRONG = "#c0392b"

LABELS = {
    "en": {
        "query": "query head h",
        "expand": "expand_kv / repeat_interleave: h // G",
        "repeat": "repeat(1, G, 1, 1): h % Hkv (wrong)",
        "legend": "cell = the kv head query head h reads",
    },
    "zh": {
        "query": "查询头 h",
        "expand": "expand_kv / repeat_interleave：h // G",
        "repeat": "repeat(1, G, 1, 1)：h % Hkv（错误）",
        "legend": "格子里的数 = 查询头 h 读取的键值头",
    },
}


def head_maps() -> dict[str, list[int]]:
    """The kv head of each query head, from the real tensors."""
    G = H // HKV
    kv_ids = torch.arange(HKV).view(1, HKV, 1, 1)  # (1, Hkv, 1, 1)
    return {
        "expand": expand_kv(kv_ids, H).flatten().tolist(),
        "repeat": kv_ids.repeat(1, G, 1, 1).flatten().tolist(),
    }


def heads_svg(lang: str) -> str:
    """Two rows of H cells: the kv head each query head reads, by each way of sharing."""
    label = LABELS[lang]
    parts = [svg.text(LEFT, 20, label["query"], 13, weight="bold")]
    for h in range(H):
        parts.append(svg.text(LEFT + h * CELL + CELL / 2, 42, h, 13, "middle", mono=True))
    y = 56
    for name, row in head_maps().items():
        colour = WRONG if name == "repeat" else "#222"
        parts.append(svg.text(LEFT, y + 14, label[name], 12, fill=colour))
        y += 22
        for h, kv in enumerate(row):
            parts.append(svg.cell(LEFT + h * CELL, y, kv, svg.FILLS[kv], svg.STROKES[kv], CELL))
        y += CELL + 16
    parts.append(svg.text(LEFT, y + 8, label["legend"], 12))
    return svg.document(LEFT * 2 + H * CELL + 48, y + 20, parts)


T, CACHE_HKV, CACHE_D = 5, 2, 8  # the cache of the page's decoding example (B = 1)
SMALL = 24  # a cache cell
CACHE_COLOURS = {"new": ("#f3a35c", "#c46a12"), "kept": ("#c7dcf7", "#3b6fb6"),
                 "free": ("#ffffff", "#999999")}
CACHE_LABELS = {
    "en": {"cat": "torch.cat", "inplace": "written in place", "step": "t = {t}",
           "token": "column s: the token's position in the cache", "bytes": "{n} bytes written",
           "new": "written this step", "kept": "kept", "free": "allocated, not yet written"},
    "zh": {"cat": "torch.cat", "inplace": "原地写入", "step": "t = {t}",
           "token": "第 s 列：词元在缓存中的位置", "bytes": "共写入 {n} 字节",
           "new": "这一步写入", "kept": "保留", "free": "已分配，尚未写入"},
}


def cache_steps() -> dict[str, list[list[str | None]]]:
    """For each way of appending and each step t, the state of each token position of the key
    cache: "new" (written at this step), "kept", "free" (allocated, not written yet) or None (not
    allocated). Read off real tensors: torch.cat's result is a new storage, written whole; in
    place, the positions whose values changed are the ones written."""
    k_all = torch.arange(1.0, 1 + CACHE_HKV * T * CACHE_D).view(1, CACHE_HKV, T, CACHE_D)
    cat, cache = [], k_all[:, :, :0]  # (1, Hkv, 0, D)
    for t in range(T):
        grown = torch.cat([cache, k_all[:, :, t:t + 1]], dim=2)  # (1, Hkv, t + 1, D)
        fresh = grown.untyped_storage().data_ptr() != cache.untyped_storage().data_ptr()
        state = "new" if fresh else "kept"
        cat.append([state] * grown.shape[2] + [None] * (T - grown.shape[2]))
        cache = grown
    inplace, buf = [], torch.zeros(1, CACHE_HKV, T, CACHE_D)  # (1, Hkv, T, D): zeros = unwritten
    for t in range(T):
        before = buf.clone()
        buf[:, :, t] = k_all[:, :, t]
        changed = (buf != before).flatten(0, 1).any(0).any(-1)  # (T,)
        written = (buf != 0).flatten(0, 1).any(0).any(-1)  # (T,)
        inplace.append(["new" if c else "kept" if w else "free"
                        for c, w in zip(changed.tolist(), written.tolist())])
    return {"cat": cat, "inplace": inplace}


def cache_bytes(rows: list[list[str | None]]) -> int:
    """Bytes of keys written over all steps: each "new" position holds Hkv·D float32."""
    return sum(row.count("new") for row in rows) * CACHE_HKV * CACHE_D * 4


def cache_svg(lang: str) -> str:
    """Two panels, torch.cat and in place: one row per step, one cell per token position."""
    label = CACHE_LABELS[lang]
    steps = cache_steps()
    step_w, panel_w, gap = 44, T * SMALL, 22
    parts = []
    for i, (name, rows) in enumerate(steps.items()):
        x0 = LEFT + step_w + i * (panel_w + gap)
        parts.append(svg.text(x0, 20, label[name], 13, weight="bold", mono=name == "cat"))
        if i == 0:
            parts.append(svg.text(LEFT, 40, "s", 12, mono=True))
        for s in range(T):
            parts.append(svg.text(x0 + s * SMALL + SMALL / 2, 40, s, 12, "middle", mono=True))
        for t, row in enumerate(rows):
            y = 48 + t * (SMALL + 4)
            if i == 0:
                parts.append(svg.text(LEFT, y + SMALL * 0.7, label["step"].format(t=t), 12, mono=True))
            for s, state in enumerate(row):
                if state is not None:
                    fill, stroke = CACHE_COLOURS[state]
                    parts.append(svg.cell(x0 + s * SMALL, y, "", fill, stroke, SMALL - 2))
        y_bytes = 48 + T * (SMALL + 4) + 14
        parts.append(svg.text(x0, y_bytes, label["bytes"].format(n=cache_bytes(rows)), 12))
    y = 48 + T * (SMALL + 4) + 40
    for state in ("new", "kept", "free"):
        fill, stroke = CACHE_COLOURS[state]
        parts.append(svg.cell(LEFT, y - 12, "", fill, stroke, 14))
        parts.append(svg.text(LEFT + 22, y, label[state], 12))
        y += 20
    parts.append(svg.text(LEFT, y + 4, label["token"], 12))
    width = LEFT * 2 + step_w + 2 * panel_w + gap
    return svg.document(width, y + 16, parts)


#: Every generated figure of this chapter: file name (relative to docs/) -> function of the language.
FIGURES = {
    "assets/figures/gqa_heads.{lang}.svg": heads_svg,
    "assets/figures/gqa_cache.{lang}.svg": cache_svg,
}
