"""The built site in a real browser: headless Chromium, driven by Playwright, on the site served
from 127.0.0.1. Only what needs a browser is checked here; what the built files show (every page
in every language, the language switcher, which search index a page uses, no load from another
host) is checked on the files, by tests/test_build.py and tests/test_budget.py.

Every page of the built site (notebook pages included) is opened once, as a first visit, and must
load without a console error or page error and without a failed request (a request to another
host is refused, so it fails too: this also catches requests made by scripts); every code block
must have a working copy button, no math may be left unrendered, and Chinese must render as
glyphs. Searches are typed into the search box as a reader types them. Screenshots of the home
page and the shapes chapter of each language go to ``build/screenshots/``.

Chromium: the system's, shared by the browser test modules (``browser`` in tests/conftest.py, from
sitekit/testing/browser.py). Where there is none, the browser tests are skipped with the reason,
which says how to install it; with ``CI=true`` they fail instead.
"""

from __future__ import annotations

import re
import shutil
import time
from dataclasses import dataclass, field
from html import unescape
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from sitekit.site import LANGUAGES, ROOT, language_of, url_prefix
from sitekit.testing.browser import INSTALL, has_cjk_font, local_context, system_chromium, unavailable
from sitekit.tools.budget import file_of, measure_page, site_pages

pytestmark = pytest.mark.browser

SCREENSHOTS = ROOT / "build" / "screenshots"
#: Pages photographed in each language (URL path below the language root) -> file name part.
SCREENSHOT_PAGES = {"": "home", "shapes/": "shapes"}
SEARCHES = {"zh": ("广播", "掩码", "步长"), "en": ("broadcasting", "mask", "stride")}

#: After the load event, a page counts as settled once no request has been in flight for this long.
QUIET_S = 0.2
SETTLE_TIMEOUT_S = 10.0
#: Pages loading at once: most of a page's time is spent waiting (its scripts, the search worker).
PARALLEL_PAGES = 4
VIEWPORT = {"width": 1280, "height": 800}


# --- Chromium -------------------------------------------------------------------------------

def test_without_chromium_the_browser_tests_skip_saying_how_to_install_it_or_fail_in_ci(monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="no Chromium on the PATH.*apt-get install chromium"):
        system_chromium()
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI=true: the browser tests must run"):
        system_chromium()


# --- Visiting every page ----------------------------------------------------------------------

def below_language_root(path: str) -> str:
    """A URL path below its language's root: "/en/shapes/" -> "shapes/"."""
    return path[1 + len(url_prefix(language_of(path[1:]))):]


@dataclass
class Visit:
    path: str
    lang: str
    status: int | None = None
    console_errors: list[str] = field(default_factory=list)
    failed_requests: list[str] = field(default_factory=list)  # requests to another host included
    local_requests: list[str] = field(default_factory=list)  # URL paths, in order
    unsettled: list[str] = field(default_factory=list)  # requests still in flight at the deadline
    code_blocks: int = 0
    uncopyable: list[str] = field(default_factory=list)
    unrendered_math: list[str] = field(default_factory=list)
    cjk: dict | None = None
    screenshot: Path | None = None
    errors: list[str] = field(default_factory=list)  # the visit itself went wrong


#: Run in the page once it has settled.
PAGE_CHECKS = r"""() => {
  const content = document.querySelector(".md-content") || document.body;
  const copyButton = "button.md-clipboard, button.md-code__button[data-md-type='copy']";
  const blocks = [];
  // Material puts its copy button into every `pre > code` (content.code.copy).
  for (const code of content.querySelectorAll("pre > code")) {
    const pre = code.parentElement;
    if (pre.closest(".no-copy, .mermaid")) continue;
    blocks.push([pre, !!pre.querySelector(copyButton)]);
  }
  // A notebook's input cells (mkdocs-jupyter): `pre` without `code`, with its own copy button.
  for (const pre of content.querySelectorAll(".jp-CodeCell .jp-InputArea pre")) {
    if (pre.querySelector(":scope > code")) continue;
    const area = pre.closest(".jp-InputArea");
    const button = area.querySelector("clipboard-copy, " + copyButton);
    const works = !!button && (button.localName !== "clipboard-copy" || !!customElements.get("clipboard-copy"));
    blocks.push([pre, works]);
  }
  const firstLine = el => el.textContent.trim().split("\n")[0].slice(0, 60);
  const uncopyable = blocks.filter(([, ok]) => !ok).map(([pre]) => firstLine(pre));

  // Math: an arithmatex element must hold KaTeX or MathJax output, and no TeX may be left in prose.
  const unrendered = [];
  for (const el of content.querySelectorAll(".arithmatex")) {
    if (!el.querySelector(".katex, mjx-container, .MathJax, math")) unrendered.push(el.textContent.trim().slice(0, 80));
  }
  const skip = "pre, code, script, style, textarea, .arithmatex, .katex, mjx-container, .MathJax";
  const walker = document.createTreeWalker(content, NodeFilter.SHOW_TEXT, {
    acceptNode: n => n.parentElement.closest(skip) ? NodeFilter.FILTER_REJECT : NodeFilter.FILTER_ACCEPT});
  const tex = /\$\$|\\\(|\\\[|\\begin\{|\$[^$\n]*(\\[A-Za-z]+|[_^]\{)[^$\n]*\$/;
  while (walker.nextNode()) {
    const text = walker.currentNode.textContent;
    if (tex.test(text)) unrendered.push(text.trim().slice(0, 80));
  }
  return {codeBlocks: blocks.length, uncopyable, unrendered};
}"""

