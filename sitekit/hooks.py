"""MkDocs hooks (listed in mkdocs.yml).

* Before each build: generate the diagrams of every ``sitekit/figures*.py`` module (both languages).
* No head ``hreflang`` links (they make Material request a sitemap.xml per page: 404s).
* One search index per language. The i18n plugin writes one combined index at
  ``search/search_index.json``, so a reader on the English site would get Chinese pages and vice
  versa. After the whole build we split it: ``search/`` keeps the Chinese pages and
  ``en/search/`` gets the English ones, and the English pages point Material's search at
  ``en/`` (their ``__config.base``).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from mkdocs.plugins import event_priority

LANGUAGES = ("zh", "en")
DEFAULT_LANGUAGE = "zh"
OTHER_PREFIXES = tuple(f"{lang}/" for lang in LANGUAGES if lang != DEFAULT_LANGUAGE)
#: Material fetches `<href>/sitemap.xml` for every `<link rel="alternate" hreflang>` in the head,
#: expecting language roots; the i18n plugin puts page URLs there, so every page would log 404s.
#: The language switcher links themselves already point at the same page in the other language,
#: and the sitemap lists the hreflang alternates, so the head links are dropped.
HREFLANG_LINK = re.compile(r'<link rel="alternate" href="[^"]*" hreflang="[^"]*">\n?')
CONFIG_SCRIPT = re.compile(r'(<script id="__config" type="application/json">)(.*?)(</script>)', re.DOTALL)


def all_figures() -> dict:
    """`FIGURES` of every `sitekit/figures*.py` module: file pattern -> draw(lang)."""
    import importlib
    import pkgutil

    import sitekit

    figures = {}
    for module in sorted(m.name for m in pkgutil.iter_modules(sitekit.__path__)):
        if module.startswith("figures"):
            figures.update(importlib.import_module(f"sitekit.{module}").FIGURES)
    return figures


def write_figures(docs_dir: Path) -> list[Path]:
    """Write every figure for both languages; touch a file only if it changed.

    Writing only on change keeps `mkdocs serve` from rebuilding in a loop.
    """
    written = []
    for pattern, draw in all_figures().items():
        for lang in LANGUAGES:
            path = docs_dir / pattern.format(lang=lang)
            svg = draw(lang)
            if not path.exists() or path.read_text(encoding="utf-8") != svg:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(svg, encoding="utf-8")
                written.append(path)
    return written


def on_pre_build(config, **kwargs):
    write_figures(Path(config["docs_dir"]))


def _language_of(url: str) -> str:
    for prefix in OTHER_PREFIXES:
        if url.startswith(prefix):
            return prefix[:-1]
    return DEFAULT_LANGUAGE


def on_post_page(output: str, page, config, **kwargs):
    """Drop head hreflang links (see HREFLANG_LINK) and give pages of a non-default language
    their language root as Material's `base`."""
    output = HREFLANG_LINK.sub("", output)
    lang = _language_of(page.url)
    if lang == DEFAULT_LANGUAGE:
        return output
    depth = page.url[len(lang) + 1 :].count("/")  # "en/shapes/" -> 1, "en/" -> 0
    base = "/".join([".."] * depth) or "."

    def rebase(match: re.Match) -> str:
        material_config = json.loads(match.group(2))
        material_config["base"] = base
        return match.group(1) + json.dumps(material_config) + match.group(3)

    output, count = CONFIG_SCRIPT.subn(rebase, output, count=1)
    if count != 1:
        raise RuntimeError(f"{page.url}: Material's __config block not found; search cannot be split")
    return output


def split_search_index(site_dir: Path) -> dict[str, int]:
    """Split the combined search index into one index per language; returns entries per language."""
    combined_path = site_dir / "search" / "search_index.json"
    combined = json.loads(combined_path.read_text(encoding="utf-8"))
    per_language: dict[str, list] = {lang: [] for lang in LANGUAGES}
    for doc in combined["docs"]:
        lang = _language_of(doc["location"])
        if lang != DEFAULT_LANGUAGE:
            doc = dict(doc, location=doc["location"][len(lang) + 1 :])
        per_language[lang].append(doc)
    for lang, docs in per_language.items():
        path = site_dir / ("search" if lang == DEFAULT_LANGUAGE else os.path.join(lang, "search"))
        path.mkdir(parents=True, exist_ok=True)
        index = dict(combined, docs=docs)
        (path / "search_index.json").write_text(
            json.dumps(index, ensure_ascii=False, separators=(",", ":")), encoding="utf-8"
        )
    return {lang: len(docs) for lang, docs in per_language.items()}


@event_priority(-200)  # after the i18n plugin (-100) has built every language and the index
def on_post_build(config, **kwargs):
    i18n = config.plugins.get("i18n")
    if i18n is not None and getattr(i18n, "building", False):
        return  # a nested per-language build: the combined index is not final yet
    split_search_index(Path(config["site_dir"]))


def on_post_template(output: str, template_name: str, config, **kwargs):
    """The same for theme templates such as 404.html."""
    return HREFLANG_LINK.sub("", output)
