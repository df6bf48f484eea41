"""Properties of snippets/mha.py over many shapes (the pages show one readable example each)."""

from __future__ import annotations

import ast
import inspect
import warnings
import xml.etree.ElementTree as ET

import pytest
import torch
import torch.nn as nn
from hypothesis import given, settings
from hypothesis import strategies as st

from figures.mha import attention_groups, groups_svg
from snippets.matmul import count_ops
from snippets.mha import (
    MHAPyTorchClass,
    attend_batch_first,
    attention_path,
    padding_to_attn_mask,
    time_mha_paths,
    why_not_fast_path,
)

small = st.integers(min_value=1, max_value=4)


def twins(E: int, H: int, seed: int = 0) -> tuple[nn.MultiheadAttention, nn.MultiheadAttention]:
    """A sequence-first and a batch-first module with the same weights."""
    torch.manual_seed(seed)
    seq_first = nn.MultiheadAttention(E, H)
    batch_first = nn.MultiheadAttention(E, H, batch_first=True)
    batch_first.load_state_dict(seq_first.state_dict())
    return seq_first, batch_first


@settings(max_examples=40, deadline=None)
@given(N=small, L=small, H=small, D=small)
def test_batch_first_and_sequence_first_agree_on_transposed_input(N, L, H, D):
    E = H * D
    seq_first, batch_first = twins(E, H)
    x = torch.randn(N, L, E)  # (N, L, E)
    xs = x.transpose(0, 1)  # (L, N, E)
    out_sf, w_sf = seq_first(xs, xs, xs)
    out_bf, w_bf = batch_first(x, x, x)
    assert out_sf.shape == (L, N, E) and out_bf.shape == (N, L, E)
    assert w_sf.shape == w_bf.shape == (N, L, L)  # the weights are batch first either way
    assert torch.allclose(out_bf, out_sf.transpose(0, 1), atol=1e-6)
    for mha in (seq_first, batch_first):
        out, w = attend_batch_first(mha, x)
        assert torch.allclose(out, out_bf, atol=1e-6) and torch.allclose(w, w_bf, atol=1e-6)


@settings(max_examples=30, deadline=None)
@given(N=st.integers(2, 4), L=st.integers(2, 4), H=small, D=small)
def test_a_batch_first_tensor_in_a_sequence_first_module_mixes_the_batch(N, L, H, D):
    E = H * D
    seq_first, batch_first = twins(E, H)
    x = torch.randn(N, L, E)
    out, w = seq_first(x, x, x)  # no error
    assert out.shape == (N, L, E) and w.shape == (L, N, N)  # it took L for the batch
    x2 = x.clone()
    x2[1] += 1.0  # change sequence 1 only
    assert torch.allclose(batch_first(x2, x2, x2)[0][0], batch_first(x, x, x)[0][0], atol=1e-6)
    assert not torch.allclose(seq_first(x2, x2, x2)[0][0], out[0], atol=1e-6)


@settings(max_examples=40, deadline=None)
@given(N=small, L=small, S=small, H=small, D=small)
def test_average_attn_weights_is_the_mean_over_heads(N, L, S, H, D):
    E = H * D
    _, mha = twins(E, H)
    q, kv = torch.randn(N, L, E), torch.randn(N, S, E)
    out, w_avg = mha(q, kv, kv)
    out2, w_heads = mha(q, kv, kv, average_attn_weights=False)
    assert w_avg.shape == (N, L, S) and w_heads.shape == (N, H, L, S)
    assert torch.allclose(w_avg, w_heads.mean(dim=1), atol=1e-6)
    assert torch.allclose(w_heads.sum(dim=-1), torch.ones(N, H, L), atol=1e-6)
    assert torch.equal(out, out2)
    result = mha(q, kv, kv, need_weights=False)
    assert isinstance(result, tuple) and len(result) == 2 and result[1] is None