#: Draws two different Chinese characters in the page's text font: without a Chinese font both come
#: out as the same empty box.
CJK_CHECK = r"""() => {
  const font = getComputedStyle(document.querySelector(".md-typeset") || document.body).fontFamily;
  const draw = text => {
    const canvas = document.createElement("canvas");
    canvas.width = 64; canvas.height = 64;
    const g = canvas.getContext("2d");
    g.font = `40px ${font}`; g.fillStyle = "#000"; g.fillText(text, 4, 48);
    return canvas.toDataURL();
  };
  return {font, first: draw("广"), second: draw("播"), blank: draw("")};
}"""


@pytest.fixture(scope="module")
def context(browser, served_site):
    """One browser context for the session's pages. Requests to any other host are refused, so
    nothing leaves the machine and each one is a failed request; routing also turns the HTTP cache
    off, so every page loads everything it needs, as on a first visit."""
    context = local_context(browser, served_site.url, VIEWPORT)
    yield context
    context.close()


def start_page(context, served, path: str, rec: Visit):
    """A new page (tab) navigating to `path`, its events going to `rec`. Returns as soon as the
    server answered, with a function that waits until the page has settled, so that several
    pages can load at once."""
    base = served.url
    page = context.new_page()
    in_flight: set = set()
    last_event = [time.monotonic()]

    def on_request(request):
        last_event[0] = time.monotonic()
        in_flight.add(request)
        if request.url.startswith(base + "/"):
            rec.local_requests.append(urlsplit(request.url).path)

    def on_response(response):
        if response.status >= 400:
            rec.failed_requests.append(f"{response.status} {response.url}")

    def on_done(request):
        last_event[0] = time.monotonic()
        in_flight.discard(request)

    def on_failed(request):
        on_done(request)
        if not request.url.startswith(("data:", "blob:", "about:")):
            where = "" if request.url.startswith(base + "/") else " (another host: refused)"
            rec.failed_requests.append(f"{request.failure} {request.url}{where}")

    def on_console(message):
        if message.type == "error":
            rec.console_errors.append(f"console: {message.text}")

    def on_page_error(error):
        rec.console_errors.append(f"page error: {error}")

    page.on("request", on_request)
    page.on("response", on_response)
    page.on("requestfinished", on_done)
    page.on("requestfailed", on_failed)
    page.on("console", on_console)
    page.on("pageerror", on_page_error)

    def settle() -> None:
        """Wait for the load event, then until the page is quiet: Material starts its search
        worker and fetches the index after the load event."""
        page.wait_for_load_state("load")
        has_search = page.evaluate("() => !!document.forms.namedItem('search')")
        deadline = time.monotonic() + SETTLE_TIMEOUT_S
        while time.monotonic() < deadline:
            index_loaded = not has_search or any(p.endswith("/search_index.json") for p in rec.local_requests)
            if not in_flight and index_loaded and time.monotonic() - last_event[0] >= QUIET_S:
                return
            page.wait_for_timeout(50)
        rec.unsettled = [r.url for r in in_flight] or ["(the search index was never requested)"]

    response = page.goto(base + path, wait_until="commit")
    rec.status = response.status if response else None
    return page, settle


def open_page(context, served, path: str, rec: Visit):
    """A new page (tab) with `path` loaded and settled."""
    page, settle = start_page(context, served, path, rec)
    settle()
    return page


