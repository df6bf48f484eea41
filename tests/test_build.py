"""The strict site build runs inside the test command, and the built site keeps its promises:
both languages, a language switcher to the same page, one search index per language, and nothing
loaded from another host."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"

pytestmark = pytest.mark.build  # the `site` fixture (tests/conftest.py) builds the site once per session


def page_urls() -> list[tuple[str, str]]:
    """(zh path, en path) in the built site for every page pair in docs/ and every notebook
    (notebooks/<name>.zh.md, a page at <name>/)."""
    pairs = []
    stems = [page.name[: -len(".zh.md")] for page in sorted(DOCS.glob("*.zh.md"))]
    stems += [path.name[: -len(".zh.md")] for path in sorted((ROOT / "notebooks").glob("*.zh.md"))]
    for stem in stems:
        rel = "index.html" if stem == "index" else f"{stem}/index.html"
        pairs.append((rel, f"en/{rel}"))
    return pairs


def test_strict_build_has_no_warnings(site):
    assert (site / "index.html").is_file()


@pytest.mark.parametrize("zh, en", page_urls())
def test_both_languages_are_built_with_a_switcher_to_the_same_page(site, zh, en):
    for path, lang, other, other_path in ((zh, "zh", "en", en), (en, "en", "zh", zh)):
        html = (site / path).read_text(encoding="utf-8")
        assert f'<html lang="{lang}"' in html
        switch = re.search(rf'<a href="([^"]+)" hreflang="{other}" class="md-select__link"', html)
        assert switch, f"{path}: no language switcher link to {other}"
        target = (site / path).parent / switch.group(1)
        if switch.group(1).startswith("/"):
            target = site / switch.group(1).lstrip("/")
        target = target.resolve()
        if target.is_dir():
            target = target / "index.html"
        assert target == (site / other_path).resolve(), f"{path}: switcher goes to {target}"


class _Resources(HTMLParser):
    """Collect every URL a page would load (not the links a reader may follow)."""

    LOADS = {("script", "src"), ("img", "src"), ("source", "src"), ("iframe", "src"),
             ("link", "href"), ("video", "src"), ("audio", "src"), ("embed", "src"), ("object", "data")}

    def __init__(self):
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        for t, attr in self.LOADS:
            if tag == t and attrs.get(attr):
                if tag == "link" and attrs.get("rel") in ("canonical", "alternate"):
                    continue
                self.urls.append(attrs[attr])
        if attrs.get("srcset"):
            self.urls += [part.split()[0] for part in attrs["srcset"].split(",")]
        if attrs.get("style"):
            self.urls += re.findall(r"url\(\s*['\"]?([^'\")]+)", attrs["style"])


EXTERNAL = re.compile(r"^(?:[a-z][a-z0-9+.-]*:)?//", re.IGNORECASE)


def test_no_page_loads_anything_from_another_host(site):
    offenders = []
    for html_file in site.rglob("*.html"):
        parser = _Resources()
        parser.feed(html_file.read_text(encoding="utf-8"))
        offenders += [f"{html_file.relative_to(site)}: {u}" for u in parser.urls if EXTERNAL.match(u)]
    for css in site.rglob("*.css"):
        text = css.read_text(encoding="utf-8")
        urls = re.findall(r"url\(\s*['\"]?([^'\")]+)", text) + re.findall(r"@import\s+['\"]([^'\"]+)", text)
        offenders += [f"{css.relative_to(site)}: {u}" for u in urls if EXTERNAL.match(u)]
    assert not offenders, "\n".join(offenders)
    # Material without `theme.font: false` would link Google Fonts: make sure none is mentioned.
    assert not any("fonts.googleapis" in p.read_text(encoding="utf-8") for p in site.rglob("*.html"))


def test_no_head_link_makes_material_fetch_a_missing_sitemap(site):
    for html_file in site.rglob("*.html"):
        html = html_file.read_text(encoding="utf-8")
        assert not re.search(r'<link rel="alternate"[^>]*hreflang', html), html_file


def test_one_search_index_per_language(site):
    zh = json.loads((site / "search" / "search_index.json").read_text(encoding="utf-8"))
    en = json.loads((site / "en" / "search" / "search_index.json").read_text(encoding="utf-8"))
    zh_pages = {d["location"].split("#")[0] for d in zh["docs"]}
    en_pages = {d["location"].split("#")[0] for d in en["docs"]}
    expected = {"" if p == "index.html" else p[: -len("index.html")] for p, _ in page_urls()}
    assert zh_pages == expected and en_pages == expected
    zh_text = " ".join(d["text"] + d["title"] for d in zh["docs"])
    en_text = " ".join(d["text"] + d["title"] for d in en["docs"])
    # Chapter titles belong to one language (the glossaries mix terms, not titles).
    zh_text, en_text = zh_text.replace("\u200b", ""), en_text.replace("\u200b", "")
    assert "形状与内存" in zh_text and "形状与内存" not in en_text
    assert "Shapes and memory" in en_text and "Shapes and memory" not in zh_text
    # Chinese is segmented into words at build time (jieba), marked by zero-width spaces.
    assert "\u200b步长\u200b" in " ".join(d["text"] for d in zh["docs"])
    # Each index is searched in its own language, without the stemmer (see sitekit/build/hooks.py).
    assert (zh["config"]["lang"], en["config"]["lang"]) == (["zh"], ["en"])
    assert zh["config"]["pipeline"] == en["config"]["pipeline"] == []
    # English pages search the English index: their base is the /en/ root.
    html = (site / "en" / "shapes" / "index.html").read_text(encoding="utf-8")
    assert '"base": ".."' in html


def test_generated_figures_are_in_the_site_for_both_languages(site):
    zh = (site / "assets" / "figures" / "split_heads.svg").read_text(encoding="utf-8")
    en = (site / "en" / "assets" / "figures" / "split_heads.svg").read_text(encoding="utf-8")
    assert "内存" in zh and "memory" in en
    for lang in ("", "en/"):
        html = (site / lang / "shapes" / "index.html").read_text(encoding="utf-8")
        assert 'src="../assets/figures/split_heads.svg"' in html


def test_headings_have_readable_ids(site):
    html = (site / "shapes" / "index.html").read_text(encoding="utf-8")
    assert 'id="split-heads"' in html
    ids = re.findall(r'<h[1-6] id="([^"]+)"', html)
    assert ids and not [i for i in ids if re.fullmatch(r"_\d*", i)]


def test_search_worker_tries_the_whole_chinese_query_as_one_word(site):
    from sitekit.build.hooks import CJK_QUERY_LOOP

    (worker,) = (site / "assets" / "javascripts" / "workers").glob("search.*.min.js")
    code = worker.read_text(encoding="utf-8")
    assert not CJK_QUERY_LOOP.search(code), "the off-by-one loop is still there"
    assert len(re.findall(CJK_QUERY_LOOP.pattern.replace("\\1<", "\\1<="), code)) == 1


def test_the_measured_results_page_shows_the_committed_runs(site):
    """docs/evidence.<lang>.md: each evidence marker became the tables and charts of its results
    file (device and date on the page, the file downloadable), or the note that none is recorded."""
    from figures.evidence import KINDS, load

    for lang, prefix in (("zh", ""), ("en", "en/")):
        page = site / prefix / "evidence" / "index.html"
        html = page.read_text(encoding="utf-8")
        assert "<!-- evidence:" not in html
        for kind in KINDS:
            results = load(kind)
            if results is None:
                assert f"docs/assets/evidence/{kind}.json</code>" in html, (lang, kind)
                continue
            meta = results["metadata"]
            assert meta["device_name"] in html and meta["date_utc"] in html, (lang, kind)
            assert f'id="{kind}-loop"' in html and f'id="{kind}-peak"' in html
            link = re.search(rf'<a download="download" href="([^"]*{kind}\.json)"|<a href="([^"]*{kind}\.json)" download', html)
            assert link, (lang, kind)
            target = (page.parent / (link.group(1) or link.group(2))).resolve()
            assert json.loads(target.read_text(encoding="utf-8")) == results
            for chart in ("speedup", "attention_time"):
                assert f'src="../assets/figures/evidence_{kind}_{chart}.svg"' in html
                svg = (page.parent / f"../assets/figures/evidence_{kind}_{chart}.svg").resolve()
                assert meta["date_utc"] in svg.read_text(encoding="utf-8")
