"""Reading the built site: on a 390 px phone and on a 1366 px laptop, in headless Chromium.

Measured on every page of both languages, each against its goal:

* figures: the smallest text of each figure as rendered (the SVG's font size times the scale the
  page draws it at); on a phone at least ``PHONE_MIN_PX``, directly or in the view that opens when
  the figure is tapped; on a laptop at least ``LAPTOP_MIN_PX`` as the page shows it;
* code blocks (``pre > code`` and the notebook's input and output cells) that scroll sideways on a
  laptop: at most ``MAX_SCROLLING`` of them, and none cut off without a way to scroll;
* English interface words (visible, or in a title, aria-label or placeholder) on Chinese pages: none;
* the language switcher, clicked from any section of a page, leads to the same section of the twin;
* stray spaces between Chinese characters or punctuation in Chinese text: none;
* evidence tables: every column readable at both widths (the table fits, or its first column stays
  in view while it scrolls), and no heading promises memory figures that its section lacks.

Each test prints one summary line per language, so the numbers can be quoted. The same measurement
runs on any built site: ``python3 tests/test_reading.py SITE_DIR`` prints the summary lines.
"""

from __future__ import annotations

import re
import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # also run as a script

from sitekit.site import LANGUAGES, language_of
from sitekit.testing.browser import launch, local_context, serve
from sitekit.tools.budget import file_of, site_pages

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
LAPTOP = {"width": 1366, "height": 768}
PHONE_MIN_PX = 11.0
LAPTOP_MIN_PX = 9.0
MAX_SCROLLING = 0.10  # fraction of a language's code blocks that may scroll sideways on a laptop
PARALLEL_PAGES = 4
#: Interface words that are the same in every language: the other language's name in the switcher.
SAME_IN_EVERY_LANGUAGE = {"English"}