def check(page, settle, rec: Visit) -> None:
    """Settle a started page, run the checks in it, take its screenshot, close it."""
    try:
        settle()
        checks = page.evaluate(PAGE_CHECKS)
        rec.code_blocks = checks["codeBlocks"]
        rec.uncopyable = checks["uncopyable"]
        rec.unrendered_math = checks["unrendered"]
        if rec.path == "/":
            rec.cjk = page.evaluate(CJK_CHECK)
        if below_language_root(rec.path) in SCREENSHOT_PAGES:
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            rec.screenshot = SCREENSHOTS / f"{rec.lang}-{SCREENSHOT_PAGES[below_language_root(rec.path)]}.png"
            page.screenshot(path=str(rec.screenshot))
    except Exception as error:  # noqa: BLE001 - reported by the tests, page by page
        rec.errors.append(f"{type(error).__name__}: {error}")
    finally:
        # After an error the page may be mid-navigation, where a waiting close() can hang:
        # then close without waiting (run_before_unload; no page of the site sets a handler).
        page.close(run_before_unload=bool(rec.errors))


@pytest.fixture(scope="module")
def visits(context, served_site) -> dict[str, Visit]:
    """Every page of the built site, opened once, PARALLEL_PAGES at a time."""
    started = time.perf_counter()
    paths = site_pages(served_site.site_dir)
    result = {path: Visit(path=path, lang=language_of(path[1:])) for path in paths}
    for first in range(0, len(paths), PARALLEL_PAGES):
        opened = []
        for path in paths[first : first + PARALLEL_PAGES]:
            try:
                opened.append((*start_page(context, served_site, path, result[path]), result[path]))
            except Exception as error:  # noqa: BLE001 - reported by the tests, page by page
                result[path].errors.append(f"{type(error).__name__}: {error}")
        for page, settle, rec in opened:
            check(page, settle, rec)
    print(f"\nvisited {len(result)} pages in {time.perf_counter() - started:.1f} s")
    return result


def offenders(visits: dict[str, Visit], attribute: str) -> list[str]:
    return [f"{v.path}: {item}" for v in visits.values() for item in getattr(v, attribute)]


def test_every_page_opens_and_settles(visits):
    found = offenders(visits, "errors") + offenders(visits, "unsettled")
    found += [f"{v.path}: status {v.status}" for v in visits.values() if v.status != 200]
    assert not found, "\n".join(found)


def test_no_page_logs_a_console_error_or_page_error(visits):
    found = offenders(visits, "console_errors")
    assert not found, "\n".join(found)


def test_no_request_fails_and_none_goes_to_another_host(visits):
    found = offenders(visits, "failed_requests")
    assert not found, "\n".join(found)


def test_every_code_block_has_a_copy_button(visits):
    assert sum(v.code_blocks for v in visits.values()) > 0, "no page has a code block: nothing checked"
    found = offenders(visits, "uncopyable")
    assert not found, "code blocks without a working copy button:\n" + "\n".join(found)


def test_no_math_is_left_unrendered(visits):
    found = offenders(visits, "unrendered_math")
    assert not found, "math left as TeX:\n" + "\n".join(found)


def test_the_math_check_finds_unrendered_math(browser):
    """The check above is not vacuous on a site without math."""
    context = browser.new_context()
    try:
        page = context.new_page()
        page.set_content('<div class="md-content"><p>fine $5 and $6</p>'
                         '<div class="arithmatex">\\[ QK^\\top \\]</div>'
                         '<p>raw $\\sqrt{d_k}$ here</p><pre><code>$$ in code is fine $$</code></pre></div>')
        found = page.evaluate(PAGE_CHECKS)["unrendered"]
    finally:
        context.close()
    assert found == ["\\[ QK^\\top \\]", "raw $\\sqrt{d_k}$ here"]


def test_budget_counts_what_the_browser_loads(visits, served_site):
    """sitekit.tools.budget counts, page by page, exactly the files the browser requested (the search
    index aside, which the budget lists on its own)."""
    wrong = []
    for v in visits.values():
        loaded = {p for p in v.local_requests if not p.endswith("/search_index.json")}
        counted = set(measure_page(served_site.site_dir, v.path).files)
        if loaded != counted:
            wrong.append(f"{v.path}: loaded but not counted {sorted(loaded - counted)}, "
                         f"counted but not loaded {sorted(counted - loaded)}")
    assert not wrong, "\n".join(wrong)


def test_screenshots_of_home_and_shapes_in_every_language(visits):
    shots = [v.screenshot for v in visits.values() if v.screenshot is not None]
    expected = {f"{lang}-{name}.png" for lang in LANGUAGES for name in SCREENSHOT_PAGES.values()}
    assert {s.name for s in shots} == expected
    for shot in shots:
        assert shot.stat().st_size > 10_000, f"{shot} looks empty"


