"""MkDocs hooks (listed in mkdocs.yml).

* Before each build: generate the diagrams of every ``sitekit/figures*.py`` module (both languages),
  and build and execute the notebooks of ``notebooks/`` into ``docs/<name>.<lang>.ipynb``
  (:mod:`sitekit.build.notebooks`); both are rewritten only when their content changes.
* Chinese pages: the soft line breaks of their paragraphs are joined, so that the browser shows no
  space in the middle of Chinese text (``join_cjk_lines``).
* Measured results: each ``<!-- evidence: <kind> -->`` line of a page becomes the tables and charts
  of ``docs/assets/evidence/<kind>.json`` (:mod:`figures.evidence`).
* Notebook pages (see "Notebooks" below).
* The 404 page of each language: ``404.html`` (Chinese) and ``en/404.html`` (English).
* No head ``hreflang`` links (they make Material request a sitemap.xml per page: 404s).
* One search index per language, and a one-character fix to Material's Chinese query
  segmentation. The i18n plugin writes one combined index at
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
from urllib.parse import urlsplit

from mkdocs.plugins import event_priority

from sitekit.testing import releases

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
    """`FIGURES` of every chapter module of `figures/`: file pattern -> draw(lang)."""
    import importlib
    import pkgutil

    import figures as package

    found = {}
    for module in sorted(m.name for m in pkgutil.iter_modules(package.__path__)):
        found.update(getattr(importlib.import_module(f"figures.{module}"), "FIGURES", {}))
    return found


def write_figures(docs_dir: Path) -> list[Path]:
    """Write every figure for both languages; touch a file only if it changed.

    Writing only on change keeps `mkdocs serve` from rebuilding in a loop. A drawer that returns
    None has nothing to draw (a measured-results chart without its results file): a figure left
    from an earlier build is removed.
    """
    written = []
    for pattern, draw in all_figures().items():
        for lang in LANGUAGES:
            path = docs_dir / pattern.format(lang=lang)
            svg = draw(lang)
            if svg is None:
                path.unlink(missing_ok=True)
            elif not path.exists() or path.read_text(encoding="utf-8") != svg:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(svg, encoding="utf-8")
                written.append(path)
    return written


def on_pre_build(config, **kwargs):
    from sitekit.build.notebooks import write_notebooks

    write_figures(Path(config["docs_dir"]))
    write_notebooks(Path(config["docs_dir"]), Path(config.config_file_path).parent, DEFAULT_LANGUAGE)


#: A line of a page where the measured results of one results file go (figures/evidence.py).
EVIDENCE_MARKER = re.compile(r"^<!-- evidence: (?P<kind>[a-z]+) -->$", re.MULTILINE)

#: Chinese text and punctuation (CJK ideographs, CJK symbols, full-width forms).
CJK = "\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uff00-\uffef"
CJK_CHAR = re.compile(f"[{CJK}]")
#: A line that starts a block of its own (list item, table row, heading, admonition, fence, HTML,
#: include, quote, definition) rather than continuing the paragraph above it.
BLOCK_START = re.compile(r"^\s*(?:[-*+] |\d+[.)] |\||#|!!!|\?\?\?|```|~~~|<|--8<--|>|: |\[\^)")


def join_cjk_lines(markdown: str) -> str:
    """Join the soft line breaks of Chinese paragraphs.

    A browser shows a line break inside a paragraph as a space, which Chinese text does not have:
    "文件的\n内容" would read "文件的 内容". A break goes when the line ends with a Chinese
    character or punctuation and the next line continues the same paragraph at the same indent
    with Chinese text (or after Chinese punctuation, with anything). Fenced code is left alone.
    """
    lines = markdown.split("\n")
    out: list[str] = []
    fence = False
    joinable = False  # may the next line be appended to out[-1]?
    for line in lines:
        stripped = line.strip()
        if stripped.startswith(("```", "~~~")):
            fence = not fence
            out.append(line)
            joinable = False
            continue
        if fence or not stripped:
            out.append(line)
            joinable = False
            continue
        previous = out[-1] if out else ""
        indent = len(line) - len(line.lstrip())
        same_indent = indent == len(previous) - len(previous.lstrip()) or (
            BLOCK_START.match(previous) and previous.lstrip()[:1] in "-*+0123456789" and indent > 0)
        if (joinable and same_indent and not BLOCK_START.match(line) and not previous.endswith("  ")
                and (CJK_CHAR.match(stripped[0]) or not CJK_CHAR.match(previous[-1]).group(0).isalnum())):
            out[-1] = previous + stripped
        else:
            out.append(line)
        last = out[-1]
        joinable = bool(CJK_CHAR.match(last[-1])) and not last.lstrip().startswith(("#", "|", "!!!", "<"))
    return "\n".join(out)


def on_page_markdown(markdown: str, page, config, **kwargs):
    """Chinese pages: join the soft line breaks of their paragraphs (join_cjk_lines). Every page:
    replace each evidence marker with the tables and charts of its results file, and the releases
    marker with the tables of the releases' results files (sitekit/testing/releases.py)."""
    lang = _current_language(config)
    if lang == "zh":
        markdown = join_cjk_lines(markdown)
    if releases.MARKER in markdown:
        table = releases.page_markdown(lang, Path(config["docs_dir"]))
        markdown = markdown.replace(releases.MARKER, table)
    if "<!-- evidence:" not in markdown:
        return markdown
    from figures.evidence import page_markdown

    site_root = "../" * page.url.count("/")  # "en/evidence/" -> "../../"
    return EVIDENCE_MARKER.sub(lambda m: page_markdown(m.group("kind"), lang, site_root=site_root), markdown)


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