#: Run in each page: what it shows, at the context's viewport. `figures` gives each SVG figure's
#: rendered width; `code` the code blocks that scroll or are cut off; `ui` English interface words;
#: `spaces` stray spaces in Chinese text; `tables` the evidence tables; `ids` the heading ids.
PAGE_SCRIPT = r"""() => {
  const article = document.querySelector("article.md-content__inner") || document.body;
  const figures = [...article.querySelectorAll("img")].filter(img => /\.svg($|\?)/.test(img.getAttribute("src")))
    .map((img, i) => ({i, src: new URL(img.getAttribute("src"), location.href).pathname,
                       width: img.getBoundingClientRect().width,
                       tappable: !!img.closest("a.glightbox, a[data-type=image]")}));

  // Code blocks: Material's `pre > code` (the code element scrolls), a notebook input cell's `pre`.
  const blocks = [...article.querySelectorAll("pre > code")];
  for (const pre of article.querySelectorAll(".jp-InputArea pre")) if (!pre.querySelector(":scope > code")) blocks.push(pre);
  const code = {total: blocks.length, scrolling: [], cut: []};
  const first = el => el.textContent.trim().split("\n")[0].slice(0, 50);
  for (const el of blocks) {
    for (const box of [el, el.parentElement]) {
      if (box.scrollWidth <= box.clientWidth + 1) continue;
      const ox = getComputedStyle(box).overflowX;
      (ox === "auto" || ox === "scroll" ? code.scrolling : code.cut).push(first(el));
      break;
    }
  }

  // English interface words: attributes anywhere, and the text of the interface (not the content).
  const ui = [];
  if (document.documentElement.lang.startsWith("zh")) {
    const latin = /[A-Za-z]{2,}/, cjk = /[\u3400-\u9fff]/;
    // A page's or section's title, named in a navigation label, is content, not interface.
    const titles = new Set([...document.querySelectorAll(".md-nav__link, article :is(h1, h2, h3, h4, h5, h6)")]
      .map(el => el.textContent.replace("¶", "").trim()));
    for (const el of document.querySelectorAll("[title], [aria-label], [placeholder]")) {
      for (const name of ["title", "aria-label", "placeholder"]) {
        const v = (el.getAttribute(name) || "").trim();
        if (latin.test(v) && !cjk.test(v) && !titles.has(v)) ui.push(`${name}="${v}"`);
      }
    }
    const chrome = ".md-header, .md-footer, .md-top, .md-skip, .md-nav__title, .md-search, .md-dialog, " +
      "button, label, .headerlink, .md-clipboard, .md-source__facts";
    for (const el of document.querySelectorAll(chrome)) {
      for (const node of el.childNodes) {
        const v = node.nodeType === Node.TEXT_NODE ? node.textContent.trim() : "";
        if (latin.test(v) && !cjk.test(v) && el.closest(".md-source, .md-header__topic, .md-select") === null) ui.push(`text "${v}"`);
      }
    }
  }

  // Stray spaces in Chinese: the text of each block, code and math replaced by a non-Chinese mark.
  const spaces = [];
  if (document.documentElement.lang.startsWith("zh")) {
    const BLOCK = "p, li, td, th, h1, h2, h3, h4, h5, h6, dt, dd, figcaption, summary, .admonition-title";
    const SKIP = "pre, code, kbd, .arithmatex, .katex, mjx-container, .headerlink, script, style";
    const own = block => {
      let s = "";
      const walk = node => {
        for (const child of node.childNodes) {
          if (child.nodeType === Node.TEXT_NODE) s += child.textContent;
          else if (child.nodeType !== Node.ELEMENT_NODE) continue;
          else if (child.matches(SKIP)) s += "\u0001";
          else if (child.matches(BLOCK)) s += "\n\u0001\n";
          else walk(child);
        }
      };
      walk(block);
      return s.replace(/\s+/g, " ");
    };
    const C = "\u3400-\u9fff\uf900-\ufaff\u3000-\u303f\uff01-\uff0f\uff1a-\uff20\uff3b-\uff40\uff5b-\uff65";
    const stray = new RegExp(`[${C}] +[${C}]`, "g");
    for (const block of article.querySelectorAll(BLOCK)) {
      const s = own(block);
      for (const m of s.matchAll(stray)) spaces.push(s.slice(Math.max(0, m.index - 6), m.index + m[0].length + 6).replace(/\u0001/g, "…"));
    }
  }

  // Tables: how many columns show, and whether the first stays in view once scrolled to the end.
  const tables = [];
  for (const table of article.querySelectorAll("table")) {
    let box = table;
    while (box && box !== article && !(box.scrollWidth > box.clientWidth + 1 && /auto|scroll/.test(getComputedStyle(box).overflowX))) box = box.parentElement;
    const scroller = box && box !== article ? box : null;
    const head = [...(table.tHead ? table.tHead.rows[0].cells : table.rows[0].cells)];
    const view = (scroller || article).getBoundingClientRect();
    const right = Math.min(view.right, window.innerWidth), left = Math.max(view.left, 0);
    const shown = () => head.filter(c => { const r = c.getBoundingClientRect(); return r.width > 0 && r.left >= left - 1 && r.right <= right + 1; }).length;
    const before = shown();
    let firstKept = true;
    if (scroller) {
      const keep = scroller.scrollLeft;
      scroller.scrollLeft = scroller.scrollWidth;
      const r = head[0].getBoundingClientRect();
      firstKept = r.left >= left - 1 && r.right <= right + 1;
      scroller.scrollLeft = keep;
    }
    tables.push({label: head.map(c => c.textContent.trim()).join(" | ").slice(0, 60), columns: head.length,
                 shown: before, scrolls: !!scroller, firstKept});
  }

  // Sections whose heading promises memory figures: does the section show any (MiB)?
  const memory = [];
  const heads = [...article.querySelectorAll("h2, h3, h4")];
  heads.forEach((h, i) => {
    if (!/memory|显存|内存/i.test(h.textContent)) return;
    let text = "";
    for (let el = h.nextElementSibling; el && el !== heads[i + 1] && !(/^H[1-4]$/.test(el.tagName)); el = el.nextElementSibling) {
      text += el.textContent + " " + [...el.querySelectorAll("img")].map(img => img.alt).join(" ");
    }
    if (/evidence/.test(location.pathname) && !/MiB|显存|memory/i.test(text)) memory.push(h.textContent.replace("¶", "").trim());
  });

  // Sections below the page's title (whose twin is the top of the other page).
  const ids = [...article.querySelectorAll("h2[id], h3[id], h4[id], h5[id], h6[id]")].map(h => h.id);
  return {figures, code, ui, spaces, tables, memory, ids};
}"""

