"""What the site is: its root, its languages, its pages and their twins, read from ``mkdocs.yml``.

The one place that knows these facts; the build hooks, the page runner, the tools and the tests
all ask here. ``mkdocs.yml`` is read one way only: :func:`config` (MkDocs's own YAML loader, so
its tags work, without loading the plugins).
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
CONFIG_FILE = ROOT / "mkdocs.yml"

#: A page source in the suffix layout of the i18n plugin: ``shapes.zh.md``.
PAGE_SOURCE = re.compile(r"^(?P<name>[\w-]+)\.(?P<lang>[a-z]{2})\.(?P<ext>md|ipynb)$")
#: A fenced code block: its fence, info string and body.
FENCE = re.compile(
    r"^(?P<fence>`{3,})(?P<info>[^\n]*)\n(?P<body>.*?)^(?P=fence)[ \t]*$", re.MULTILINE | re.DOTALL
)
#: A Markdown heading with an optional explicit id: ``## 连续性 {#contiguous}``.
HEADING = re.compile(r"^(?P<hashes>#{1,6})[ \t]+(?P<title>.*?)(?:[ \t]+\{#(?P<id>[\w-]+)\})?[ \t]*$")


@functools.lru_cache(maxsize=None)
def config(config_file: Path = CONFIG_FILE) -> dict:
    """``mkdocs.yml`` as MkDocs reads it (unvalidated: no plugin is loaded)."""
    from mkdocs.config.defaults import MkDocsConfig
    from mkdocs.utils.yaml import get_yaml_loader, yaml_load

    loader = get_yaml_loader(config=MkDocsConfig(config_file_path=str(config_file)))
    with open(config_file, encoding="utf-8") as f:
        return yaml_load(f, loader)


def _i18n() -> dict:
    for plugin in config()["plugins"]:
        if isinstance(plugin, dict) and "i18n" in plugin:
            return plugin["i18n"]
    raise LookupError("mkdocs.yml has no i18n plugin")


#: The default language: its pages are at the site root.
DEFAULT_LANGUAGE: str = next(lang["locale"] for lang in _i18n()["languages"] if lang.get("default"))
#: The site's languages, default first: ("zh", "en").
LANGUAGES: tuple[str, ...] = (DEFAULT_LANGUAGE,) + tuple(
    lang["locale"] for lang in _i18n()["languages"] if lang["locale"] != DEFAULT_LANGUAGE
)


def site_url() -> str:
    """The published site's address, ending with ``/``."""
    return config()["site_url"].rstrip("/") + "/"


def url_prefix(lang: str) -> str:
    """Where a language's pages live below the site root: "" or "en/"."""
    return "" if lang == DEFAULT_LANGUAGE else f"{lang}/"


def language_of(url: str) -> str:
    """The language of a page, from its URL below the site root ("en/shapes/" -> "en")."""
    first = url.split("/", 1)[0]
    return first if first in LANGUAGES and first != DEFAULT_LANGUAGE else DEFAULT_LANGUAGE


def twin(source: str | Path, lang: str) -> Path:
    """The same page in language ``lang``: ``docs/shapes.zh.md`` -> ``docs/shapes.en.md``."""
    source = Path(source)
    match = PAGE_SOURCE.match(source.name)
    if match is None:
        raise ValueError(f"{source.name}: a page is named <name>.<lang>.md")
    return source.with_name(f"{match['name']}.{lang}.{match['ext']}")


def pages(lang: str, docs: Path = DOCS) -> list[Path]:
    """Every Markdown page of one language, sorted by name."""
    return sorted(docs.glob(f"*.{lang}.md"))


def other_languages(lang: str) -> tuple[str, ...]:
    return tuple(other for other in LANGUAGES if other != lang)