#: Material's search worker splits a Chinese query into the index's words, but its loop stops one
#: character short (`o < t.length`), so the whole query is never tried as a word: 步长 is searched
#: as 步. The fix is one character; the pattern must match exactly once, so that an upgrade of
#: Material that changes this code stops the build instead of silently undoing the fix.
CJK_QUERY_LOOP = re.compile(r"for\(let (\w)=(\w)\+1;\1<(\w)\.length;\1\+\+\)\3\.slice\(\2,\1\)in ")


def patch_search_worker(site_dir: Path) -> Path:
    """Let Material's query segmentation try the whole remaining query as one word."""
    workers = sorted((site_dir / "assets" / "javascripts" / "workers").glob("search.*.min.js"))
    if len(workers) != 1:
        raise RuntimeError(f"expected one Material search worker, found {len(workers)}")
    worker = workers[0]
    code = worker.read_text(encoding="utf-8")
    if len(re.findall(CJK_QUERY_LOOP.pattern.replace("\\1<", "\\1<="), code)) == 1:
        return worker  # already patched (a rebuild that did not copy the theme's assets again)
    patched, count = CJK_QUERY_LOOP.subn(
        lambda m: m.group(0).replace(f"{m.group(1)}<{m.group(3)}.length", f"{m.group(1)}<={m.group(3)}.length"),
        code,
    )
    if count != 1:
        raise RuntimeError(
            f"{worker.name}: Material's query segmentation loop not found ({count} matches); "
            "check whether the new Material version still needs the fix in sitekit/build/hooks.py"
        )
    worker.write_text(patched, encoding="utf-8")
    return worker


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
        # Each index searches its own language only, and without the stemmer: Material searches as
        # you type with a trailing wildcard, and a stemmed index would never match a whole typed
        # word such as "broadcasting" (stored as "broadcast").
        config = dict(combined["config"], lang=[lang], pipeline=[])
        index = dict(combined, config=config, docs=docs)
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
    patch_search_worker(Path(config["site_dir"]))


#: The default language's 404 page of the build in progress, by site_dir (see on_post_template).
_DEFAULT_404: dict[str, str] = {}


def _current_language(config) -> str:
    i18n = config.plugins.get("i18n")
    return getattr(i18n, "current_language", None) or DEFAULT_LANGUAGE


def on_template_context(context, template_name: str, config, **kwargs):
    """404 page: its language switcher goes to the two home pages.

    Material's switcher on a theme template shows whatever the i18n plugin left from the last page
    built; an error page is served at any address, so its links are absolute, under site_url's path.
    """
    extra = config["extra"]
    if template_name == "404.html" and extra.get("alternate"):
        base = urlsplit(config["site_url"] or "/").path.rstrip("/") + "/"
        alternates = [
            dict(alt, link=base + ("" if alt["lang"] == DEFAULT_LANGUAGE else f"{alt['lang']}/"))
            for alt in extra["alternate"]
        ]
        extra["alternate"] = alternates
        # The i18n plugin sets `config.extra.alternate` as an attribute for every page, and the
        # template (`config.extra.alternate`) reads the attribute before the item.
        extra.alternate = alternates
    return context