#: For each heading id, the address the switcher's link to the other language opens (the test's
#: click handler notes it and cancels the navigation) when the reader is at that section: arrived
#: by a link to it (`#id`: the browser scrolls there), and, where the heading can reach the top of
#: the window, scrolled there with no `#id` in the address (its top just under the header).
#: Synchronous: the switcher must know the section when it is clicked.
SWITCH_SCRIPT = r"""([ids, lang]) => {
  const link = [...document.querySelectorAll(".md-select__link[hreflang]")].find(a => a.hreflang === lang);
  const found = {};
  if (!link) return found;
  let href = null;
  const catcher = event => { href = event.target.closest("a").href; event.preventDefault(); };
  const click = () => { href = null; link.click(); return href; };
  const header = document.querySelector(".md-header");
  const under = (header ? header.getBoundingClientRect().bottom : 0) + 16;
  window.addEventListener("click", catcher);
  for (const id of ids) {
    const heading = document.getElementById(id);
    location.hash = "#" + encodeURIComponent(id);
    const byLink = click();
    history.replaceState(null, "", location.pathname);
    window.scrollBy(0, heading.getBoundingClientRect().top - under);
    const reached = Math.abs(heading.getBoundingClientRect().top - under) < 2;
    found[id] = [byLink, reached ? click() : byLink];
  }
  window.removeEventListener("click", catcher);
  window.scrollTo(0, 0);
  return found;
}"""


@dataclass
class Reading:
    """What one viewport showed of every page."""
    pages: dict = field(default_factory=dict)  # path -> PAGE_SCRIPT's result
    opened: dict = field(default_factory=dict)  # (path, figure index) -> width when opened on tap
    switched: dict = field(default_factory=dict)  # (path, id) -> hrefs the switcher opened


def svg_facts(site_dir: Path, url_path: str) -> tuple[float, float]:
    """(width of the viewBox, smallest font size in its units) of a built SVG figure."""
    root = ET.parse(file_of(site_dir, url_path)).getroot()
    width = float(root.get("viewBox").split()[2])
    sizes = []

    def walk(el, inherited: float) -> None:
        size = inherited
        style = dict(p.split(":", 1) for p in (el.get("style") or "").replace(" ", "").split(";") if ":" in p)
        value = style.get("font-size") or el.get("font-size")
        if value:
            size = float(re.match(r"[\d.]+", value).group())
        if el.tag.split("}")[-1] in ("text", "tspan") and (el.text or "").strip():
            sizes.append(size)
        for child in el:
            walk(child, size)

    walk(root, 16.0)
    return width, min(sizes) if sizes else float("inf")


def other_language(lang: str) -> str:
    return next(other for other in LANGUAGES if other != lang)


