"""Grouped-query attention and the KV cache (分组查询注意力与 KV 缓存).

Included section by section by ``docs/gqa.zh.md`` and ``docs/gqa.en.md``.
Sections that hold functions run as code on the page; the sections inside
``sessions()`` are sessions: under each statement, what it shows in ``#>``
lines, checked by the tests. Names follow the math: B batch, H query heads,
Hkv key/value heads, G = H // Hkv query heads per key/value head, L query
length, S key length, D head_dim.
"""

# --8<-- [start:imports]
import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel

# earlier chapters: rank and int checks, (B, L, E) -> (B, H, L, D)
from snippets.shapes import check_rank, positive_int, split_heads
# the profiler's aten:: op counts; only GEMMs and copies
from snippets.matmul import count_ops, matmul_ops
# (L, S) bool, True = allowed; softmax(q·kᵀ/√D)·v with a bool mask
from snippets.masking import causal_mask, masked_attention
# the SDPA chapter: which kernel SDPA ran
from snippets.sdpa import sdpa_backend
# --8<-- [end:imports]


# --8<-- [start:expand_kv]
def expand_kv(kv: torch.Tensor, num_heads: int) -> torch.Tensor:
    """(B, Hkv, S, D) -> (B, H, S, D): query head h reads kv head h // G,
    G = H // Hkv. The same as kv.repeat_interleave(G, dim=1)."""
    check_expand_kv(kv, num_heads)
    B, Hkv, S, D = kv.shape
    G = num_heads // Hkv
    # (B, Hkv, G, S, D): a view, stride 0 along G
    kv = kv[:, :, None].expand(B, Hkv, G, S, D)
    # (B, H, S, D): the stride 0 cannot be merged, so a copy (unless G == 1)
    return kv.reshape(B, num_heads, S, D)
# --8<-- [end:expand_kv]


# --8<-- [start:expand_kv_checks]
def check_groups(H: int, Hkv: int) -> int:
    """G = H // Hkv if H is a multiple of Hkv; else a ValueError."""
    positive_int("H (query heads)", H)
    positive_int("Hkv (key/value heads)", Hkv)
    if H % Hkv != 0:
        raise ValueError(
            f"H={H} query heads cannot be split into groups over "
            f"Hkv={Hkv} key/value heads: H must be a multiple of Hkv"
        )
    return H // Hkv


def check_expand_kv(kv: torch.Tensor, num_heads: int) -> None:
    """kv must be (B, Hkv, S, D) with num_heads a multiple of Hkv."""
    check_rank(kv, "(B, Hkv, S, D)", "expand_kv")
    check_groups(num_heads, kv.shape[1])
# --8<-- [end:expand_kv_checks]


# --8<-- [start:gqa_attention]
def gqa_attention(q, k, v, is_causal: bool = False) -> torch.Tensor:
    """softmax(q·kᵀ/√D)·v where query head h reads kv head h // G.

    q: (B, H, L, D), k: (B, Hkv, S, D), v: (B, Hkv, S, Dv) ->
    (B, H, L, Dv). The G query heads of a group are stacked as rows of one
    matrix, so k and v are never expanded or copied. is_causal is aligned
    top-left, like SDPA's: a decode step with L < S needs lower-right.
    """
    check_gqa_inputs(q, k, v)
    B, H, L, D = q.shape
    Hkv, S = k.shape[1], k.shape[2]
    G = H // Hkv
    # (B, Hkv, G·L, D): a view if q is contiguous
    qf = q.reshape(B, Hkv, G * L, D)
    scores = qf @ k.transpose(-2, -1) / D**0.5  # (B, Hkv, G·L, S)
    scores = scores.view(B, Hkv, G, L, S)  # (B, Hkv, G, L, S)
    if is_causal:
        allowed = causal_mask(L, S, device=q.device)  # (L, S)
        scores = scores.masked_fill(~allowed, float("-inf"))
    weights = torch.softmax(scores, dim=-1)  # (B, Hkv, G, L, S)
    # (B, Hkv, G·L, Dv)
    out = weights.view(B, Hkv, G * L, S) @ v
    return out.view(B, H, L, -1)  # (B, H, L, Dv)
# --8<-- [end:gqa_attention]


