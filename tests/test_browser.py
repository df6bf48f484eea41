"""The built site in a real browser: headless Chromium, driven by Playwright, on the site served
from 127.0.0.1.

Every page of both languages (whatever HTML pages the build made, notebook pages included) is
opened once, as a first visit, and must load without a console error or page error, without a
failed request and without a request to another host; it must load its own language's search
index, have a copy button on every code block and no math left unrendered, and its language
switcher must land on the same page in the other language. Search is typed into the search box as
a reader would. Screenshots of the home page and the shapes chapter of each language go to
``build/screenshots/``.

Chromium: the first of ``chromium``, ``chromium-browser``, ``google-chrome`` on the PATH. Where
there is none, the session installs Debian's ``chromium`` and ``fonts-wqy-microhei`` with apt-get
when it runs as root (or, with ``CI=true``, with password-less sudo); otherwise the browser tests
are skipped, saying why. With ``CI=true`` they fail instead of being skipped.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from html import unescape
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from sitekit.tools.budget import file_of, measure_page, site_pages
from sitekit.build.hooks import DEFAULT_LANGUAGE, LANGUAGES

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[1]
SCREENSHOTS = ROOT / "build" / "screenshots"
#: Pages photographed in each language (URL path below the language root) -> file name part.
SCREENSHOT_PAGES = {"": "home", "shapes/": "shapes"}
SEARCHES = {"zh": ("广播", "掩码", "步长"), "en": ("broadcasting", "mask", "stride")}

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
CHROMIUM_PATHS = ("/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome")
APT_PACKAGES = ("chromium", "fonts-wqy-microhei")
#: Flags that let Chromium run headless as root in a container, quietly and offline.
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
APT_UPDATE_TIMEOUT_S = 300
APT_INSTALL_TIMEOUT_S = 900
#: After the load event, a page counts as settled once no request has been in flight for this long.
QUIET_S = 0.2
SETTLE_TIMEOUT_S = 10.0
VIEWPORT = {"width": 1280, "height": 800}


# --- Chromium and Playwright ------------------------------------------------------------------

def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


def unavailable(reason: str):
    """Skip, or fail where CI=true: CI must run the browser tests."""
    if in_ci():
        pytest.fail(f"{reason} (CI=true: the browser tests must run)", pytrace=False)
    pytest.skip(reason)


def find_chromium() -> str | None:
    for name in CHROMIUM_NAMES:
        if path := shutil.which(name):
            return path
    return next((p for p in CHROMIUM_PATHS if os.access(p, os.X_OK)), None)


def has_cjk_font() -> bool | None:
    """Whether fontconfig knows a Chinese font (None where fc-list is missing)."""
    if not shutil.which("fc-list"):
        return None
    listing = subprocess.run(["fc-list", ":lang=zh", "family"], capture_output=True, text=True)
    return bool(listing.stdout.strip())


def _installer() -> list[str] | None:
    """The command prefix that may run apt-get here, or None."""
    if not shutil.which("apt-get"):
        return None
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        return []
    if in_ci() and shutil.which("sudo"):
        probe = subprocess.run(["sudo", "-n", "true"], capture_output=True)
        if probe.returncode == 0:
            return ["sudo", "-n"]
    return None


def apt_install(packages: tuple[str, ...]) -> tuple[bool, str]:
    """apt-get update && apt-get install -y `packages`: (succeeded, output tail)."""
    prefix = _installer()
    if prefix is None:
        return False, "needs root (or CI=true with password-less sudo) and apt-get"
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    output = ""
    for command, timeout in ((["apt-get", "update"], APT_UPDATE_TIMEOUT_S),
                             (["apt-get", "install", "-y", *packages],
                              APT_INSTALL_TIMEOUT_S)):
        try:
            result = subprocess.run(prefix + command, capture_output=True, text=True, env=env,
                                    timeout=timeout)
        except subprocess.TimeoutExpired:
            return False, f"{' '.join(command)} took longer than {timeout} s"
        output += result.stdout + result.stderr
        if result.returncode != 0:
            return False, f"{' '.join(command)} failed:\n" + "\n".join(output.splitlines()[-15:])
    return True, "\n".join(output.splitlines()[-5:])


def obtain_chromium() -> str:
    """Chromium's path; installs it where it is missing and can be installed, else skips (fails
    with CI=true)."""
    path = find_chromium()
    if path is None:
        _, output = apt_install(APT_PACKAGES)
        path = find_chromium()
        if path is None:
            unavailable("Chromium is not installed and cannot be installed here "
                        f"(apt-get install {' '.join(APT_PACKAGES)}: {output})")
    elif has_cjk_font() is False:
        apt_install(APT_PACKAGES[1:])  # best effort; test_chinese_renders_as_glyphs_not_boxes judges
    return path


@pytest.fixture(scope="session")
def chromium_path() -> str:
    return obtain_chromium()


@pytest.fixture(scope="session")
def browser(chromium_path):
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("the Python package playwright is not installed (it is in the test extras: "
                    "pip install -e '.[test]')")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def test_without_chromium_the_browser_tests_skip_with_the_reason_or_fail_in_ci(monkeypatch):
    monkeypatch.setattr(f"{__name__}.find_chromium", lambda: None)
    monkeypatch.setattr(f"{__name__}._installer", lambda: None)
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="Chromium is not installed and cannot be installed here"):
        obtain_chromium()
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI=true: the browser tests must run"):
        obtain_chromium()


def test_where_chromium_is_missing_it_is_installed(monkeypatch):
    found = iter([None, "/usr/bin/chromium"])
    commands = []
    monkeypatch.setattr(f"{__name__}.find_chromium", lambda: next(found))
    monkeypatch.setattr(f"{__name__}._installer", lambda: [])
    monkeypatch.setattr(subprocess, "run", lambda command, **kwargs: commands.append((command, kwargs))
                        or subprocess.CompletedProcess(command, 0, "", ""))
    assert obtain_chromium() == "/usr/bin/chromium"
    assert [c for c, _ in commands] == [["apt-get", "update"],
                                        ["apt-get", "install", "-y", *APT_PACKAGES]]
    assert all(kwargs["timeout"] and kwargs["capture_output"] for _, kwargs in commands)


# --- Visiting every page ----------------------------------------------------------------------

def language_of(path: str) -> str:
    for lang in LANGUAGES:
        if lang != DEFAULT_LANGUAGE and path.startswith(f"/{lang}/"):
            return lang
    return DEFAULT_LANGUAGE


def below_root(path: str) -> str:
    """The path below its language root: "/en/shapes/" -> "shapes/"."""
    lang = language_of(path)
    return path[len(lang) + 2:] if lang != DEFAULT_LANGUAGE else path[1:]


def twin(path: str, lang: str) -> str:
    """The same page in language `lang`."""
    return ("/" if lang == DEFAULT_LANGUAGE else f"/{lang}/") + below_root(path)


def search_index_path(lang: str) -> str:
    return "/search/search_index.json" if lang == DEFAULT_LANGUAGE else f"/{lang}/search/search_index.json"


@dataclass
class Visit:
    path: str
    lang: str
    status: int | None = None
    html_lang: str = ""
    console_errors: list[str] = field(default_factory=list)
    failed_requests: list[str] = field(default_factory=list)
    foreign_requests: list[str] = field(default_factory=list)
    local_requests: list[str] = field(default_factory=list)  # URL paths, in order
    unsettled: list[str] = field(default_factory=list)  # requests still in flight at the deadline
    code_blocks: int = 0
    uncopyable: list[str] = field(default_factory=list)
    unrendered_math: list[str] = field(default_factory=list)
    switcher: dict[str, str] = field(default_factory=dict)  # hreflang -> absolute href
    switched_to: str | None = None  # path after clicking the other language's link
    switched_status: int | None = None
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
  const switcher = {};
  for (const a of document.querySelectorAll("a.md-select__link[hreflang]")) switcher[a.getAttribute("hreflang")] = a.href;
  return {htmlLang: document.documentElement.lang, codeBlocks: blocks.length, uncopyable, unrendered, switcher};
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
    """One browser context for the session's pages. Requests to any other host are recorded and
    refused, so nothing leaves the machine; routing also turns the HTTP cache off, so every page
    loads everything it needs, as on a first visit."""
    base = served_site.url
    context = browser.new_context(viewport=VIEWPORT, service_workers="block")
    context.set_default_timeout(15_000)
    # A pattern (not a Python predicate): the browser intercepts only the requests it matches.
    context.route(re.compile("^(?!" + re.escape(base) + "(/|$))"), lambda route: route.abort())
    yield context
    context.close()


def open_page(context, served, path: str, rec: Visit):
    """A new page (tab) with `path` loaded and settled; events go to `rec` while recording[0]."""
    base = served.url
    page = context.new_page()
    in_flight: set = set()
    last_event = [time.monotonic()]
    recording = [True]

    def local(url: str) -> str | None:
        if url.startswith(base + "/"):
            return urlsplit(url).path
        return None

    def on_request(request):
        last_event[0] = time.monotonic()
        in_flight.add(request)
        if not recording[0] or request.url.startswith(("data:", "blob:", "about:")):
            return
        path_ = local(request.url)
        if path_ is None:
            rec.foreign_requests.append(request.url)
        else:
            rec.local_requests.append(path_)

    def on_response(response):
        if recording[0] and response.status >= 400:
            rec.failed_requests.append(f"{response.status} {response.url}")

    def on_done(request):
        last_event[0] = time.monotonic()
        in_flight.discard(request)

    def on_failed(request):
        on_done(request)
        if recording[0] and local(request.url) is not None:
            rec.failed_requests.append(f"{request.failure} {request.url}")

    def on_console(message):
        if recording[0] and message.type == "error":
            rec.console_errors.append(f"console: {message.text}")

    def on_page_error(error):
        if recording[0]:
            rec.console_errors.append(f"page error: {error}")

    page.on("request", on_request)
    page.on("response", on_response)
    page.on("requestfinished", on_done)
    page.on("requestfailed", on_failed)
    page.on("console", on_console)
    page.on("pageerror", on_page_error)

    response = page.goto(base + path, wait_until="load")
    rec.status = response.status if response else None
    # Settle: Material starts its search worker and fetches the index after the load event.
    has_search = page.evaluate("() => !!document.forms.namedItem('search')")
    deadline = time.monotonic() + SETTLE_TIMEOUT_S
    while time.monotonic() < deadline:
        index_loaded = not has_search or any(p.endswith("/search_index.json") for p in rec.local_requests)
        if not in_flight and index_loaded and time.monotonic() - last_event[0] >= QUIET_S:
            break
        page.wait_for_timeout(50)
    else:
        rec.unsettled = [r.url for r in in_flight] or ["(the search index was never requested)"]
    return page, recording


def visit(context, served, path: str) -> Visit:
    lang = language_of(path)
    rec = Visit(path=path, lang=lang)
    page = None
    try:
        page, recording = open_page(context, served, path, rec)
        checks = page.evaluate(PAGE_CHECKS)
        rec.html_lang = checks["htmlLang"]
        rec.code_blocks = checks["codeBlocks"]
        rec.uncopyable = checks["uncopyable"]
        rec.unrendered_math = checks["unrendered"]
        rec.switcher = checks["switcher"]
        if lang == DEFAULT_LANGUAGE and path == "/":
            rec.cjk = page.evaluate(CJK_CHECK)
        if below_root(path) in SCREENSHOT_PAGES:
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            rec.screenshot = SCREENSHOTS / f"{lang}-{SCREENSHOT_PAGES[below_root(path)]}.png"
            page.screenshot(path=str(rec.screenshot))
        # The language switcher: a click on the other language's link (dispatched to the link, which
        # sits in a list that opens on hover) must land on the same page in that language.
        other = next(lang_ for lang_ in LANGUAGES if lang_ != lang)
        links = page.locator(f"a.md-select__link[hreflang='{other}']")
        if links.count():
            recording[0] = False  # what the next page does is that page's own visit
            # Waits for the other page's DOM, not just the commit: closing a page while a
            # navigation commits can hang page.close() in Chromium (microsoft/playwright#42366).
            with page.expect_navigation(wait_until="domcontentloaded") as navigation:
                links.first.dispatch_event("click")
            rec.switched_status = navigation.value.status if navigation.value else None
            rec.switched_to = urlsplit(page.url).path
    except Exception as error:  # noqa: BLE001 - reported by the tests, page by page
        rec.errors.append(f"{type(error).__name__}: {error}")
    finally:
        if page is not None:
            # After an error the page may be mid-navigation, where a waiting close() can hang:
            # then close without waiting (run_before_unload; no page of the site sets a handler).
            page.close(run_before_unload=bool(rec.errors))
    return rec


@pytest.fixture(scope="module")
def visits(context, served_site) -> dict[str, Visit]:
    """Every page of the built site, opened once."""
    started = time.perf_counter()
    result = {path: visit(context, served_site, path) for path in site_pages(served_site.site_dir)}
    print(f"\nvisited {len(result)} pages in {time.perf_counter() - started:.1f} s")
    return result


def offenders(visits: dict[str, Visit], attribute: str) -> list[str]:
    return [f"{v.path}: {item}" for v in visits.values() for item in getattr(v, attribute)]


def test_every_page_was_visited_in_both_languages(visits):
    errors = offenders(visits, "errors") + offenders(visits, "unsettled")
    assert not errors, "\n".join(errors)
    by_lang = {lang: {below_root(p) for p, v in visits.items() if v.lang == lang} for lang in LANGUAGES}
    assert "" in by_lang[DEFAULT_LANGUAGE] and "shapes/" in by_lang[DEFAULT_LANGUAGE]
    for lang in LANGUAGES:
        assert by_lang[lang] == by_lang[DEFAULT_LANGUAGE], f"pages without a twin in {lang}: " \
            f"{sorted(by_lang[lang] ^ by_lang[DEFAULT_LANGUAGE])}"
    wrong = [f"{v.path}: status {v.status}, <html lang={v.html_lang!r}>" for v in visits.values()
             if v.status != 200 or v.html_lang != v.lang]
    assert not wrong, "\n".join(wrong)


def test_no_page_logs_a_console_error_or_page_error(visits):
    found = offenders(visits, "console_errors")
    assert not found, "\n".join(found)


def test_no_request_fails(visits):
    found = offenders(visits, "failed_requests")
    assert not found, "\n".join(found)


def test_no_page_requests_anything_from_another_host(visits):
    found = offenders(visits, "foreign_requests")
    assert not found, "\n".join(found)


def test_each_page_searches_its_own_language(visits):
    wrong = []
    for v in visits.values():
        indexes = [p for p in v.local_requests if p.endswith("/search_index.json")]
        if indexes != [search_index_path(v.lang)]:
            wrong.append(f"{v.path}: loaded {indexes}, expected {search_index_path(v.lang)}")
    assert not wrong, "\n".join(wrong)


def test_language_switcher_lands_on_the_same_page_in_the_other_language(visits, served_site):
    wrong = []
    for v in visits.values():
        for lang in LANGUAGES:
            href = v.switcher.get(lang)
            if href is None or urlsplit(href).path != twin(v.path, lang):
                wrong.append(f"{v.path}: switcher link for {lang} is {href}, expected {twin(v.path, lang)}")
        other = next(lang for lang in LANGUAGES if lang != v.lang)
        if v.switched_to != twin(v.path, other) or v.switched_status != 200:
            wrong.append(f"{v.path}: clicking {other} went to {v.switched_to} "
                         f"(status {v.switched_status}), expected {twin(v.path, other)}")
    assert not wrong, "\n".join(wrong)


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


def test_screenshots_of_home_and_shapes_in_both_languages(visits):
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
                  "is installed (Debian: apt-get install fonts-wqy-microhei)")
        if has_cjk_font() is False:
            unavailable(reason)
        pytest.fail(reason)


# --- Search -----------------------------------------------------------------------------------

def article_text(site_dir: Path, path: str) -> str:
    """The text of a page's article (not its navigation), as a reader sees it."""
    html = file_of(site_dir, path).read_text(encoding="utf-8")
    match = re.search(r'<article class="md-content__inner[^"]*">(.*)</article>', html, re.DOTALL)
    body = match.group(1) if match else html
    body = re.sub(r"<(script|style)\b.*?</\1>", " ", body, flags=re.DOTALL | re.IGNORECASE)
    return unescape(re.sub(r"<[^>]+>", "", body)).replace("\u200b", "")