def read_site(browser, base: str, site_dir: Path, viewport: dict, switcher: bool = False) -> Reading:
    """Every page at `viewport` (on a phone, those with a figure or table), PARALLEL_PAGES at a
    time; on a phone, figures too small on the page are tapped open; with `switcher`, the language
    switcher is clicked from every heading."""
    reading = Reading()
    phone = viewport["width"] < 600
    # Nothing from another host; and no search (its worker and index are not what is read here).
    context = local_context(browser, base, viewport, refuse_also="/search_index\\.json$|/workers/")
    try:
        paths = [p for p in site_pages(site_dir) if not phone or re.search(
            r'<table|<img[^>]+\.svg"', file_of(site_dir, p).read_text(encoding="utf-8"))]
        for start in range(0, len(paths), PARALLEL_PAGES):
            opened = []
            for path in paths[start : start + PARALLEL_PAGES]:
                page = context.new_page()
                page.goto(base + path, wait_until="commit")
                opened.append((path, page))
            for path, page in opened:
                page.wait_for_load_state("load")
                page.evaluate("() => document.fonts.ready")
                result = reading.pages[path] = page.evaluate(PAGE_SCRIPT)
                goal = PHONE_MIN_PX if phone else LAPTOP_MIN_PX
                for fig in result["figures"]:
                    box, smallest = svg_facts(site_dir, fig["src"])
                    if phone and fig["tappable"] and smallest * fig["width"] / box < goal:
                        reading.opened[path, fig["i"]] = tap_open(page, fig)
                if switcher:
                    lang = other_language(language_of(path[1:]))
                    for id_, href in page.evaluate(SWITCH_SCRIPT, [result["ids"], lang]).items():
                        reading.switched[path, id_] = href
                page.close()
    finally:
        context.close()
    return reading


#: The width of the largest copy of a figure shown outside the article (a lightbox's), or 0.
OPENED_WIDTH = """(src) => Math.max(0, ...[...document.querySelectorAll("img")]
  .filter(img => new URL(img.getAttribute("src"), location.href).pathname === src
                 && !img.closest("article.md-content__inner"))
  .map(img => img.offsetWidth))"""  # layout width: an opening animation's transform aside


def tap_open(page, fig: dict) -> float:
    """Taps a figure and returns the width it is then shown at, once its opening animation is
    over (the same width twice, 100 ms apart); 0 when nothing opens within 3 s."""
    images = page.locator("article.md-content__inner img")
    svgs = [i for i in range(images.count()) if re.search(r"\.svg($|\?)", images.nth(i).get_attribute("src") or "")]
    target = images.nth(svgs[fig["i"]])
    target.scroll_into_view_if_needed()
    target.tap()
    widths = [0.0]
    for _ in range(30):
        page.wait_for_timeout(100)
        widths.append(page.evaluate(OPENED_WIDTH, fig["src"]))
        if widths[-1] > 0 and widths[-1] == widths[-2]:
            break
    page.keyboard.press("Escape")
    page.wait_for_function(f"() => ({OPENED_WIDTH})({fig['src']!r}) === 0", timeout=3000)
    return widths[-1] if widths[-1] == widths[-2] else 0.0


def ids_of(site_dir: Path, path: str) -> set[str]:
    return set(re.findall(r'\sid="([^"]+)"', file_of(site_dir, path).read_text(encoding="utf-8")))


# --- The measurements, per language: each returns (summary line, offenders) ----------------------

def figure_sizes(reading: Reading, site_dir: Path, lang: str, goal: float, label: str):
    smallest, offenders = [], []
    for path, result in reading.pages.items():
        if language_of(path[1:]) != lang:
            continue
        for fig in result["figures"]:
            box, font = svg_facts(site_dir, fig["src"])
            shown = font * fig["width"] / box
            opened = font * reading.opened.get((path, fig["i"]), 0.0) / box
            best = max(shown, opened)
            smallest.append(best)
            if best < goal:
                offenders.append(f"{fig['src']}: {shown:.1f} px on the page"
                                 + (f", {opened:.1f} px opened" if (path, fig["i"]) in reading.opened else ", does not open"))
    opened_count = sum(1 for (p, _), w in reading.opened.items() if language_of(p[1:]) == lang and w > 0)
    line = (f"{label} {lang}: {len(smallest)} figures, smallest text {min(smallest, default=0):.1f}–"
            f"{max(smallest, default=0):.1f} px (goal >= {goal:g}), {len(offenders)} below, {opened_count} opened on tap")
    return line, offenders