# --8<-- [start:gqa_attention_checks]
def check_gqa_inputs(q, k, v) -> None:
    """q (B, H, L, D), k (B, Hkv, S, D), v (B, Hkv, S, Dv), H % Hkv == 0."""
    check_rank(q, "(B, H, L, D)", "gqa_attention")
    check_rank(k, "(B, Hkv, S, D)", "gqa_attention")
    check_rank(v, "(B, Hkv, S, Dv)", "gqa_attention")
    if k.shape[:3] != v.shape[:3] or k.shape[0] != q.shape[0]:
        raise ValueError(
            "k and v must have the same (B, Hkv, S), and q the same B; got "
            f"q {tuple(q.shape)}, k {tuple(k.shape)}, v {tuple(v.shape)}"
        )
    if k.shape[3] != q.shape[3]:
        raise ValueError(
            f"q and k must have the same head_dim, got q D={q.shape[3]} "
            f"and k D={k.shape[3]}"
        )
    check_groups(q.shape[1], k.shape[1])
# --8<-- [end:gqa_attention_checks]


# --8<-- [start:kv_bytes]
def kv_bytes_per_token(layers: int, Hkv: int, D: int, dtype) -> int:
    """Bytes of K and V that one token adds to the cache of a whole model:
    2 (K and V) · layers · Hkv · D · bytes per element."""
    positive_int("layers", layers)
    positive_int("Hkv (key/value heads)", Hkv)
    positive_int("D (head_dim)", D)
    return 2 * layers * Hkv * D * dtype.itemsize
# --8<-- [end:kv_bytes]


