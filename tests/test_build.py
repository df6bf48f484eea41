"""The built site keeps its promises, checked on its files: every page of docs/ and notebooks/ is
built in every language, with a language switcher that lands on its twin; each language searches
only its own pages. (The strict build itself is checked by the ``site`` fixture of
tests/conftest.py; that nothing is loaded from another host, by tests/test_budget.py.)"""

from __future__ import annotations

import json
import re
from html import unescape
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from sitekit.build.notebooks import sources
from sitekit.site import LANGUAGES, language_of, pages, url_prefix
from sitekit.tools.budget import file_of, search_index_of, site_pages

pytestmark = pytest.mark.build  # the `site` fixture (tests/conftest.py) builds the site once per session

SWITCHER = re.compile(r'<a href="([^"]+)" hreflang="([a-z]{2})" class="md-select__link"')


def page_urls() -> dict[str, dict[str, str]]:
    """Every page the sources make, by name: {"shapes": {"zh": "shapes/", "en": "en/shapes/"}, …},
    URLs below the site root: docs/<name>.<lang>.md and the notebooks/<name>.<lang>.md notebooks."""
    urls: dict[str, dict[str, str]] = {}
    found = [(path.name.split(".")[0], lang) for lang in LANGUAGES for path in pages(lang)]
    found += [(source.name, source.lang) for source in sources()]
    for name, lang in found:
        urls.setdefault(name, {})[lang] = url_prefix(lang) + ("" if name == "index" else f"{name}/")
    return urls


def built_urls(site: Path) -> list[str]:
    """Every page of the built site, as a URL below the site root ("", "en/shapes/")."""
    return [path.lstrip("/") for path in site_pages(site)]


def test_every_page_is_built_in_every_language_with_a_switcher_to_its_twin(site):
    twins = {url: variants for variants in page_urls().values() for url in variants.values()}
    assert sorted(built_urls(site)) == sorted(twins), "the built pages are not those of the sources"
    problems = []
    for url, variants in sorted(twins.items()):
        page = file_of(site, "/" + url)
        html = page.read_text(encoding="utf-8")
        if f'<html lang="{language_of(url)}"' not in html:
            problems.append(f"/{url}: not marked as a page in {language_of(url)}")
        links = {lang: href for href, lang in SWITCHER.findall(html)}
        if set(links) != set(LANGUAGES):
            problems.append(f"/{url}: switcher links for {sorted(links)}, not {sorted(LANGUAGES)}")
        for lang, href in sorted(links.items()):
            # Relative, so that it works under site_url's sub-path and with `mkdocs serve` alike.
            if urlsplit(href).scheme or href.startswith("/"):
                problems.append(f"/{url}: the {lang} switcher link {href!r} is not relative")
                continue
            target = (page.parent / href.split("#")[0]).resolve()
            target = target / "index.html" if target.is_dir() else target
            if lang not in variants or target != file_of(site, "/" + variants[lang]).resolve():
                problems.append(f"/{url}: the {lang} switcher link {href!r} goes to {target}, "
                                f"not to /{variants.get(lang, '(no twin)')}")
    assert not problems, "\n".join(problems)


def test_no_head_link_makes_material_fetch_a_missing_sitemap(site):
    """Material fetches <href>/sitemap.xml for every head link with an hreflang."""
    for url in built_urls(site):
        html = file_of(site, "/" + url).read_text(encoding="utf-8")
        assert not re.search(r'<link rel="alternate"[^>]*hreflang', html), url


def test_each_page_searches_only_the_pages_of_its_language(site):
    problems = []
    for url in built_urls(site):
        lang = language_of(url)
        index = search_index_of(site, "/" + url)
        if index != site / url_prefix(lang) / "search" / "search_index.json":
            problems.append(f"/{url}: searches {index}, not the {lang} index")
    for lang in LANGUAGES:
        index = json.loads((site / url_prefix(lang) / "search" / "search_index.json").read_text(encoding="utf-8"))
        # Searched in its own language, without the stemmer (see sitekit/build/search.py).
        if index["config"]["lang"] != [lang] or index["config"]["pipeline"]:
            problems.append(f"{lang} index: lang {index['config']['lang']}, pipeline {index['config']['pipeline']}")
        entries = {doc["location"]: doc["title"].replace("\u200b", "") for doc in index["docs"]
                   if "#" not in doc["location"]}
        expected = {variants[lang][len(url_prefix(lang)):]: variants for variants in page_urls().values()}
        if sorted(entries) != sorted(expected):
            problems.append(f"{lang} index lists {sorted(entries)}, not {sorted(expected)}")
            continue
        for location, title in sorted(entries.items()):
            # The entry is this language's page, not its twin: its title is in the page's <title>.
            html = file_of(site, "/" + expected[location][lang]).read_text(encoding="utf-8")
            if title not in unescape(re.search(r"<title>(.*?)</title>", html, re.DOTALL).group(1)):
                problems.append(f"{lang} index: {title!r} at /{location} is not the {lang} page's title")
    assert not problems, "\n".join(problems)
    # Chinese is segmented into words at build time (jieba), marked by zero-width spaces.
    zh = json.loads((site / "search" / "search_index.json").read_text(encoding="utf-8"))
    assert "\u200b步长\u200b" in " ".join(doc["text"] for doc in zh["docs"])