def code_scrolling(reading: Reading, lang: str):
    total, scrolling, cut = 0, [], []
    for path, result in reading.pages.items():
        if language_of(path[1:]) == lang:
            total += result["code"]["total"]
            scrolling += [f"{path}: {s}" for s in result["code"]["scrolling"]]
            cut += [f"{path}: {s}" for s in result["code"]["cut"]]
    share = len(scrolling) / total if total else 0.0
    line = (f"code at 1366 px {lang}: {len(scrolling)} of {total} blocks scroll sideways ({share:.0%}, "
            f"goal <= {MAX_SCROLLING:.0%}), {len(cut)} cut off")
    return line, share, scrolling, cut


def english_words(reading: Reading, lang: str):
    found = [f"{path}: {w}" for path, r in reading.pages.items() if language_of(path[1:]) == lang
             for w in r["ui"] if w.split('"')[1] not in SAME_IN_EVERY_LANGUAGE]
    kinds = sorted({w.split(": ", 1)[1] for w in found})
    return f"English interface words {lang}: {len(found)} ({', '.join(kinds[:6])})", found


def switcher_sections(reading: Reading, site_dir: Path, base: str, lang: str):
    kept, lost = 0, []
    for (path, id_), hrefs in reading.switched.items():
        if language_of(path[1:]) != lang:
            continue
        wrong = []
        for how, href in zip(("by a link", "scrolled"), hrefs):
            target = href and re.sub("^" + re.escape(base), "", href)
            twin, _, hash_ = (target or "").partition("#")
            if not (target and unquote(hash_) == id_ and id_ in ids_of(site_dir, twin)):
                wrong.append(f"{how}: {target}")
        if wrong:
            lost.append(f"{path}#{id_} -> {'; '.join(wrong)}")
        else:
            kept += 1
    total = kept + len(lost)
    return f"language switcher {lang}: keeps the section from {kept} of {total} headings", lost


def stray_spaces(reading: Reading, lang: str):
    found = [f"{path}: {s!r}" for path, r in reading.pages.items() if language_of(path[1:]) == lang for s in r["spaces"]]
    pages = sorted({f.split(":")[0] for f in found})
    return f"stray spaces in Chinese {lang}: {len(found)} (pages: {', '.join(pages)})", found


def evidence_tables(readings: dict, lang: str):
    offenders, counts = [], []
    for label, reading in readings.items():
        for path, r in reading.pages.items():
            if language_of(path[1:]) != lang or "/evidence/" not in path:
                continue
            for t in r["tables"]:
                counts.append(f"{t['shown']}/{t['columns']}")
                if t["shown"] < t["columns"] and not t["firstKept"]:
                    offenders.append(f"{label} {path}: [{t['label']}] {t['shown']} of {t['columns']} columns "
                                     "in view, and the first scrolls away")
            offenders += [f"{path}: heading {h!r} promises memory figures its section lacks" for h in r["memory"]]
    line = f"evidence tables {lang}: {len(offenders)} unreadable (columns in view, 390 then 1366: {' '.join(counts)})"
    return line, offenders


def read_both(browser, base: str, site_dir: Path) -> dict[str, Reading]:
    return {"390 px": read_site(browser, base, site_dir, PHONE),
            "1366 px": read_site(browser, base, site_dir, LAPTOP, switcher=True)}


# --- Tests ---------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def readings(browser, served_site) -> dict[str, Reading]:
    return read_both(browser, served_site.url, served_site.site_dir)


def report(line: str) -> None:
    print("\n" + line, end="")


@pytest.mark.parametrize("lang", LANGUAGES)
def test_figure_text_is_legible_on_a_phone_and_a_laptop(readings, served_site, lang):
    problems = []
    for label, goal in (("390 px", PHONE_MIN_PX), ("1366 px", LAPTOP_MIN_PX)):
        line, offenders = figure_sizes(readings[label], served_site.site_dir, lang, goal, f"figures at {label}")
        report(line)
        problems += [f"{label}: {o}" for o in offenders]
    assert readings["390 px"].pages, "no page was read"
    assert not problems, "figures whose smallest text is too small:\n" + "\n".join(problems)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_few_code_blocks_scroll_sideways_on_a_laptop_and_none_is_cut_off(readings, lang):
    line, share, scrolling, cut = code_scrolling(readings["1366 px"], lang)
    report(line)
    assert not cut, "code blocks cut off without a scroll bar:\n" + "\n".join(cut)
    assert share <= MAX_SCROLLING, "code blocks that scroll sideways:\n" + "\n".join(scrolling)


