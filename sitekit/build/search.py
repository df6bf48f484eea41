"""Search per language: each language's pages search only that language's pages.

The i18n plugin gives Material one search index for the whole site, so a reader of the English
pages gets Chinese results and vice versa: Material's search reads one fixed path,
``search/search_index.json`` (upstream: mkdocs-static-i18n issue #271). After the whole build,
:func:`split_index` writes ``search/`` with the Chinese pages and ``en/search/`` with the English
ones, and :func:`rebase` points the English pages' search at ``en/`` (Material's ``__config.base``).

Queries as readers type them: :func:`patch_worker` puts ``assets/search-query.js`` at the top of
Material's search worker; it rewrites each query before Material reads it (Chinese cut into the
index's words, lunr's syntax such as a leading ``-`` read as part of the word, abbreviations).
Material 9 has no setting for this: its ``__search.transform`` hook of earlier versions is gone.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
from pathlib import Path

from sitekit import site

CONFIG_SCRIPT = re.compile(r'(<script id="__config" type="application/json">)(.*?)(</script>)', re.DOTALL)

#: Material's search worker splits a Chinese query into the index's words, but its loop stops one
#: character short (`o < t.length`), so the whole query is never tried as a word: 步长 is searched
#: as 步. The fix is one character; the pattern must match exactly once, so that an upgrade of
#: Material that changes this code stops the build instead of silently undoing the fix.
CJK_QUERY_LOOP = re.compile(r"for\(let (\w)=(\w)\+1;\1<(\w)\.length;\1\+\+\)\3\.slice\(\2,\1\)in ")

#: The query rewriting put into the worker (docs/assets/search-query.js), below the site root.
QUERY_SCRIPT = "assets/search-query.js"
#: The worker's first statement; the rewriting goes right after it, so all of it stays strict code.
WORKER_START = '"use strict";'
QUERY_BEGIN = f"\n/* {QUERY_SCRIPT} */\n"
QUERY_END = "\n;/* Material's search worker */\n"  # ";": the two scripts stay two statements


def rebase(html: str, url: str) -> str:
    """A page of a non-default language: Material's ``base`` becomes its language root."""
    lang = site.language_of(url)
    if lang == site.DEFAULT_LANGUAGE:
        return html
    depth = url[len(site.url_prefix(lang)) :].count("/")  # "en/shapes/" -> 1, "en/" -> 0
    base = "/".join([".."] * depth) or "."

    def replace(match: re.Match) -> str:
        material_config = json.loads(match.group(2))
        material_config["base"] = base
        return match.group(1) + json.dumps(material_config) + match.group(3)

    html, count = CONFIG_SCRIPT.subn(replace, html, count=1)
    if count != 1:
        raise RuntimeError(f"{url}: Material's __config block not found; search cannot be split")
    return html


def split_index(site_dir: Path) -> dict[str, int]:
    """Split the combined search index into one index per language; returns entries per language."""
    combined = json.loads((site_dir / "search" / "search_index.json").read_text(encoding="utf-8"))
    per_language: dict[str, list] = {lang: [] for lang in site.LANGUAGES}
    for doc in combined["docs"]:
        lang = site.language_of(doc["location"])
        prefix = site.url_prefix(lang)
        per_language[lang].append(dict(doc, location=doc["location"][len(prefix) :]))
    for lang, docs in per_language.items():
        path = site_dir / site.url_prefix(lang) / "search"
        path.mkdir(parents=True, exist_ok=True)
        # Each index searches its own language only, and without the stemmer: Material searches as
        # you type with a trailing wildcard, and a stemmed index would never match a whole typed
        # word such as "broadcasting" (stored as "broadcast").
        config = dict(combined["config"], lang=[lang], pipeline=[])
        index = dict(combined, config=config, docs=docs)
        (path / "search_index.json").write_text(
            json.dumps(index, ensure_ascii=False, separators=(",", ":")), encoding="utf-8"
        )
    return {lang: len(docs) for lang, docs in per_language.items()}


def patch_worker(site_dir: Path) -> Path:
    """Let Material's query segmentation try the whole remaining query as one word, and put the
    site's query rewriting (``assets/search-query.js``) before the worker's own code: inlined, so
    that the worker is still one file to load."""
    workers = sorted((site_dir / "assets" / "javascripts" / "workers").glob("search.*.min.js"))
    if len(workers) != 1:
        raise RuntimeError(f"expected one Material search worker, found {len(workers)}")
    worker = workers[0]
    code = worker.read_text(encoding="utf-8")
    if code.startswith(WORKER_START + QUERY_BEGIN):  # a rebuild that did not copy the theme again
        material = code.split(QUERY_END, 1)[1]
    else:
        if not code.startswith(WORKER_START):
            raise RuntimeError(f"{worker.name} does not start with {WORKER_START!r}")
        material, count = CJK_QUERY_LOOP.subn(
            lambda m: m.group(0).replace(f"{m[1]}<{m[3]}.length", f"{m[1]}<={m[3]}.length"),
            code[len(WORKER_START) :],
        )
        if count != 1:
            raise RuntimeError(
                f"{worker.name}: Material's query segmentation loop not found ({count} matches); "
                "check whether the new Material version still needs the fix in sitekit/build/search.py"
            )
    query = (site_dir / QUERY_SCRIPT).read_text(encoding="utf-8")
    worker.write_text(WORKER_START + QUERY_BEGIN + query + QUERY_END + material, encoding="utf-8")
    return worker


#: Sections of page HTML that Material's search already parsed, by that HTML. Parsing every page
#: again is a third of a `mkdocs serve` rebuild, and an edit changes one page.
_SECTIONS: dict[str, list] = {}


def keep_parsed_sections(config) -> None:
    """Give Material's search an index that parses each distinct page HTML once per process.

    The same entries as Material's own ``SearchIndex.add_entry_from_context``, which this
    overrides: a page excluded by its front matter is skipped; every other section is indexed.
    """
    plugin = config.plugins.get("material/search")
    if plugin is None or not hasattr(plugin, "search_index"):
        return
    from material.plugins.search.plugin import Parser, SearchIndex

    class Index(SearchIndex):
        def add_entry_from_context(self, page):
            if (page.meta.get("search") or {}).get("exclude"):
                return
            key = hashlib.sha256(page.content.encode("utf-8")).hexdigest()
            if key not in _SECTIONS:
                if len(_SECTIONS) > 500:
                    _SECTIONS.clear()
                parser = Parser()
                parser.feed(page.content)
                parser.close()
                _SECTIONS[key] = [section for section in parser.data if not section.is_excluded()]
            for section in _SECTIONS[key]:  # a copy: an untitled section is given the page's title
                self.create_entry_for_section(copy.copy(section), page.toc, page.url, page)

    plugin.search_index = Index(**plugin.config)