def test_chinese_renders_as_glyphs_not_boxes(visits):
    cjk = visits["/"].cjk
    assert cjk is not None
    if cjk["first"] == cjk["blank"] or cjk["first"] == cjk["second"]:
        reason = (f"Chinese text renders as empty boxes in the font {cjk['font']!r}: no Chinese font "
                  f"is installed ({INSTALL})")
        if has_cjk_font() is False:
            unavailable(reason)
        pytest.fail(reason)


# --- Search -----------------------------------------------------------------------------------

#: Pasted whole, as PyTorch prints it after `transpose(...).view(...)`.
VIEW_ERROR = ("view size is not compatible with input tensor's size and stride (at least one "
              "dimension spans across two contiguous subspaces). Use .reshape(...) instead.")
#: Questions typed the way learners type them (Chinese without spaces, a leading minus, fp16, an
#: error message pasted whole) -> the page that answers them, below the language root: it must be
#: among the first three results. docs/assets/search-query.js rewrites such queries for lunr.
LEARNER_SEARCHES = {
    "zh": {"bmm调用哪个cublas函数": "cublas/", "-inf还是-1e9": "masking/",
           "fp16 下 -1e9 溢出": "masking/", "view报错 size is not compatible": "shapes/",
           "need_weights有什么用": "mha/", "sdpa怎样返回注意力权重": "sdpa/",
           "KV缓存用torch.cat追加": "gqa/"},
    "en": {"-inf or -1e9": "masking/", "-1e9 overflow in fp16": "masking/", VIEW_ERROR: "shapes/",
           "which cublas function does bmm call": "cublas/", "why view fails after transpose": "shapes/",
           "get attention weights from sdpa": "sdpa/", "repeat_interleave for grouped-query attention": "gqa/"},
}
#: Terms with a leading minus (to lunr: "without this term"), searched alone in each language.
MINUS_TERMS = ("-inf",)


@dataclass
class Found:
    pages: list[tuple[str, str]]  # (result page path, the terms Material highlights), best first
    marked: list[str]  # the words Material marked in the results' titles and text


def article_text(site_dir: Path, path: str) -> str:
    """The text of a page's article (not its navigation), as a reader sees it."""
    html = file_of(site_dir, path).read_text(encoding="utf-8")
    match = re.search(r'<article class="md-content__inner[^"]*">(.*)</article>', html, re.DOTALL)
    body = match.group(1) if match else html
    body = re.sub(r"<(script|style)\b.*?</\1>", " ", body, flags=re.DOTALL | re.IGNORECASE)
    return unescape(re.sub(r"<[^>]+>", "", body)).replace("\u200b", "")


@pytest.fixture(scope="module")
def search_results(context, served_site) -> dict[tuple[str, str], Found]:
    """(lang, query) -> what the search box of each language's home page shows for the query,
    typed into it (SEARCHES, LEARNER_SEARCHES and MINUS_TERMS)."""
    results = {}
    for lang in LANGUAGES:
        queries = [*SEARCHES.get(lang, ()), *LEARNER_SEARCHES.get(lang, {}), *MINUS_TERMS]
        rec = Visit(path="/" + url_prefix(lang), lang=lang)
        page = open_page(context, served_site, rec.path, rec)
        try:
            placeholder = page.evaluate(
                "() => JSON.parse(document.getElementById('__config').textContent)"
                ".translations['search.result.placeholder']")
            box = page.locator("input[data-md-component=search-query]")
            meta = page.locator(".md-search-result__meta")
            box.click()
            for query in queries:
                box.fill("")
                box.press("End")  # Material searches on keyup; fill() alone fires none
                page.wait_for_function("([el, text]) => el.textContent.trim() === text",
                                       arg=[meta.element_handle(), placeholder])
                box.fill(query)
                box.press("End")
                page.wait_for_function("([el, text]) => el.textContent.trim() !== text",
                                       arg=[meta.element_handle(), placeholder])
                page.wait_for_timeout(150)
                hrefs = page.eval_on_selector_all("a.md-search-result__link", "els => els.map(e => e.href)")
                pages = {}  # each page's results (the page and its sections): their terms together
                for href in hrefs:
                    parts = urlsplit(href)
                    terms = " ".join([pages.get(parts.path, ""), *parse_qs(parts.query).get("h", [])])
                    pages[parts.path] = " ".join(dict.fromkeys(terms.split()))
                marked = page.eval_on_selector_all(".md-search-result__list mark", "els => els.map(e => e.textContent)")
                results[lang, query] = Found(list(pages.items()), marked)
        finally:
            page.close()
    return results


