"""The stride explorer of the shapes chapter (docs/assets/stride-explorer.js, section #explorer),
in headless Chromium on the built site.

The model, ``window.strideExplorer.run(shape, steps)``, is compared with torch record by record:
on hand-picked chains (each error kind, each preset of the interface) and on ``RANDOM_CHAINS``
seeded random chains. For every step both must give the same shape, strides, storage offset,
``is_contiguous()``, ``copied`` (torch: ``untyped_storage().data_ptr()`` differs from the step
before's) and ``storage`` (torch: every value of ``untyped_storage()``, in memory order: a view,
an expanded one too, reads its input's storage and lists the same values; a copy lists its new
storage's); or, for a step torch rejects, the same exception type and, on the pinned release, the
same message word for word, after which the chain stops.

The interface is operated as a reader operates it, with the keyboard and clicks, in both
languages, at 1366 px and at 390 px: no console error, no sideways scrolling of the page.
"""

from __future__ import annotations

import math
import random

import pytest
import torch

from sitekit.site import LANGUAGES, url_prefix
from sitekit.testing.browser import local_context
from sitekit.testing.releases import PINNED
from test_reading import PAGE_SCRIPT as READING  # the same checks of English words and stray spaces

pytestmark = pytest.mark.browser

SEED = 14
RANDOM_CHAINS = 600
MAX_NUMEL = 64
PHONE = {"width": 390, "height": 844}
LAPTOP = {"width": 1366, "height": 768}
#: Messages are compared word for word on the release the pages show; elsewhere only their type.
EXACT_MESSAGES = torch.__version__.split("+")[0] == PINNED
VIEW_ERROR = ("view size is not compatible with input tensor's size and stride (at least one "
              "dimension spans across two contiguous subspaces). Use .reshape(...) instead.")


# --- torch's answer -----------------------------------------------------------------------------

def storage_values(t: torch.Tensor) -> list[int]:
    """Every value of the storage `t` reads from, in memory order."""
    return torch.empty(0, dtype=t.dtype).set_(t.untyped_storage()).tolist()


def torch_records(shape: list[int], steps: list[list]) -> list[dict]:
    """What torch gives for the chain: the records of window.strideExplorer.run."""
    t = torch.arange(math.prod(shape)).view(shape)
    records = []
    for name, *args in steps:
        try:
            result = getattr(t, name)(*args)
        except (RuntimeError, IndexError) as error:
            records.append({"error": str(error), "type": type(error).__name__})
            break
        records.append({"shape": list(result.shape), "stride": list(result.stride()),
                         "offset": result.storage_offset(), "contiguous": result.is_contiguous(),
                         "copied": result.untyped_storage().data_ptr() != t.untyped_storage().data_ptr(),
                         "storage": storage_values(result)})
        t = result  # `t` stays alive until the next step: a copy cannot reuse its memory
    return records


def disagreements(chains: list[tuple[list, list]], got: list[list[dict]]) -> list[str]:
    """One line per record where the explorer and torch differ."""
    found = []
    for (shape, steps), records in zip(chains, got):
        expected = torch_records(shape, steps)
        if not EXACT_MESSAGES:  # another release may word a message differently: compare the type
            for record in expected + records:
                record.pop("error", None)
        if records != expected:
            where = len(records) if len(records) != len(expected) else next(
                i for i, (a, b) in enumerate(zip(records, expected)) if a != b)
            found.append(f"arange(n).view({shape}) then {steps}: step {where + 1}: explorer "
                         f"{records[where] if where < len(records) else 'nothing'} != torch "
                         f"{expected[where] if where < len(expected) else 'nothing'}")
    return found


# --- Chains -------------------------------------------------------------------------------------