def on_post_template(output: str, template_name: str, config, **kwargs):
    """Theme templates: no head hreflang links; and one 404 page per language.

    Every language build writes the theme's 404.html to the site root, so the last language would
    win. The default language's page stays at ``404.html`` (GitHub Pages serves it for any missing
    address); another language's goes to ``<lang>/404.html``.
    """
    output = HREFLANG_LINK.sub("", output)
    if template_name == "404.html":
        site_dir, lang = str(config["site_dir"]), _current_language(config)
        if lang == DEFAULT_LANGUAGE:
            _DEFAULT_404[site_dir] = output
        elif site_dir in _DEFAULT_404:
            path = Path(site_dir) / lang / "404.html"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(output, encoding="utf-8")
            output = _DEFAULT_404[site_dir]
    return output


# --- Notebooks ---------------------------------------------------------------------------------
#
# mkdocs-jupyter turns `docs/notebook.zh.ipynb` into a page in its own `on_files`, and the i18n
# plugin then rebuilds every file as a plain `File` in its `on_files` (priority -100). A plain File
# whose source is not Markdown is a static file: the notebook would be copied as a raw file into
# `notebook/index.html`, without a page, a nav entry or a language switcher, and `--strict` would
# not notice (mkdocs-static-i18n issue #198). After the i18n plugin (priority -150), each notebook
# of the language being built becomes a documentation page again, at `notebook/` (`en/notebook/`),
# with its twin in the other language as the switcher's target, and in the sitemap.

NOTEBOOK_SOURCE = re.compile(r"^(?P<name>[\w-]+)\.(?P<lang>[a-z]{2})\.ipynb$")


def _notebook_page_class():
    from mkdocs.structure.files import File

    class NotebookPage(File):
        """A notebook that MkDocs renders as a page (mkdocs-jupyter provides the rendering)."""

        def is_documentation_page(self) -> bool:
            return True

    return NotebookPage


def _notebook_page(src_uri: str, lang: str, config):
    """The page file of docs/<src_uri> (``notebook.en.ipynb``) built for language `lang`."""
    name = NOTEBOOK_SOURCE.match(src_uri).group("name")
    prefix = "" if lang == DEFAULT_LANGUAGE else f"{lang}/"
    page = _notebook_page_class()(
        src_uri,
        config["docs_dir"],
        config["site_dir"],
        config["use_directory_urls"],
        dest_uri=f"{prefix}{name}/index.html",
    )
    page.name = name
    page.url = f"{prefix}{name}/"
    page.locale = page.locale_alternate_of = page.localization = lang
    page.norm_src_uri = f"{name}.ipynb"
    page.edit_uri = None
    return page


@event_priority(-150)  # after the i18n plugin (-100) has rebuilt the files of this language
def on_files(files, config, **kwargs):
    i18n = config.plugins.get("i18n")
    lang = getattr(i18n, "current_language", None) or DEFAULT_LANGUAGE
    docs_dir = Path(config["docs_dir"])
    for file in list(files):
        match = NOTEBOOK_SOURCE.match(file.src_uri)
        if match is None or match.group("lang") != lang:
            continue
        page = _notebook_page(file.src_uri, lang, config)
        page.alternates = {lang: page}
        for other in LANGUAGES:
            twin = f"{match.group('name')}.{other}.ipynb"
            if other != lang and (docs_dir / twin).is_file():
                page.alternates[other] = _notebook_page(twin, other, config)
        files.remove(file)
        files.append(page)
    if i18n is not None and hasattr(i18n, "i18n_files_per_language"):
        i18n.i18n_files_per_language[lang] = files.documentation_pages()  # the sitemap's pages
    return files


def _is_notebook_page(page) -> bool:
    return bool(NOTEBOOK_SOURCE.match(page.file.src_uri))


def on_page_content(html: str, page, config, files, **kwargs):
    """Notebook pages: Material's markup instead of JupyterLab's (see sitekit.build.notebooks.page_html)."""
    if not _is_notebook_page(page):
        return html
    from mkdocs.structure.toc import get_toc

    from sitekit.build.notebooks import META, page_html, site_url

    notebook = json.loads(Path(page.file.abs_src_path).read_text(encoding="utf-8"))
    ui = config["extra"]["ui"][config["theme"]["language"]]
    download = (Path(page.file.abs_src_path).name, ui["download_notebook"])
    root = Path(config.config_file_path).parent
    html, tokens = page_html(html, notebook["metadata"][META]["headings"], page.url, site_url(root), download)
    page.toc = get_toc(tokens)
    return html