def test_chinese_pages_have_no_english_interface_words(readings):
    line, found = english_words(readings["1366 px"], "zh")
    report(line)
    assert not found, "\n".join(found)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_language_switcher_keeps_the_section(readings, served_site, lang):
    line, lost = switcher_sections(readings["1366 px"], served_site.site_dir, served_site.url, lang)
    report(line)
    assert " of 0 " not in line, "no heading was checked"
    assert not lost, "the switcher loses the section:\n" + "\n".join(lost)


def test_chinese_text_has_no_stray_spaces(readings):
    line, found = stray_spaces(readings["1366 px"], "zh")
    report(line)
    assert not found, "\n".join(found)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_evidence_tables_are_readable_on_a_phone_and_a_laptop(readings, lang):
    line, offenders = evidence_tables(readings, lang)
    report(line)
    assert not offenders, "\n".join(offenders)


def test_the_switcher_takes_a_reader_to_the_same_section(browser, served_site):
    """End to end, once per language: a real click on the switcher opens the twin at the section."""
    context = browser.new_context(viewport=LAPTOP, service_workers="block")
    context.set_default_timeout(15_000)
    try:
        for path, id_ in (("/masking/", "fp16"), ("/en/masking/", "fp16")):
            page = context.new_page()
            page.goto(served_site.url + path)
            page.evaluate("id => document.getElementById(id).scrollIntoView()", id_)
            page.hover(".md-select")  # the switcher's list opens on hover
            with page.expect_navigation(wait_until="load"):
                page.click(f".md-select__link[hreflang]:not([hreflang='{language_of(path[1:])}'])")
            top = page.evaluate("id => document.getElementById(id)?.getBoundingClientRect().top", id_)
            assert page.url.endswith(f"#{id_}") and top is not None and 0 <= top < 200, (path, page.url, top)
            page.close()
    finally:
        context.close()


def test_the_stray_space_check_finds_spaces_between_chinese_characters(browser):
    """The checks above are not vacuous: a space between Chinese characters is found, one beside
    code is not."""
    context = browser.new_context()
    try:
        page = context.new_page()
        page.set_content('<html lang="zh"><body><article class="md-content__inner">'
                         '<p>形状： 每个 <code>x</code> 单元格。 请</p><p>用 <code>view</code> 看</p></article></body></html>')
        found = page.evaluate(PAGE_SCRIPT)["spaces"]
    finally:
        context.close()
    assert len(found) == 2 and "形状： 每个" in found[0] and "单元格。 请" in found[1], found


# --- One-off measurement of any built site -----------------------------------------------------

def main(site_dir: Path, details: int = 0) -> None:
    """Prints the summary lines, each with its first `details` offenders."""
    with serve(site_dir) as base, launch() as browser:
        readings = read_both(browser, base, site_dir)

    def show(line, offenders):
        print(line)
        for offender in offenders[:details]:
            print("    " + offender)

    for lang in LANGUAGES:
        for label, goal in (("390 px", PHONE_MIN_PX), ("1366 px", LAPTOP_MIN_PX)):
            show(*figure_sizes(readings[label], site_dir, lang, goal, f"figures at {label}"))
        line, _, scrolling, cut = code_scrolling(readings["1366 px"], lang)
        show(line, cut + scrolling)
        if lang == "zh":
            show(*english_words(readings["1366 px"], lang))
            show(*stray_spaces(readings["1366 px"], lang))
        show(*switcher_sections(readings["1366 px"], site_dir, base, lang))
        show(*evidence_tables(readings, lang))


if __name__ == "__main__":
    main(Path(sys.argv[1]), int(sys.argv[2]) if len(sys.argv) > 2 else 0)
