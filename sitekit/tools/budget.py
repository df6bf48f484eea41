"""Page budget: how much a reader downloads to open each page of the built site.

Run ``python3 -m sitekit.tools.budget`` from the repository root: it builds the site (``mkdocs build
--strict``) into a temporary folder, or measures an existing one with ``--site-dir DIR``, and
prints the build time, every page's size, the largest and the median page and the size of each
language's search index. ``--json`` prints the same as JSON.

What a page counts (each file once per page, as a first visit with an empty cache loads it):

* the page's HTML;
* every local file the HTML loads: stylesheets, icons and other ``<link rel>`` loads (``stylesheet``,
  ``icon``, ``preload``, ``modulepreload``, ``manifest``), scripts, images (``src``, ``srcset``,
  ``poster``), media, frames, embedded objects, SVG ``<image>``/``<use>`` files, and ``url()`` and
  ``@import`` in inline styles;
* what those stylesheets load in turn (``url()``: fonts and images; ``@import``);
* Material's search worker and the lunr language scripts it imports: Material starts the worker on
  every page load, not when the search box is opened.

Not counted: the search index (``search/search_index.json`` of the page's language; listed
separately, it is the same file for every page of a language), source maps (only developer tools
fetch them), and links a reader may follow (``<a href>``, ``rel`` prev/next/canonical/alternate).

Sizes are in KB of 1,000 bytes. The *transfer* size is what a compressing web server sends: text
files (HTML, CSS, JavaScript, JSON, SVG, …) gzip-compressed at level 6, other files (PNG, fonts, …)
as they are. The budgets below apply to the transfer size; the raw size is shown beside it.
Every referenced file must be on the site itself: a page that references another host, or a local
file that does not exist, is over budget whatever its size.
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit

#: Budget of an ordinary page (chapters, home, errata, glossary): transfer size in KB.
PAGE_BUDGET_KB = 250
#: Budget of a page rendered from a Jupyter notebook (mkdocs-jupyter; recognised by its
#: ``jupyter-wrapper`` or ``jp-Notebook`` element). Such a page carries every cell's source and
#: output in its HTML, figures as base64 PNGs that do not compress, and mkdocs-jupyter's template
#: inlines the JupyterLab stylesheet (about 600 KB raw, 90 KB compressed) unless the build strips
#: it. 400 KB is room for both on top of Material's own CSS and JavaScript (about 75 KB).
NOTEBOOK_BUDGET_KB = 400
KB = 1000

#: The local server's stand-in host when resolving URLs.
_HOST = "site.invalid"
_SITE = f"http://{_HOST}"
_TEXT_SUFFIXES = {".html", ".htm", ".css", ".js", ".mjs", ".json", ".svg", ".xml", ".txt", ".map",
                  ".ipynb", ".md", ".csv", ".py", ".webmanifest"}
_SKIPPED_SCHEMES = ("data:", "blob:", "javascript:", "about:", "mailto:", "tel:")
_LINK_LOADS = {"stylesheet", "icon", "preload", "modulepreload", "manifest"}
_CSS_URL = re.compile(r"""url\(\s*(['"]?)([^'")]+?)\1\s*\)""", re.IGNORECASE)
_CSS_IMPORT = re.compile(r"""@import\s+(['"])([^'"]+)\1""", re.IGNORECASE)
_CONFIG = re.compile(r'<script id="__config" type="application/json">(.*?)</script>', re.DOTALL)
_LANG = re.compile(r"<html[^>]*\slang=\"([^\"]+)\"", re.IGNORECASE)
#: mkdocs-jupyter wraps a rendered notebook in these (the first is mkdocs-jupyter's own).
_NOTEBOOK = re.compile(r'class="[^"]*\b(?:jupyter-wrapper|jp-Notebook)\b')


def site_pages(site_dir: Path) -> list[str]:
    """URL paths of every page of the built site (``/``, ``/shapes/``, ``/en/``, …).

    Every HTML file is a page, except ``404.html`` (a template, served for missing URLs) and
    files inside an ``assets`` folder.
    """
    pages = []
    for html in site_dir.rglob("*.html"):
        rel = html.relative_to(site_dir).as_posix()
        if html.name == "404.html" or "assets" in rel.split("/")[:-1]:
            continue
        pages.append("/" + (rel[: -len("index.html")] if html.name == "index.html" else rel))
    return sorted(pages)


def file_of(site_dir: Path, url_path: str) -> Path:
    """The file that a static server sends for a URL path of the site."""
    path = site_dir / unquote(url_path).lstrip("/")
    if url_path.endswith("/") or path.is_dir():
        path = path / "index.html"
    return path


class _Loads(HTMLParser):
    """Every URL an HTML page loads by itself (not the links a reader may follow)."""

    SRC = {"script": "src", "img": "src", "source": "src", "iframe": "src", "video": "src",
           "audio": "src", "track": "src", "embed": "src", "object": "data", "input": "src"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.urls: list[str] = []
        self._style = False

    def handle_starttag(self, tag, attrs):
        attrs = {k: (v or "") for k, v in attrs}
        if tag == "link":
            rel = set(attrs.get("rel", "").lower().split())
            if rel & _LINK_LOADS and attrs.get("href"):
                self.urls.append(attrs["href"])
        elif tag == "script" and "src" in attrs:
            self.urls.append(attrs["src"])  # src="" loads the page itself
        elif tag in self.SRC and attrs.get(self.SRC[tag]):
            if tag != "input" or attrs.get("type", "").lower() == "image":
                self.urls.append(attrs[self.SRC[tag]])
        elif tag in ("image", "use"):
            href = attrs.get("href") or attrs.get("xlink:href")
            if href and not href.startswith("#"):
                self.urls.append(href)
        if tag == "video" and attrs.get("poster"):
            self.urls.append(attrs["poster"])
        for candidate in attrs.get("srcset", "").split(","):
            if candidate.strip():
                self.urls.append(candidate.split()[0])
        if attrs.get("style"):
            self.urls += css_urls(attrs["style"])
        self._style = tag == "style"

    def handle_endtag(self, tag):
        self._style = False

    def handle_data(self, data):
        if self._style:
            self.urls += css_urls(data)


def css_urls(css: str) -> list[str]:
    """URLs a stylesheet loads: ``url(…)`` and ``@import "…"``."""
    return [m.group(2).strip() for m in _CSS_URL.finditer(css)] + [m.group(2) for m in _CSS_IMPORT.finditer(css)]


@dataclass
class PageSize:
    path: str
    lang: str
    kind: str  # "page" or "notebook"
    files: dict[str, tuple[int, int]] = field(default_factory=dict)  # URL path -> (raw, transfer)
    foreign: list[str] = field(default_factory=list)  # URLs on another host
    missing: list[str] = field(default_factory=list)  # local URLs with no file

    @property
    def raw(self) -> int:
        return sum(raw for raw, _ in self.files.values())

    @property
    def transfer(self) -> int:
        return sum(transfer for _, transfer in self.files.values())

    @property
    def budget_kb(self) -> int:
        return NOTEBOOK_BUDGET_KB if self.kind == "notebook" else PAGE_BUDGET_KB


class _Sizes:
    """(raw, transfer) of each file, computed once."""

    def __init__(self):
        self._cache: dict[Path, tuple[int, int]] = {}

    def __call__(self, path: Path) -> tuple[int, int]:
        if path not in self._cache:
            data = path.read_bytes()
            compressed = path.suffix.lower() in _TEXT_SUFFIXES
            transfer = len(gzip.compress(data, compresslevel=6, mtime=0)) if compressed else len(data)
            self._cache[path] = (len(data), transfer)
        return self._cache[path]


def lunr_scripts(languages: list[str]) -> list[str]:
    """The lunr files Material's search worker imports for an index's languages, relative to the
    ``assets/javascripts/lunr/`` folder (mirrors the worker's own list)."""
    scripts = []
    for lang in languages:
        if lang == "ja":
            scripts.append("tinyseg.js")
        elif lang in ("hi", "th"):
            scripts.append("wordcut.js")
        if lang != "en":
            scripts.append(f"min/lunr.{lang}.min.js")
    if len(languages) > 1:
        scripts.append("min/lunr.multi.min.js")
    return ["min/lunr.stemmer.support.min.js", *scripts] if scripts else []


def measure_page(site_dir: Path, path: str, sizes: _Sizes | None = None) -> PageSize:
    """What the page at URL path `path` loads, file by file."""
    sizes = sizes or _Sizes()
    html_file = file_of(site_dir, path)
    html = html_file.read_text(encoding="utf-8")
    lang = m.group(1) if (m := _LANG.search(html)) else ""
    page = PageSize(path=path, lang=lang, kind="notebook" if _NOTEBOOK.search(html) else "page")
    page_url = _SITE + path
    page.files[path] = sizes(html_file)

    def add(url: str, referrer: str) -> Path | None:
        """Count a URL once; return its local file if it is a local file not seen before."""
        url = url.strip()
        if url.lower().startswith(_SKIPPED_SCHEMES):
            return None
        absolute = urljoin(referrer, url)
        parts = urlsplit(absolute)
        if parts.scheme not in ("http", "https") or parts.netloc != _HOST:
            if absolute not in page.foreign:
                page.foreign.append(absolute)
            return None
        if parts.path in page.files or parts.path in page.missing:
            return None
        local = file_of(site_dir, parts.path)
        if not local.is_file():
            page.missing.append(parts.path)
            return None
        page.files[parts.path] = sizes(local)
        return local

    parser = _Loads()
    parser.feed(html)
    stylesheets = []
    for url in parser.urls:
        local = add(url, page_url)
        if local is not None and local.suffix.lower() == ".css":
            stylesheets.append((local, urljoin(page_url, url)))
    while stylesheets:  # what stylesheets load, recursively
        css_file, css_url = stylesheets.pop()
        for url in css_urls(css_file.read_text(encoding="utf-8", errors="replace")):
            local = add(url, css_url)
            if local is not None and local.suffix.lower() == ".css":
                stylesheets.append((local, urljoin(css_url, url)))

    config = json.loads(m.group(1)) if (m := _CONFIG.search(html)) else {}
    if config.get("search"):  # Material's search worker and the lunr scripts it imports
        worker_url = urljoin(page_url, config["search"])
        add(worker_url, page_url)
        index = search_index_of(site_dir, path, config)
        if index is not None:
            languages = json.loads(index.read_text(encoding="utf-8"))["config"]["lang"]
            for script in lunr_scripts(languages):
                add(urljoin(worker_url, "../lunr/" + script), page_url)
    return page


def search_index_of(site_dir: Path, path: str, config: dict | None = None) -> Path | None:
    """The search index a page's search loads (Material: ``search/search_index.json`` under the
    page's ``base``)."""
    if config is None:
        html = file_of(site_dir, path).read_text(encoding="utf-8")
        config = json.loads(m.group(1)) if (m := _CONFIG.search(html)) else {}
    if "base" not in config:
        return None
    base = urljoin(_SITE + path, config["base"].rstrip("/") + "/")
    index = file_of(site_dir, urlsplit(urljoin(base, "search/search_index.json")).path)
    return index if index.is_file() else None


def problems(pages: list[PageSize]) -> list[str]:
    """Every page over its budget, referencing another host or a missing file."""
    found = []
    for page in pages:
        if page.transfer > page.budget_kb * KB:
            found.append(f"{page.path}: {page.transfer / KB:.1f} KB transferred, over the "
                         f"{page.budget_kb} KB budget of a {page.kind}")
        found += [f"{page.path}: references another host: {url}" for url in page.foreign]
        found += [f"{page.path}: references a missing file: {url}" for url in page.missing]
    return found


@dataclass
class Report:
    site_dir: str
    build_seconds: float | None
    pages: list[PageSize]
    search_indexes: dict[str, tuple[int, int]]  # URL path -> (raw, transfer)

    def largest(self) -> PageSize:
        return max(self.pages, key=lambda p: p.transfer)

    def median_kb(self) -> float:
        return statistics.median(p.transfer for p in self.pages) / KB

    def median_page(self) -> PageSize:
        ordered = sorted(self.pages, key=lambda p: p.transfer)
        return ordered[(len(ordered) - 1) // 2]

    def to_json(self) -> dict:
        return {
            "site_dir": self.site_dir,
            "build_seconds": self.build_seconds,
            "counted": "HTML + every local file it loads (CSS and what CSS loads, JS, images, icons, "
                       "fonts) + Material's search worker and lunr scripts, each once per page; "
                       "not the search index or source maps. transfer = gzip level 6 for text "
                       "files, raw for binary files. KB = 1000 bytes.",
            "budgets_kb": {"page": PAGE_BUDGET_KB, "notebook": NOTEBOOK_BUDGET_KB},
            "pages": [
                {**{k: v for k, v in asdict(p).items() if k != "files"},
                 "files": len(p.files), "raw_bytes": p.raw, "transfer_bytes": p.transfer,
                 "budget_kb": p.budget_kb, "over_budget": p.transfer > p.budget_kb * KB}
                for p in self.pages
            ],
            "largest": {"path": self.largest().path, "transfer_bytes": self.largest().transfer},
            "median_transfer_bytes": round(self.median_kb() * KB),
            "search_indexes": {path: {"raw_bytes": raw, "transfer_bytes": transfer}
                               for path, (raw, transfer) in self.search_indexes.items()},
            "problems": problems(self.pages),
        }

    def table(self) -> str:
        lines = []
        if self.build_seconds is not None:
            lines.append(f"Build: mkdocs build --strict in {self.build_seconds:.1f} s")
        else:
            lines.append(f"Site: {self.site_dir}")
        lines.append("Counted per page: the HTML, every local file it loads (CSS and what the CSS "
                     "loads, JS, images, icons, fonts)")
        lines.append("and Material's search worker with its lunr scripts, each file once; not the "
                     "search index or source maps.")
        lines.append("Transfer = gzip level 6 for text files, raw for binary files. KB = 1000 bytes.")
        lines.append("")
        width = max(len("page"), *(len(p.path) for p in self.pages))
        header = f"{'page':<{width}}  lang  kind      files  raw KB  transfer KB  budget KB"
        lines += [header, "-" * len(header)]
        for p in self.pages:
            flag = "" if p.transfer <= p.budget_kb * KB else "  OVER"
            lines.append(f"{p.path:<{width}}  {p.lang:<4}  {p.kind:<8}  {len(p.files):>5}  "
                         f"{p.raw / KB:>6.1f}  {p.transfer / KB:>11.1f}  {p.budget_kb:>9}{flag}")
        lines.append("")
        big, mid = self.largest(), self.median_page()
        lines.append(f"Largest page: {big.path} {big.transfer / KB:.1f} KB transferred "
                     f"({big.raw / KB:.1f} KB raw)")
        lines.append(f"Median page:  {self.median_kb():.1f} KB transferred (e.g. {mid.path})")
        lines.append("Search index per language (loaded by every page of that language, not counted "
                     "above):")
        for path, (raw, transfer) in self.search_indexes.items():
            lines.append(f"  {path:<32} {raw / KB:>7.1f} KB raw  {transfer / KB:>6.1f} KB transferred")
        found = problems(self.pages)
        lines.append("")
        lines.append("Within budget." if not found else "Problems:\n  " + "\n  ".join(found))
        return "\n".join(lines)


def measure_site(site_dir: Path, build_seconds: float | None = None) -> Report:
    sizes = _Sizes()
    pages = [measure_page(site_dir, path, sizes) for path in site_pages(site_dir)]
    indexes = {}
    for index in sorted(site_dir.rglob("search/search_index.json"), key=lambda p: (len(p.parts), p)):
        rel = index.relative_to(site_dir).as_posix()
        if "assets" not in rel.split("/"):
            indexes["/" + rel] = sizes(index)
    return Report(str(site_dir), build_seconds, pages, indexes)


def build_site(site_dir: Path, config_file: Path = Path("mkdocs.yml")) -> tuple[int, str, float]:
    """``mkdocs build --strict`` into `site_dir`: (exit status, output, seconds)."""
    import os

    config_file = config_file.resolve()
    env = dict(os.environ, NO_MKDOCS_2_WARNING="1")
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--config-file", str(config_file),
         "--site-dir", str(site_dir)],
        cwd=config_file.parent, env=env, capture_output=True, text=True,
    )
    return result.returncode, result.stdout + result.stderr, time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m sitekit.tools.budget", description=__doc__.split("\n\n")[0])
    parser.add_argument("--site-dir", type=Path, help="measure this built site instead of building one")
    parser.add_argument("--config-file", type=Path, default=Path("mkdocs.yml"),
                        help="the MkDocs configuration to build (default: mkdocs.yml)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args(argv)
    if args.site_dir is not None:
        report = measure_site(args.site_dir.resolve())
        return _print(report, args.json)
    with tempfile.TemporaryDirectory(prefix="site-") as tmp:
        status, output, seconds = build_site(Path(tmp), args.config_file)
        if status != 0:
            print(output, file=sys.stderr)
            print(f"mkdocs build --strict failed (exit status {status})", file=sys.stderr)
            return 2
        return _print(measure_site(Path(tmp), seconds), args.json)


def _print(report: Report, as_json: bool) -> int:
    print(json.dumps(report.to_json(), indent=2, ensure_ascii=False) if as_json else report.table())
    return 1 if problems(report.pages) else 0


if __name__ == "__main__":
    sys.exit(main())