@settings(max_examples=40, deadline=None)
@given(N=small, L=small, S=st.integers(2, 5), H=small, D=small, data=st.data())
def test_padding_to_attn_mask_is_the_same_mask(N, L, S, H, D, data):
    E = H * D
    _, mha = twins(E, H)
    lengths = data.draw(st.lists(st.integers(1, S), min_size=N, max_size=N))  # no empty sequence
    kpm = torch.arange(S) >= torch.tensor(lengths)[:, None]  # (N, S): True = padding
    mask = padding_to_attn_mask(kpm, H, L)
    assert mask.shape == (N * H, L, S)
    for n in range(N):
        for h in range(H):
            assert torch.equal(mask[n * H + h], kpm[n].expand(L, S))
    q, kv = torch.randn(N, L, E), torch.randn(N, S, E)
    out_k, w_k = mha(q, kv, kv, key_padding_mask=kpm, average_attn_weights=False)
    out_a, w_a = mha(q, kv, kv, attn_mask=mask, average_attn_weights=False)
    assert torch.allclose(out_k, out_a, atol=1e-6) and torch.allclose(w_k, w_a, atol=1e-6)
    assert torch.all(w_k.masked_select(kpm[:, None, None, :].expand_as(w_k)) == 0)


configs = st.fixed_dictionaries(
    {
        "training": st.booleans(),
        "grad": st.booleans(),
        "frozen": st.booleans(),
        "batch_first": st.booleans(),
        "num_heads": st.sampled_from([1, 2, 4]),
        "bias": st.booleans(),
        "add_bias_kv": st.booleans(),
        "add_zero_attn": st.booleans(),
        "mask": st.sampled_from([None, "bool", "float", "padding"]),
        "cross": st.booleans(),
        "need_weights": st.booleans(),
    }
)


@settings(max_examples=60, deadline=None)
@given(c=configs)
def test_why_not_fast_path_agrees_with_the_profiler(c):
    E, N, L = 8, 2, 3
    mha = nn.MultiheadAttention(
        E, c["num_heads"], bias=c["bias"], add_bias_kv=c["add_bias_kv"],
        add_zero_attn=c["add_zero_attn"], batch_first=c["batch_first"],
    ).train(c["training"])
    if c["frozen"]:
        mha.requires_grad_(False)
    x = torch.randn(N, L, E) if c["batch_first"] else torch.randn(L, N, E)
    key = x.clone() if c["cross"] else x
    masks = {
        None: {},
        "bool": {"attn_mask": torch.ones(L, L, dtype=torch.bool).triu(1)},
        "float": {"attn_mask": torch.zeros(L, L)},
        "padding": {"key_padding_mask": torch.tensor([[False] * L, [False] * (L - 1) + [True]])},
    }[c["mask"]]
    with torch.set_grad_enabled(c["grad"]):
        reason = why_not_fast_path(mha, x, key, key, **masks)
        ops = count_ops(lambda: mha(x, key, key, need_weights=c["need_weights"], **masks))
    path = attention_path(ops)
    assert (reason == "") == (path == "fast path"), (reason, path)
    if path != "fast path":  # off the fast path, need_weights alone picks the path
        assert path == ("bmm + softmax" if c["need_weights"] else "sdpa")


@settings(max_examples=20, deadline=None)
@given(N=small, L=small, H=st.sampled_from([2, 4]), D=small, pad=st.booleans())
def test_the_fast_path_gives_the_slow_path_result(N, L, H, D, pad):
    E = H * D
    _, mha = twins(E, H)
    mha.eval()
    x = torch.randn(N, L, E)
    kwargs = {}
    if pad and L > 1:
        kwargs["key_padding_mask"] = torch.zeros(N, L, dtype=torch.bool)
        kwargs["key_padding_mask"][:, -1] = True
    slow, w_slow = mha(x, x, x, **kwargs)  # grad enabled: not the fast path
    with torch.no_grad():
        assert attention_path(count_ops(lambda: mha(x, x, x, **kwargs))) == "fast path"
        fast, w_fast = mha(x, x, x, **kwargs)
    assert torch.allclose(slow, fast, atol=1e-5) and torch.allclose(w_slow, w_fast, atol=1e-6)