def sessions():
    """The chapter's sessions, run section by section by the pages, in page
    order; not run on import. Under each statement, its output in ``#>``
    lines."""
    # --8<-- [start:share_by_expand]
    B, H, Hkv, S, D = 1, 8, 2, 3, 2
    G = H // Hkv  # 4 query heads share each kv head
    k = torch.arange(B * Hkv * S * D).float().view(B, Hkv, S, D)
    ke = k[:, :, None].expand(B, Hkv, G, S, D)  # (B, Hkv, G, S, D)
    ke.stride()  # 0 along G: the G heads read the same memory
    #> (12, 6, 0, 2, 1)
    ke.data_ptr() == k.data_ptr()
    #> True
    kh = ke.reshape(B, H, S, D)  # (B, H, S, D)
    kh.data_ptr() == k.data_ptr()  # the reshape copies
    #> False
    matmul_ops(count_ops(expand_kv, k, H))
    #> {'aten::clone': 1}
    torch.equal(kh, expand_kv(k, H))
    #> True
    # --8<-- [end:share_by_expand]

    # --8<-- [start:head_order]
    kv_ids = torch.arange(Hkv).view(1, Hkv, 1, 1)  # kv head 0 and 1
    expand_kv(kv_ids, H).flatten().tolist()  # kv head of query head h
    #> [0, 0, 0, 0, 1, 1, 1, 1]
    kv_ids.repeat_interleave(G, dim=1).flatten().tolist()
    #> [0, 0, 0, 0, 1, 1, 1, 1]
    kv_ids.repeat(1, G, 1, 1).flatten().tolist()
    #> [0, 1, 0, 1, 0, 1, 0, 1]
    [h // G for h in range(H)], [h % Hkv for h in range(H)]
    #> ([0, 0, 0, 0, 1, 1, 1, 1], [0, 1, 0, 1, 0, 1, 0, 1])
    r = k.repeat_interleave(G, dim=1)  # (B, H, S, D)
    r.data_ptr() == k.data_ptr(), r.stride()  # a copy, contiguous
    #> (False, (48, 6, 2, 1))
    t = k.repeat(1, G, 1, 1)  # (B, H, S, D)
    t.data_ptr() == k.data_ptr(), t.stride()  # a copy too
    #> (False, (48, 6, 2, 1))
    # --8<-- [end:head_order]

    # --8<-- [start:expand_kv_errors]
    expand_kv(k, 5)
    #> ValueError: H=5 query heads cannot be split into groups over Hkv=2
    #> key/value heads: H must be a multiple of Hkv
    expand_kv(k[0], H)
    #> ValueError: expand_kv expects a (B, Hkv, S, D) tensor, got 3 dims with
    #> shape (2, 3, 2)
    # --8<-- [end:expand_kv_errors]

    # --8<-- [start:repeat_wrong]
    L = 3
    g = torch.Generator().manual_seed(0)
    q = torch.randn(B, H, L, D, generator=g)  # (B, H, L, D)
    k = torch.randn(B, Hkv, S, D, generator=g)  # (B, Hkv, S, D)
    v = torch.randn(B, Hkv, S, D, generator=g)  # (B, Hkv, S, D)
    # the definition: query head h attends with kv head h // G
    reference = torch.stack([
        # (B, L, D) @ (B, D, S) -> (B, L, S); .mT = .transpose(-2, -1)
        torch.softmax(q[:, h] @ k[:, h // G].mT / D**0.5, dim=-1)
        @ v[:, h // G]
        for h in range(H)
    ], dim=1)  # (B, H, L, D)
    wrong = masked_attention(q, k.repeat(1, G, 1, 1), v.repeat(1, G, 1, 1))
    torch.allclose(wrong, reference)
    #> False
    fixed = masked_attention(q, expand_kv(k, H), expand_kv(v, H))
    torch.allclose(fixed, reference)
    #> True
    # --8<-- [end:repeat_wrong]

    # --8<-- [start:broadcast_5d]
    # small integers: exact sums
    qi = torch.randint(-3, 4, (B, H, L, D)).float()  # (B, H, L, D)
    ki = torch.randint(-3, 4, (B, Hkv, S, D)).float()  # (B, Hkv, S, D)
    qg = qi.view(B, Hkv, G, L, D)  # (B, Hkv, G, L, D): a view
    kg = ki[:, :, None].transpose(-2, -1)  # (B, Hkv, 1, D, S): a view
    s5 = qg @ kg  # (B, Hkv, G, L, S): kg broadcast over G
    s4 = qi @ expand_kv(ki, H).transpose(-2, -1)  # (B, H, L, S)
    torch.equal(s5.view(B, H, L, S), s4)
    #> True
    matmul_ops(count_ops(torch.matmul, qg, kg))  # matmul copies kg
    #> {'aten::bmm': 1, 'aten::clone': 1}
    qf = qi.view(B, Hkv, G * L, D)  # (B, Hkv, G·L, D): a view
    matmul_ops(count_ops(torch.matmul, qf, ki.transpose(-2, -1)))
    #> {'aten::bmm': 1}
    torch.equal((qf @ ki.transpose(-2, -1)).view(B, H, L, S), s4)
    #> True
    # --8<-- [end:broadcast_5d]

    # --8<-- [start:gqa_attention_check]
    torch.allclose(gqa_attention(q, k, v), reference)
    #> True
    matmul_ops(count_ops(gqa_attention, q, k, v))  # two bmm, no copy
    #> {'aten::bmm': 2}
    gqa_attention(q, k[:, :1].expand(B, 3, S, D), v[:, :1].expand(B, 3, S, D))
    #> ValueError: H=8 query heads cannot be split into groups over Hkv=3
    #> key/value heads: H must be a multiple of Hkv
    # --8<-- [end:gqa_attention_check]

    # --8<-- [start:sdpa_gqa]
    out = F.scaled_dot_product_attention(q, k, v, enable_gqa=True)
    torch.allclose(out, reference, atol=1e-6)
    #> True
    sdpa_backend(q, k, v, enable_gqa=True)  # the fused kernel, no copy
    #> 'flash_attention_for_cpu'
    with sdpa_kernel(SDPBackend.MATH):  # the reference kernel copies
        ops = count_ops(lambda: F.scaled_dot_product_attention(
            q, k, v, enable_gqa=True))
    ops["aten::repeat_interleave"]  # k and v, each repeated
    #> 2
    out = F.scaled_dot_product_attention(
        q, k, v, is_causal=True, enable_gqa=True
    )  # (B, H, L, D)
    full = masked_attention(
        q, expand_kv(k, H), expand_kv(v, H), is_causal=True
    )  # (B, H, L, D)
    torch.allclose(out, full, atol=1e-6), torch.allclose(
        gqa_attention(q, k, v, is_causal=True), full, atol=1e-6
    )
    #> (True, True)
    # --8<-- [end:sdpa_gqa]

    # --8<-- [start:kv_memory]
    # a 7B-sized model; its H = 32 query heads do not enter
    layers, D, fp16 = 32, 128, torch.float16
    for name, hkv in (("MHA", 32), ("GQA", 8), ("MQA", 1)):
        per_token = kv_bytes_per_token(layers, hkv, D, fp16)
        print(
            f"{name} Hkv={hkv:2}: {per_token // 2**10:3} KiB per token, "
            f"{per_token * 4096 // 2**20:4} MiB for 4096 tokens"
        )
    #> MHA Hkv=32: 512 KiB per token, 2048 MiB for 4096 tokens
    #> GQA Hkv= 8: 128 KiB per token,  512 MiB for 4096 tokens
    #> MQA Hkv= 1:  16 KiB per token,   64 MiB for 4096 tokens
    # the weights: 7B float16 parameters, in GiB
    round(7e9 * fp16.itemsize / 2**30, 1)
    #> 13.0
    # the same count from tensors: one layer's K of 10 tokens, fp16
    k_layer = torch.empty(1, 8, 10, D, dtype=fp16)  # (B, Hkv, S, D)
    2 * layers * k_layer.nbytes // 10 == kv_bytes_per_token(32, 8, D, fp16)
    #> True
    # --8<-- [end:kv_memory]

    # --8<-- [start:decode_query]
    B, H, Hkv, D = 1, 4, 2, 8
    G = H // Hkv
    x_t = torch.randn(B, 1, H * D, generator=g)  # (B, 1, E): one new token
    q_t = split_heads(x_t, H)  # (B, H, 1, D)
    q_t.stride(), q_t.is_contiguous()
    #> ((32, 8, 32, 1), True)
    # --8<-- [end:decode_query]

    # --8<-- [start:cache_cat]
    T = 5  # decoding steps
    # the query, the new k and the new v of each step
    q_all = torch.randn(B, H, T, D, generator=g)  # (B, H, T, D)
    k_all = torch.randn(B, Hkv, T, D, generator=g)  # (B, Hkv, T, D)
    v_all = torch.randn(B, Hkv, T, D, generator=g)  # (B, Hkv, T, D)
    k_cache = k_all[:, :, :0]  # (B, Hkv, 0, D): empty
    ptrs, written = [], []
    for t in range(T):
        k_new = k_all[:, :, t:t + 1]  # (B, Hkv, 1, D)
        k_cache = torch.cat([k_cache, k_new], dim=2)  # (B, Hkv, t + 1, D)
        ptrs.append(k_cache.data_ptr())
        written.append(k_cache.nbytes)  # cat writes the whole cache
    all(a != b for a, b in zip(ptrs, ptrs[1:]))  # a new storage every step
    #> True
    written, sum(written)  # bytes written per step, and in all
    #> ([64, 128, 192, 256, 320], 960)
    # --8<-- [end:cache_cat]

    # --8<-- [start:cache_inplace]
    k_buf = torch.zeros(B, Hkv, T, D)  # (B, Hkv, T, D): allocated once
    v_buf = torch.zeros(B, Hkv, T, D)
    outs = []
    for t in range(T):
        k_buf[:, :, t] = k_all[:, :, t]  # (B, Hkv, D) written in place
        v_buf[:, :, t] = v_all[:, :, t]
        k_seen = k_buf[:, :, :t + 1]  # (B, Hkv, t + 1, D): a view
        v_seen = v_buf[:, :, :t + 1]
        q_step = q_all[:, :, t:t + 1]  # (B, H, 1, D): L = 1
        outs.append(gqa_attention(q_step, k_seen, v_seen))  # (B, H, 1, D)
        # step, shape, strides, same storage as the buffer, contiguous
        print(
            t, tuple(k_seen.shape), k_seen.stride(),
            k_seen.data_ptr() == k_buf.data_ptr(),
            k_seen.is_contiguous(),
        )
    #> 0 (1, 2, 1, 8) (80, 40, 8, 1) True False
    #> 1 (1, 2, 2, 8) (80, 40, 8, 1) True False
    #> 2 (1, 2, 3, 8) (80, 40, 8, 1) True False
    #> 3 (1, 2, 4, 8) (80, 40, 8, 1) True False
    #> 4 (1, 2, 5, 8) (80, 40, 8, 1) True True
    cached = torch.cat(outs, dim=2)  # (B, H, T, D)
    full = gqa_attention(q_all, k_all, v_all, is_causal=True)  # (B, H, T, D)
    torch.allclose(cached, full, atol=1e-6)
    #> True
    # step 0 again: its slice is not contiguous, and nothing is copied
    first = (q_all[:, :, :1], k_buf[:, :, :1], v_buf[:, :, :1])
    matmul_ops(count_ops(gqa_attention, *first))
    #> {'aten::bmm': 2}
    # --8<-- [end:cache_inplace]

    # --8<-- [start:layouts]
    B, L, H, D = 2, 3, 4, 8
    x = torch.randn(B, L, H * D, generator=g)  # (B, L, E): a Linear's output
    blhd = x.view(B, L, H, D)  # (B, L, H, D): a view, contiguous
    bhld = blhd.transpose(1, 2)  # (B, H, L, D): a view, not contiguous
    blhd.is_contiguous(), bhld.is_contiguous()
    #> (True, False)
    bhld.contiguous().data_ptr() == x.data_ptr()  # a copy
    #> False
    bhld.transpose(1, 2).is_contiguous()  # back: no copy needed
    #> True
    # --8<-- [end:layouts]