#: Hand-picked: every error kind, every preset, the chapter's examples.
CHAINS = [
    ([2, 3, 4], [["view", [6, 4]], ["view", [2, 12]], ["view", [-1]]]),
    ([2, 3, 4], [["transpose", 1, 2], ["view", [2, 12]]]),  # the chapter's view error
    ([2, 3, 4], [["transpose", 1, 2], ["view", [2, 2, 2, 3]]]),  # #view-without-contiguity
    ([2, 3, 4], [["transpose", 1, 2], ["reshape", [2, 12]]]),  # reshape copies
    ([2, 3, 4], [["reshape", [6, 4]], ["reshape", [-1, 2, 2]]]),  # reshape views
    ([2, 3, 4], [["contiguous"], ["transpose", 0, 2], ["contiguous"], ["contiguous"]]),
    ([1, 3, 4], [["view", [1, 3, 2, 2]], ["transpose", 1, 2], ["transpose", 1, 2], ["reshape", [1, 3, 4]]]),
    ([1, 3, 4], [["view", [1, 3, 2, 2]], ["transpose", 1, 2], ["contiguous"], ["transpose", 1, 2],
                 ["reshape", [1, 3, 4]]]),  # merge_heads on a contiguous input copies
    ([1, 3, 12], [["view", [1, 3, 3, 2, 2]], ["permute", [2, 0, 3, 1, 4]]]),  # packed QKV
    ([2, 1, 6], [["view", [2, 1, 3, 2]], ["transpose", 1, 2], ["view", [6, 1, 2]]]),  # L = 1
    ([2, 3, 4], [["view", [5, 5]]]),
    ([2, 3, 4], [["view", [-1, -1]]]),
    ([2, 3, 4], [["view", [2, -2, 12]]]),
    ([2, 3, 4], [["reshape", [7, -1]]]),
    ([2, 3, 4], [["view", 4, 6]]),  # sizes as separate arguments
    ([2, 3, 4], [["transpose", 3, 0]]),
    ([2, 3, 4], [["transpose", 0, -4]]),
    ([2, 3, 4], [["transpose", -1, -3], ["transpose", 1, 1]]),
    ([2, 3, 4], [["permute", [0, 1]]]),
    ([2, 3, 4], [["permute", [0, 0, 1]]]),
    ([2, 3, 4], [["permute", [0, 0, 5]]]),
    ([2, 3, 4], [["permute", [5, 0, 0]]]),
    ([2, 3, 4], [["permute", [-1, 0, -2]]]),
    ([2, 3, 4], [["expand", [3, 3, 4]]]),
    ([2, 3, 4], [["expand", [2, 3]]]),
    ([2, 3, 4], [["expand", [-1, 2, 3, 4]]]),
    ([2, 3, 4], [["expand", [1, 2, 3, 4]], ["expand", [3, -1, -1, -1, -1]]]),
    ([2, 3, 4], [["expand", [2, 3, -2]]]),
    ([2, 1, 4], [["expand", [2, 3, 4]], ["reshape", [6, 4]]]),  # expand then reshape: a copy
    ([2, 1, 4], [["expand", [2, 3, 4]], ["view", [2, 12]]]),
    ([2, 1, 4], [["expand", [2, 3, 4]], ["view", [2, 3, 2, 2]], ["contiguous"]]),
    ([1, 4], [["expand", [3, 4]], ["transpose", 0, 1], ["reshape", [-1]]]),
    ([1], [["expand", [0]], ["view", [-1]], ["contiguous"], ["view", [0, 5]]]),
    ([1], [["expand", [0]], ["view", [0, -1]]]),
    ([1], [["expand", [-2]]]),
    ([1], [["expand", [2, -1]], ["expand", [-1, 2]]]),
    ([2, 3, 4], [["unsqueeze", 3], ["unsqueeze", 0], ["unsqueeze", -1], ["unsqueeze", 7]]),
    ([2, 3, 4, 1], [["transpose", 0, 3], ["unsqueeze", 1], ["unsqueeze", -5]]),
    ([2, 1, 3, 1], [["squeeze"], ["squeeze", 0], ["squeeze", -1], ["squeeze", 2]]),
    ([2, 1, 3, 1], [["squeeze", 1], ["squeeze", -1], ["squeeze", -3]]),
    ([1], [["squeeze"], ["view", [1, 1, 1]], ["squeeze"], ["unsqueeze", 0], ["squeeze", 0], ["squeeze", -1],
           ["transpose", 0, -1], ["expand", [2, 3]], ["reshape", [3, 2]]]),
    ([1], [["squeeze"], ["unsqueeze", -2]]),
    ([1], [["squeeze"], ["expand", [1, 1]], ["permute", [1, 0]], ["view", []]]),
    ([1], [["squeeze"], ["permute", [0]]]),
    ([2, 3, 4], [["view", []]]),
]