@pytest.fixture(scope="module")
def search_results(context, served_site) -> dict[tuple[str, str], list[tuple[str, str]]]:
    """(lang, query) -> [(result page path, Material's highlighted terms)], typed into the search
    box of each language's home page."""
    results = {}
    for lang, queries in SEARCHES.items():
        rec = Visit(path=twin("/", lang), lang=lang)
        page, _ = open_page(context, served_site, rec.path, rec)
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
                pages = {}
                for href in hrefs:
                    parts = urlsplit(href)
                    pages.setdefault(parts.path, " ".join(parse_qs(parts.query).get("h", [""])))
                results[lang, query] = list(pages.items())
        finally:
            page.close()
    return results


@pytest.mark.parametrize("lang, query", [(lang, q) for lang, qs in SEARCHES.items() for q in qs])
def test_search_finds_pages_of_its_own_language_that_contain_the_query(search_results, served_site, lang, query):
    results = search_results[lang, query]
    assert results, f"searching {query!r} on the {lang} site found nothing"
    wrong_language = [p for p, _ in results if language_of(p) != lang]
    assert not wrong_language, f"{query!r} on the {lang} site found pages of another language: {wrong_language}"
    without = [f"{p} (Material searched for: {terms!r})" for p, terms in results
               if query.casefold() not in article_text(served_site.site_dir, p).casefold()]
    assert not without, f"{query!r} found pages that do not contain it:\n" + "\n".join(without)