def test_search_worker_tries_the_whole_chinese_query_as_one_word(site):
    from sitekit.build.search import CJK_QUERY_LOOP

    (worker,) = (site / "assets" / "javascripts" / "workers").glob("search.*.min.js")
    code = worker.read_text(encoding="utf-8")
    assert not CJK_QUERY_LOOP.search(code), "the off-by-one loop is still there"
    assert len(re.findall(CJK_QUERY_LOOP.pattern.replace("\\1<", "\\1<="), code)) == 1


def test_search_worker_starts_with_the_query_rewriting(site):
    """docs/assets/search-query.js, as it is, right after the worker's "use strict" (see
    sitekit/build/search.py), and before Material's own code."""
    from sitekit.build.search import QUERY_BEGIN, QUERY_END, WORKER_START

    (worker,) = (site / "assets" / "javascripts" / "workers").glob("search.*.min.js")
    code = worker.read_text(encoding="utf-8")
    query = (Path(__file__).parents[1] / "docs" / "assets" / "search-query.js").read_text(encoding="utf-8")
    assert code.startswith(WORKER_START + QUERY_BEGIN + query + QUERY_END + "(()=>{")
    assert code.count(QUERY_END) == 1


def test_patching_the_worker_again_puts_in_the_current_query_rewriting(site, tmp_path):
    """`mkdocs serve` rebuilds without copying the theme's worker again: patching it twice must
    leave one copy of the rewriting, the current one, and the loop fixed once."""
    from sitekit.build.search import CJK_QUERY_LOOP, QUERY_END, QUERY_SCRIPT, patch_worker

    (worker,) = (site / "assets" / "javascripts" / "workers").glob("search.*.min.js")
    copy = tmp_path / worker.relative_to(site)
    copy.parent.mkdir(parents=True)
    copy.write_text(worker.read_text(encoding="utf-8"), encoding="utf-8")
    (tmp_path / QUERY_SCRIPT).write_text("// changed\n", encoding="utf-8")
    code = patch_worker(tmp_path).read_text(encoding="utf-8")
    assert code.count(QUERY_END) == 1 and "// changed\n" + QUERY_END in code
    assert code.split(QUERY_END, 1)[1] == worker.read_text(encoding="utf-8").split(QUERY_END, 1)[1]
    assert not CJK_QUERY_LOOP.search(code)


def test_a_title_word_counts_less_than_in_material_but_more_than_a_word_of_the_text(site):
    """A pasted error message's words in a section's text are not outranked by one title word."""
    for lang in LANGUAGES:
        index = json.loads((site / url_prefix(lang) / "search" / "search_index.json").read_text(encoding="utf-8"))
        fields = index["config"]["fields"]
        assert fields["text"]["boost"] < fields["title"]["boost"] < 1000, (lang, fields)


def test_generated_figures_are_in_the_site_for_both_languages(site):
    words = {"zh": "内存", "en": "memory"}  # a word of the figure's labels in each language
    for lang in LANGUAGES:
        svg = (site / url_prefix(lang) / "assets" / "figures" / "split_heads.svg").read_text(encoding="utf-8")
        assert words[lang] in svg, lang
        html = (site / url_prefix(lang) / "shapes" / "index.html").read_text(encoding="utf-8")
        assert 'src="../assets/figures/split_heads.svg"' in html


def test_headings_have_readable_ids(site):
    html = (site / "shapes" / "index.html").read_text(encoding="utf-8")
    assert 'id="split-heads"' in html
    ids = re.findall(r'<h[1-6] id="([^"]+)"', html)
    assert ids and not [i for i in ids if re.fullmatch(r"_\d*", i)]


def test_the_measured_results_page_shows_the_committed_runs(site):
    """docs/evidence.<lang>.md: each evidence marker became the tables and charts of its results
    file (device and date on the page, the file downloadable), or the note that none is recorded."""
    from figures.evidence import KINDS, load

    for lang in LANGUAGES:
        page = site / url_prefix(lang) / "evidence" / "index.html"
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


def test_a_page_parsed_for_search_before_gives_the_same_entries():
    """The search index reuses the sections of page HTML it has parsed (sitekit/build/search.py):
    a page seen again, or another page with the same HTML, is indexed exactly as Material would."""
    from types import SimpleNamespace

    from material.plugins.search.plugin import SearchIndex
    from mkdocs.config import load_config
    from mkdocs.structure.toc import get_toc

    from sitekit.build.search import keep_parsed_sections

    config = load_config(str(Path(__file__).resolve().parents[1] / "mkdocs.yml"))
    plugin = config.plugins["material/search"]
    plugin.on_config(config)
    html = '<h1 id="t">步长 Strides</h1><p>view 不复制。</p><h2 id="s">Section</h2><p>Text <code>x</code>.</p>'
    toc = get_toc([{"level": 1, "id": "t", "name": "步长 Strides", "children": [
        {"level": 2, "id": "s", "name": "Section", "children": []}]}])
    page = SimpleNamespace(content=html, toc=toc, url="shapes/", title="步长", meta={})
    material = SearchIndex(**plugin.config)
    material.add_entry_from_context(page)
    keep_parsed_sections(config)
    for _ in range(2):  # parsed, then reused
        plugin.search_index.entries.clear()
        plugin.search_index.add_entry_from_context(page)
        assert plugin.search_index.entries == material.entries
    assert len(material.entries) == 2