@pytest.mark.parametrize("lang, query", [(lang, q) for lang, qs in SEARCHES.items() for q in qs])
def test_a_search_typed_into_the_box_finds_pages_that_contain_the_query(search_results, served_site, lang, query):
    """Which pages each language's search holds is checked on the built index (tests/test_build.py);
    here, what a reader gets: Chinese queries found as whole words (步长, not 步), English ones
    while being typed."""
    results = search_results[lang, query].pages
    assert results, f"searching {query!r} on the {lang} site found nothing"
    without = [f"{p} (Material searched for: {terms!r})" for p, terms in results
               if query.casefold() not in article_text(served_site.site_dir, p).casefold()]
    assert not without, f"{query!r} found pages that do not contain it:\n" + "\n".join(without)


@pytest.mark.parametrize("lang, query", [(lang, q) for lang, qs in LEARNER_SEARCHES.items() for q in qs])
def test_a_question_typed_as_learners_type_it_finds_the_page_that_answers_it(search_results, lang, query):
    """Among the first three results, with Material's highlighting: the page's result carries the
    words it matched (the `h` of its link, highlighted on the page) and marks them in the list."""
    expected = url_prefix(lang) + LEARNER_SEARCHES[lang][query]
    found = search_results[lang, query]
    first = [path[1:] for path, _ in found.pages[:3]]
    assert expected in first, (
        f"{lang}: {query!r} should find /{expected} among the first three results; found:\n"
        + "\n".join(f"  {path} (Material searched for: {terms!r})" for path, terms in found.pages))
    highlighted = dict(found.pages)["/" + expected].split()
    assert highlighted, f"{lang}: {query!r}: the result /{expected} highlights no word"
    assert found.marked, f"{lang}: {query!r}: Material marked no word in the results"


@pytest.mark.parametrize("lang, term", [(lang, term) for lang in LANGUAGES for term in MINUS_TERMS])
def test_a_term_with_a_leading_minus_finds_every_page_that_contains_it(search_results, served_site, lang, term):
    """lunr reads a leading minus as "without this term"; a reader who types -inf means -inf."""
    found = [path for path, _ in search_results[lang, term].pages]
    containing = [path for path in site_pages(served_site.site_dir) if language_of(path[1:]) == lang
                  and term in article_text(served_site.site_dir, path)]
    assert containing, f"no {lang} page contains {term!r}: choose another term"
    missing = [path for path in containing if path not in found]
    assert not missing, f"{lang}: {term!r} did not find these pages that contain it: {missing}"
    word = term.lstrip("-+")
    unrelated = [path for path in found if word not in article_text(served_site.site_dir, path)]
    assert not unrelated, f"{lang}: {term!r} found pages without {word!r}: {unrelated}"
    assert word in {mark.casefold() for mark in search_results[lang, term].marked}


#: The query rewriting on known inputs, with a vocabulary given here: Chinese cut into the longest
#: words, lunr's syntax gone, abbreviations searched with the pages' word, stop words dropped
#: unless nothing else is left.
QUERY_REWRITES = {
    "bmm调用哪个cublas函数": "bmm 调用 哪个 cublas 函数",
    "-inf还是-1e9": "inf 还是 1e9",
    "因果掩码怎么写": "因果掩码 怎么 写",
    "fp16 下 -1e9 溢出": "fp16 float16 1e9 溢出",
    "BF16": "BF16 bfloat16",
    '+title:view^2 ~x* "a\\b" -1.5': "title view 2 x a b 1.5",
    VIEW_ERROR: "view size compatible input tensors size stride least dimension spans "
                "across contiguous subspaces Use reshape instead",
    "is not": "is not",
    "ｆｐ３２？": "fp32 float32",
}
QUERY_VOCABULARY = (["调用", "哪个", "函数", "还是", "因果", "掩码", "因果掩码", "怎么", "溢出"],
                    ["is", "not", "with", "and", "at", "one", "two", "下"])


def test_the_query_rewriting_on_known_inputs(context, served_site):
    page = context.new_page()
    try:
        page.goto(served_site.url + "/")
        page.add_script_tag(url=served_site.url + "/assets/search-query.js")
        rewritten = page.evaluate("""([queries, [words, stop]]) => {
            const { transform, vocabularyOf } = self.siteSearchQuery
            const vocabulary = vocabularyOf(words, term => stop.includes(term))
            return queries.map(query => transform(query, vocabulary))
        }""", [list(QUERY_REWRITES), list(QUERY_VOCABULARY)])
    finally:
        page.close()
    assert dict(zip(QUERY_REWRITES, rewritten)) == QUERY_REWRITES