@settings(max_examples=20, deadline=None)
@given(N=st.integers(2, 4), L=small, H=st.sampled_from([2, 4]), D=small)
def test_a_fully_masked_row_is_nan_on_the_fast_path_and_the_bias_on_the_sdpa_path(N, L, H, D):
    """mha.md#full-row-paths over many shapes: sequence 0 has no key to look at."""
    E = H * D
    _, mha = twins(E, H)
    mha.eval()
    x = torch.randn(N, L, E)
    all_padding = torch.zeros(N, L, dtype=torch.bool)
    all_padding[0] = True  # (N, S): sequence 0 is all padding
    with torch.no_grad():
        assert attention_path(count_ops(lambda: mha(x, x, x, key_padding_mask=all_padding))) == "fast path"
        fast, _ = mha(x, x, x, key_padding_mask=all_padding)
    slow, _ = mha(x, x, x, key_padding_mask=all_padding)  # autograd on: bmm + softmax
    sdpa, _ = mha(x, x, x, key_padding_mask=all_padding, need_weights=False)  # autograd on: sdpa
    assert fast[0].isnan().all() and slow[0].isnan().all()
    assert torch.equal(sdpa[0], mha.out_proj.bias.expand(L, E))  # zeros, then out_proj's bias
    assert torch.allclose(fast[1:], sdpa[1:], atol=1e-5)


def source_strings() -> set[str]:
    """Every plain string literal in nn.MultiheadAttention.forward, as Python evaluates it."""
    # parsed inside a class, not dedented: dedenting would also cut the spaces inside the string
    # that a backslash continuation leaves there
    tree = ast.parse("class MultiheadAttention:\n" + inspect.getsource(nn.MultiheadAttention.forward))
    return {n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)}


def test_the_messages_are_the_source_strings_exactly():
    strings = source_strings()
    mha = nn.MultiheadAttention(8, 2, batch_first=True).eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # nested tensors are a prototype API
        nested = torch.nested.nested_tensor([torch.randn(3, 8), torch.randn(2, 8)])
    mask = torch.zeros(3, 3, dtype=torch.bool)
    reason = why_not_fast_path(mha, nested, nested, nested, attn_mask=mask)
    assert reason.startswith("supplying both") and " " * 34 + "is not" in reason
    assert reason in strings
    x = torch.randn(2, 3, 8)
    for module in (nn.MultiheadAttention(8, 2, batch_first=True), nn.MultiheadAttention(8, 1, batch_first=True).eval(),
                   nn.MultiheadAttention(8, 2).eval(), nn.MultiheadAttention(8, 2, add_zero_attn=True, batch_first=True).eval()):
        with torch.no_grad():
            assert why_not_fast_path(module, x, x, x) in strings
    assert why_not_fast_path(mha, x, x, x) in strings  # grad enabled, parameters require grad


def test_the_seed_wrapper_never_takes_the_fast_path():
    torch.manual_seed(0)
    x = torch.randn(2, 4, 8)
    for need_weights in (True, False):
        wrapper = MHAPyTorchClass(d_in=8, d_out=8, num_heads=2, context_length=4, need_weights=need_weights).eval()
        with torch.no_grad():
            path = attention_path(count_ops(lambda: wrapper(x)))
        assert path == ("bmm + softmax" if need_weights else "sdpa")


def test_the_seed_wrapper_returns_one_tensor_that_unpacks_along_the_batch():
    torch.manual_seed(0)
    for need_weights in (True, False):
        wrapper = MHAPyTorchClass(d_in=8, d_out=8, num_heads=2, context_length=4, need_weights=need_weights)
        x = torch.randn(2, 4, 8)
        y = wrapper(x)
        assert isinstance(y, torch.Tensor) and y.shape == (2, 4, 8)
        out, w = wrapper(x)
        assert torch.equal(out, y[0]) and torch.equal(w, y[1]) and w.shape == (4, 8)