def random_shape(rng: random.Random, numel: int | None = None, max_dims: int = 5) -> list[int]:
    """Small sizes, many of them 1; with `numel`, a shape of exactly that many elements."""
    while True:
        ndim = rng.randint(1, max_dims)
        if numel is None:
            shape = [rng.choice([1, 1, 2, 2, 3, 4]) for _ in range(ndim)]
            if 0 < math.prod(shape) <= MAX_NUMEL:
                return shape
        else:
            shape, left = [], numel
            for _ in range(ndim - 1):
                size = rng.choice([d for d in range(1, left + 1) if left % d == 0][:5] + [1])
                shape.append(size)
                left //= size
            shape.append(left)
            rng.shuffle(shape)
            return shape


def random_dim(rng: random.Random, ndim: int, bad: float = 0.04) -> int:
    """A dim in range, negative about half the time; now and then one out of range."""
    rank = max(ndim, 1)
    if rng.random() < bad:
        return rng.choice([rank, rank + 1, -rank - 1])
    dim = rng.randrange(rank)
    return dim - rank if rng.random() < 0.5 else dim


def random_new_shape(rng: random.Random, shape: list[int]) -> list[int]:
    """For view and reshape: a split, a merge, a random shape of as many elements, or a wrong one."""
    numel = math.prod(shape)
    kind = rng.random()
    if kind < 0.25 and len(shape) >= 2:  # merge two neighbours: fails after a transpose
        d = rng.randrange(len(shape) - 1)
        new = shape[:d] + [shape[d] * shape[d + 1]] + shape[d + 2:]
    elif kind < 0.45 and shape:  # split one dim: works on a non-contiguous tensor too
        d = rng.randrange(len(shape))
        factors = [f for f in range(1, shape[d] + 1) if shape[d] % f == 0]
        f = rng.choice(factors)
        new = shape[:d] + [f, shape[d] // f] + shape[d + 1:]
    elif kind < 0.9:
        new = random_shape(rng, numel) if numel else [0]
    elif kind < 0.95:
        new = random_shape(rng, numel + rng.randint(1, 3))  # the wrong number of elements
    else:
        new = [rng.choice([-1, -1, -2, 0]) for _ in range(rng.randint(1, 2))] + [max(numel, 1)]
    if new and rng.random() < 0.3:  # let torch infer one size
        new[rng.randrange(len(new))] = -1
        if rng.random() < 0.1:
            new[rng.randrange(len(new))] = -1  # maybe a second one: "only one dimension can be inferred"
    return new


def random_expand(rng: random.Random, shape: list[int]) -> list[int]:
    target = []
    for size in shape:
        if size == 1:
            target.append(rng.choice([1, 2, 3, -1, -1] + ([0] if rng.random() < 0.05 else [])))
        else:
            target.append(rng.choice([size, -1]) if rng.random() > 0.05 else size + 1)
    leading = rng.choice([0, 0, 0, 1, 2])
    target = [rng.choice([1, 2, 3]) if rng.random() > 0.05 else -1 for _ in range(leading)] + target
    if shape and rng.random() < 0.04:
        target = target[1:]  # too few sizes
    if rng.random() < 0.02:
        target[rng.randrange(len(target))] = -2
    return target


METHODS = ["view", "reshape", "transpose", "permute", "contiguous", "expand", "unsqueeze", "squeeze"]


def random_step(rng: random.Random, shape: list[int]) -> list:
    ndim = len(shape)
    name = rng.choices(METHODS, weights=[6, 5, 5, 4, 2, 3, 2, 2])[0]
    if name in ("view", "reshape"):
        return [name, random_new_shape(rng, shape)]
    if name == "transpose":
        return [name, random_dim(rng, ndim), random_dim(rng, ndim)]
    if name == "permute":
        dims = list(range(ndim))
        rng.shuffle(dims)
        dims = [d - ndim if rng.random() < 0.3 else d for d in dims]
        roll = rng.random()
        if roll < 0.04:
            dims = dims[:-1] if dims else [0]  # the wrong number of dims
        elif roll < 0.08 and ndim >= 2:
            dims[0] = dims[1]  # a repeated dim
        elif roll < 0.1 and dims:
            dims[0] = ndim + 1
        return [name, dims]
    if name == "expand":
        return [name, random_expand(rng, shape)]
    if name == "unsqueeze":
        if ndim >= 5:
            return ["squeeze"]
        return [name, random_dim(rng, ndim + 1)]
    if name == "squeeze":
        return [name] if rng.random() < 0.4 else [name, random_dim(rng, ndim)]
    return [name]


def random_chains(count: int, seed: int = SEED) -> list[tuple[list, list]]:
    """`count` chains from `seed`; each step is drawn for the shape torch gives at that point."""
    rng = random.Random(seed)
    chains = []
    while len(chains) < count:
        shape = random_shape(rng)
        t = torch.arange(math.prod(shape)).view(shape)
        steps = []
        for _ in range(rng.randint(1, 7)):
            step = random_step(rng, list(t.shape))
            steps.append(step)
            try:
                t = getattr(t, step[0])(*step[1:])
            except (RuntimeError, IndexError):
                break
            if t.numel() > 4 * MAX_NUMEL:  # expanded too far: keep the chains small
                break
        chains.append((shape, steps))
    return chains


# --- The page ------------------------------------------------------------------------------------

def open_page(browser, served_site, lang: str, viewport: dict):
    """The shapes page in `lang`, loaded, with its console errors collected in page.errors."""
    base = served_site.url
    context = local_context(browser, base, viewport)
    page = context.new_page()
    page.errors = []
    page.on("console", lambda m: page.errors.append(f"console: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda e: page.errors.append(f"page error: {e}"))
    page.goto(f"{base}/{url_prefix(lang)}shapes/")
    page.wait_for_function("() => !!window.strideExplorer && !!document.querySelector('.se-ready')")
    return context, page


@pytest.fixture(scope="module")
def model_page(browser, served_site):
    context, page = open_page(browser, served_site, LANGUAGES[0], LAPTOP)
    yield page
    context.close()


def run_all(page, chains) -> list[list[dict]]:
    """All chains in one call into the page."""
    return page.evaluate("chains => chains.map(([shape, steps]) => window.strideExplorer.run(shape, steps))",
                         [list(chain) for chain in chains])


def test_the_hand_picked_chains_agree_with_torch(model_page):
    got = run_all(model_page, CHAINS)
    found = disagreements(CHAINS, got)
    assert not found, f"{len(found)} of {len(CHAINS)} chains disagree with torch:\n" + "\n".join(found)
    assert not model_page.errors, model_page.errors


def test_the_hand_picked_chains_show_the_chapters_facts(model_page):
    """A few facts of the chapter, as the explorer gives them (and so, by the test above, torch)."""
    got = dict(zip(range(len(CHAINS)), run_all(model_page, CHAINS)))
    if EXACT_MESSAGES:
        assert got[1][-1] == {"error": VIEW_ERROR, "type": "RuntimeError"}
    assert got[2][-1]["stride"] == [12, 2, 1, 4] and not got[2][-1]["copied"]  # view without contiguity
    assert got[3][-1]["copied"] and got[3][-1]["storage"][:6] == [0, 4, 8, 1, 5, 9]  # reshape copies
    assert [r["copied"] for r in got[5]] == [False, False, True, False]  # contiguous copies only when it must
    assert [r["copied"] for r in got[6]] == [False, False, False, False]  # split_heads, merge_heads: views
    assert got[7][-1]["copied"]  # merge_heads on a contiguous (B, H, L, D): a copy
    assert got[8][-1]["shape"] == [3, 1, 2, 3, 2] and not got[8][-1]["contiguous"]  # packed QKV


def test_random_chains_agree_with_torch(model_page):
    chains = random_chains(RANDOM_CHAINS)
    got = run_all(model_page, chains)
    found = disagreements(chains, got)
    steps = sum(len(records) for records in got)
    errors = sum(1 for records in got if "type" in records[-1])
    copies = sum(1 for records in got for r in records if r.get("copied"))
    print(f"\n{len(chains)} random chains (seed {SEED}): {steps} steps, {errors} chains end in an error, "
          f"{copies} copies; exact messages: {EXACT_MESSAGES}")
    assert not found, f"{len(found)} of {len(chains)} chains disagree with torch:\n" + "\n".join(found)
    # The chains cover what they must: every method, errors of both types, copies and views.
    names = {step[0] for _, chain in chains for step in chain}
    assert names == set(METHODS)
    types = {records[-1].get("type") for records in got}
    assert {"RuntimeError", "IndexError"} <= types
    assert 0 < copies < steps
    assert not model_page.errors, model_page.errors


def test_the_random_chains_are_reproducible():
    assert random_chains(20) == random_chains(20)


def coverage(chains: list[tuple[list, list]]) -> dict[str, int]:
    """How many steps of the chains, replayed in torch, are of each kind the comparison must see."""
    seen = dict.fromkeys(COVERAGE, 0)
    for shape, steps in chains:
        t = torch.arange(math.prod(shape)).view(shape)
        for name, *args in steps:
            flat = args[0] if args and isinstance(args[0], list) else args
            try:
                result = getattr(t, name)(*args)
            except (RuntimeError, IndexError) as error:
                seen["view across incompatible strides fails"] += name == "view" and "spans across" in str(error)
                seen["other errors"] += "spans across" not in str(error)
                break
            copied = result.untyped_storage().data_ptr() != t.untyped_storage().data_ptr()
            seen["view of a non-contiguous tensor works"] += name == "view" and not t.is_contiguous()
            seen["reshape copies"] += name == "reshape" and copied
            seen["reshape of a non-contiguous tensor is a view"] += (name == "reshape" and not copied
                                                                      and not t.is_contiguous())
            seen["contiguous copies"] += name == "contiguous" and copied
            seen["contiguous returns itself"] += name == "contiguous" and not copied
            seen["-1 in view or reshape"] += name in ("view", "reshape") and -1 in flat
            seen["expand with -1"] += name == "expand" and -1 in flat
            seen["expand adds leading dims"] += name == "expand" and len(flat) > t.dim()
            seen["a step after expand"] += 0 in t.stride() and t.numel() > 1
            seen["negative dims"] += (name in ("transpose", "permute", "unsqueeze", "squeeze")
                                      and min(flat, default=0) < 0)
            seen["squeeze()"] += name == "squeeze" and not args
            seen["squeeze(dim)"] += name == "squeeze" and bool(args)
            t = result
    return seen


COVERAGE = ["view across incompatible strides fails", "other errors", "view of a non-contiguous tensor works",
            "reshape copies", "reshape of a non-contiguous tensor is a view", "contiguous copies",
            "contiguous returns itself", "-1 in view or reshape", "expand with -1", "expand adds leading dims",
            "a step after expand", "negative dims", "squeeze()", "squeeze(dim)"]


def test_the_random_chains_cover_every_case():
    seen = coverage(random_chains(RANDOM_CHAINS))
    print("\n" + ", ".join(f"{kind}: {count}" for kind, count in seen.items()))
    rare = [kind for kind, count in seen.items() if count < 10]
    assert not rare, f"fewer than 10 steps of these kinds: {rare}"


def test_the_comparison_finds_a_disagreement():
    """The comparison is not vacuous: a wrong stride, a missing copy, another message are found."""
    chain = ([2, 3], [["transpose", 0, 1], ["contiguous"], ["view", [-1, -1]]])
    right = torch_records(*chain)
    wrong_stride = [dict(right[0], stride=[3, 1]), *right[1:]]
    no_copy = [right[0], dict(right[1], copied=False), right[2]]
    reworded = [*right[:2], {"error": "only one dim can be inferred", "type": "RuntimeError"}]
    found = disagreements([chain] * 4, [right, wrong_stride, no_copy, reworded])
    assert [line.split(": step ")[1][0] for line in found] == ["1", "2"] + (["3"] if EXACT_MESSAGES else [])


# --- The interface -------------------------------------------------------------------------------

#: What the interface says, per language (the explorer's own strings are checked against these).
SAYS = {
    "zh": {"copy": "复制：新的存储", "view": "视图：共享存储，不复制",
           "limit": "界面的限制，不是 PyTorch 的报错", "rejects": "PyTorch 拒绝这一步"},
    "en": {"copy": "a copy: new storage", "view": "a view: shares the storage, copies nothing",
           "limit": "A limit of this interface, not a PyTorch error", "rejects": "PyTorch rejects this step"},
}

#: How far the page and the explorer reach to the right, and the window's width.
WIDTHS = """() => {
  const box = document.querySelector(".stride-explorer").getBoundingClientRect();
  return {page: document.documentElement.scrollWidth, window: document.documentElement.clientWidth,
          explorer: box.right};
}"""


def cards(page) -> list[str]:
    return page.locator(".stride-explorer .se-card").all_inner_texts()


@pytest.mark.parametrize("viewport", [LAPTOP, PHONE], ids=["1366px", "390px"])
@pytest.mark.parametrize("lang", LANGUAGES)
def test_a_reader_operates_the_explorer(browser, served_site, lang, viewport):
    says = SAYS[lang]
    context, page = open_page(browser, served_site, lang, viewport)
    try:
        explorer = page.locator(".stride-explorer")
        explorer.scroll_into_view_if_needed()
        shape = explorer.locator("input[id$='-shape']")
        op = explorer.locator("select")
        args = explorer.locator("input[id$='-args']")
        message = explorer.locator(".se-message")

        # Interface validation, said to be no PyTorch error.
        shape.fill("5, 5, 5")
        shape.press("Enter")
        assert says["limit"] in message.inner_text() and "125" in message.inner_text()
        shape.fill("2, 0")
        shape.press("Enter")
        assert says["limit"] in message.inner_text()

        # A shape typed, then steps added with the keyboard: the select, the field, Enter.
        shape.fill("2, 3, 4")
        shape.press("Enter")
        assert len(cards(page)) == 1 and "(12, 4, 1)" in cards(page)[0]
        op.focus()
        op.select_option("transpose")
        page.keyboard.press("Tab")  # to the arguments, which the choice filled with an example
        assert page.evaluate("() => document.activeElement.id.endsWith('-args')")
        page.keyboard.press("Control+A")
        page.keyboard.type("1, 2")
        page.keyboard.press("Enter")
        args.fill("2, 12")
        op.select_option("view")
        args.fill("2, 12")
        args.press("Enter")
        shown = cards(page)
        assert len(shown) == 3, shown
        assert "(2, 4, 3)" in shown[1] and "(12, 1, 4)" in shown[1] and says["view"] in shown[1]
        assert says["rejects"] in shown[2]
        if EXACT_MESSAGES:
            assert "RuntimeError: " + VIEW_ERROR in shown[2]
        # No step after an error: the chain has stopped.
        args.press("Enter")
        assert says["limit"] in message.inner_text() and len(cards(page)) == 3

        # Remove the failing step with a click, reshape instead: a copy, in logical order.
        explorer.locator(".se-remove").nth(1).click()
        op.select_option("reshape")
        args.fill("2, 12")
        stepped = explorer.locator("button[type=submit]").nth(1)
        stepped.click()
        shown = cards(page)
        assert len(shown) == 3 and says["copy"] in shown[2] and "(12, 1)" in shown[2]
        memory = explorer.locator(".se-card").nth(2).locator(".se-mem-value").all_inner_texts()
        assert memory[:6] == ["0", "4", "8", "1", "5", "9"]

        # The presets, from the chapter's example (B, L, E) = (1, 3, 4), H = 2.
        shape.fill("1, 3, 4")
        shape.press("Enter")
        explorer.locator("[data-preset=split_heads]").click()
        explorer.locator("[data-preset=merge_heads]").click()
        shown = cards(page)
        assert len(shown) == 5 and "(12, 2, 4, 1)" in shown[2] and all(says["view"] in s for s in shown[1:])
        shape.fill("1, 3, 12")
        shape.press("Enter")
        explorer.locator("[data-preset=packed_qkv]").press("Enter")  # a button, from the keyboard
        shown = cards(page)
        assert len(shown) == 3 and "(3, 1, 2, 3, 2)" in shown[2] and "(4, 36, 2, 12, 1)" in shown[2]

        # A memory row of 120 cells, and the page still does not scroll sideways.
        shape.fill("120")
        shape.press("Enter")
        op.select_option("expand")
        args.fill("5, -1")  # 600 elements: more than the drawing takes, said to be no PyTorch error
        args.press("Enter")
        assert says["limit"] in message.inner_text() and "600" in message.inner_text() and len(cards(page)) == 1
        op.select_option("view")
        args.fill("2, 3, 4, 5")
        args.press("Enter")
        op.select_option("transpose")
        args.fill("0, 3")
        args.press("Enter")
        widths = page.evaluate(WIDTHS)
        assert widths["page"] <= widths["window"], (
            f"the page scrolls sideways at {viewport['width']} px: {widths}")
        assert widths["explorer"] <= widths["window"], widths
        if lang == "zh":  # the explorer as it now is, read as tests/test_reading.py reads every page
            reading = page.evaluate(READING)
            assert reading["ui"] == [] and reading["spaces"] == [], reading
        assert not page.errors, page.errors
    finally:
        context.close()


def test_without_javascript_the_section_says_what_the_explorer_does(browser, served_site):
    context = browser.new_context(java_script_enabled=False)
    try:
        page = context.new_page()
        for lang, words in (("zh", "JavaScript"), ("en", "JavaScript")):
            page.goto(f"{served_site.url}/{url_prefix(lang)}shapes/")
            fallback = page.locator(".stride-explorer").inner_text()
            assert words in fallback and page.locator(".stride-explorer input").count() == 0
    finally:
        context.close()