def test_timing_times_each_path_with_its_fast_path_switch(monkeypatch):
    seen = []

    def timer(fn, repeat):
        seen.append((torch.backends.mha.get_fastpath_enabled(), torch.is_grad_enabled(), repeat))
        return float(len(seen))

    monkeypatch.setattr("snippets.mha.seconds_per_call", timer)
    t = time_mha_paths(L=4, N=1, E=8, num_heads=2, repeat=3)
    assert t == {"bmm + softmax": 1.0, "sdpa": 2.0, "fast path": 3.0}
    assert seen == [(False, False, 3), (False, False, 3), (True, False, 3)]


def test_timing_restores_the_fast_path_switch_when_a_path_check_fails(monkeypatch):
    previous = torch.backends.mha.get_fastpath_enabled()
    monkeypatch.setattr("snippets.mha.attention_path", lambda ops: "sdpa")  # as if the wrong path ran
    try:
        torch.backends.mha.set_fastpath_enabled(True)
        with pytest.raises(RuntimeError, match="expected the 'bmm \\+ softmax' path, but 'sdpa' ran"):
            time_mha_paths(L=4, N=1, E=8, num_heads=2, repeat=1)  # fails after switching it off
        assert torch.backends.mha.get_fastpath_enabled()
    finally:
        torch.backends.mha.set_fastpath_enabled(previous)


@pytest.mark.parametrize(
    "call, error, message",
    [
        (lambda: attend_batch_first(nn.Linear(8, 8), torch.zeros(2, 3, 8)), TypeError, "expected an nn.MultiheadAttention, got Linear"),
        (lambda: attend_batch_first(nn.MultiheadAttention(8, 2), torch.zeros(3, 8)), ValueError, "batch-first (N, L, E) tensor, got shape (3, 8)"),
        (lambda: attend_batch_first(nn.MultiheadAttention(8, 2), torch.zeros(2, 3, 4)), ValueError, "E = embed_dim = 8"),
        (lambda: padding_to_attn_mask(torch.zeros(2, 3), 2, 3), TypeError, "must be bool"),
        (lambda: padding_to_attn_mask(torch.zeros(3, dtype=torch.bool), 2, 3), ValueError, "must be (N, S)"),
        (lambda: padding_to_attn_mask(torch.zeros(2, 3, dtype=torch.bool), 0, 3), ValueError, "num_heads must be a positive int, got 0"),
        (lambda: padding_to_attn_mask(torch.zeros(2, 3, dtype=torch.bool), 2, True), ValueError, "L (number of queries) must be a positive int, got True"),
        (lambda: why_not_fast_path("mha", None, None, None), TypeError, "got str"),
        (lambda: attention_path(count_ops(lambda: torch.ones(2) + 1)), ValueError, "no attention operator"),
        (lambda: time_mha_paths(L=0), ValueError, "L must be a positive int, got 0"),
        (lambda: time_mha_paths(L=4, E=10, num_heads=4), ValueError, "E=10 is not divisible by num_heads=4"),
        (lambda: time_mha_paths(L=4, E=9, num_heads=3), ValueError, "num_heads=3 is odd"),
    ],
)
def test_bad_input_gets_a_clear_error(call, error, message):
    with pytest.raises(error) as raised:
        call()
    assert message in str(raised.value)


def test_the_figure_shows_the_measured_groups():
    groups = attention_groups()
    # right layout: one group per sequence (row); wrong layout: one group per token position (column)
    assert torch.equal(groups["right"], torch.tensor([[0, 0, 0], [1, 1, 1]]))
    assert torch.equal(groups["wrong"], torch.tensor([[0, 1, 2], [0, 1, 2]]))
    for lang in ("zh", "en"):
        svg = ET.fromstring(groups_svg(lang))
        ns = "{http://www.w3.org/2000/svg}"
        cells = [t.text for t in svg.iter(f"{ns}text") if (t.text or "").startswith("x[")]
        assert cells == [f"x[{n},{l}]" for _ in range(2) for n in range(2) for l in range(3)]
