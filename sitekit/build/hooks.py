"""MkDocs hooks (``hooks:`` in mkdocs.yml): what the site adds to MkDocs, Material and the i18n plugin.

Each hook is short; the work is in the module it names.

* Before the build: the generated figures and notebooks, rebuilt only when what they are drawn
  from changed (:mod:`sitekit.build.generated`, :mod:`sitekit.build.notebooks`).
* Page Markdown: ``<!-- reading path -->`` becomes the list of the nav's pages with their
  summaries (:mod:`sitekit.build.reading_path`); ``<!-- evidence: <kind> -->`` and
  ``<!-- releases -->`` become the tables and charts of the recorded runs
  (:mod:`figures.evidence`, :mod:`sitekit.testing.releases`).
* Notebook pages: mkdocs-jupyter renders the notebook; the i18n plugin then needs telling that it
  is a page (:func:`on_files`), and its markup becomes Material's (:mod:`sitekit.build.notebooks`).
* Search per language, Material's Chinese query fix, and pages parsed for search once per
  process (:mod:`sitekit.build.search`).
* Theme templates compiled once (Jinja's bytecode cache under ``.cache/``).
* One 404 page, at the site root, in both languages (``overrides/404.html``).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import urlsplit

from mkdocs.plugins import event_priority

from sitekit import site

#: The i18n plugin puts each page's twin in the head as `<link rel="alternate" hreflang>`, and
#: Material fetches `<href>/sitemap.xml` for each, expecting language roots: a 404 per page.
HREFLANG_LINK = re.compile(r'<link rel="alternate" href="[^"]*" hreflang="[^"]*">\n?')
#: mkdocs-glightbox 0.5 returns each page's HTML as a whole document (selectolax's `.html`):
#: Material's search would then index the page's first heading as a section of an untitled one.
DOCUMENT_WRAPPER = re.compile(r"^<html><head></head><body>(.*)</body></html>$", re.DOTALL)
EVIDENCE_MARKER = re.compile(r"^<!-- evidence: (?P<kind>[a-z]+) -->$", re.MULTILINE)


def _language(config) -> str:
    """The language being built (the i18n plugin builds each in turn)."""
    i18n = config.plugins.get("i18n")
    return getattr(i18n, "current_language", None) or site.DEFAULT_LANGUAGE


def _ui(config) -> dict:
    """The interface strings of the language being built (extra.ui in mkdocs.yml)."""
    return config["extra"]["ui"][_language(config)]


def on_config(config, **kwargs):
    """Each language's build: Material's search index, keeping pages it already parsed."""
    from sitekit.build.search import keep_parsed_sections

    keep_parsed_sections(config)
    # The heading permalinks' title in this language (the i18n plugin cannot override
    # markdown_extensions per language).
    config["mdx_configs"].setdefault("toc", {})["permalink_title"] = _ui(config)["permalink"]
    return config


def on_env(env, config, files, **kwargs):
    """Compiled theme templates are kept under .cache/ (Jinja's bytecode cache): each build, and
    each language's build, would otherwise compile Material's ~45 templates again."""
    from jinja2 import FileSystemBytecodeCache

    folder = site.ROOT / ".cache" / "jinja"
    folder.mkdir(parents=True, exist_ok=True)
    env.bytecode_cache = FileSystemBytecodeCache(str(folder))
    return env


def on_pre_build(config, **kwargs):
    from sitekit.build.generated import write_figures
    from sitekit.build.notebooks import write_notebooks

    write_figures(Path(config["docs_dir"]))
    write_notebooks(Path(config["docs_dir"]))


def on_page_markdown(markdown: str, page, config, **kwargs):
    lang = _language(config)
    if "<!-- reading path -->" in markdown:
        from sitekit.build.reading_path import page_markdown

        markdown = markdown.replace("<!-- reading path -->", page_markdown(lang))
    if "<!-- releases -->" in markdown:
        from sitekit.testing import releases

        markdown = markdown.replace(releases.MARKER, releases.page_markdown(lang, Path(config["docs_dir"])))
    if "<!-- evidence:" in markdown:
        from figures.evidence import page_markdown

        site_root = "../" * page.url.count("/")  # "en/evidence/" -> "../../"
        markdown = EVIDENCE_MARKER.sub(lambda m: page_markdown(m["kind"], lang, site_root=site_root), markdown)
    return markdown


def on_post_page(output: str, page, config, **kwargs):
    from sitekit.build.search import rebase

    return rebase(HREFLANG_LINK.sub("", output), page.url)


@event_priority(-200)  # after the i18n plugin (-100) has built every language and the index
def on_post_build(config, **kwargs):
    if getattr(config.plugins.get("i18n"), "building", False):
        return  # a nested per-language build: the combined index is not final yet
    from sitekit.build.search import patch_worker, split_index

    split_index(Path(config["site_dir"]))
    patch_worker(Path(config["site_dir"]))


def on_template_context(context, template_name: str, config, **kwargs):
    """The 404 page is served at any address: its language switcher goes to the two home pages,
    by absolute links under site_url's path (the i18n plugin leaves the last page's twins there)."""
    extra = config["extra"]
    if template_name == "404.html" and extra.get("alternate"):
        base = urlsplit(config["site_url"] or "/").path.rstrip("/") + "/"
        alternates = [dict(alt, link=base + site.url_prefix(alt["lang"])) for alt in extra["alternate"]]
        extra["alternate"] = extra.alternate = alternates  # the template reads the attribute
    return context


def on_post_template(output: str, template_name: str, config, **kwargs):
    """No head hreflang links; and one 404 page, the default language's build's (the page says
    everything in both languages; GitHub Pages serves only the root 404.html)."""
    if template_name == "404.html" and _language(config) != site.DEFAULT_LANGUAGE:
        return ""  # MkDocs writes nothing for an empty template
    return HREFLANG_LINK.sub("", output)


# --- Notebook pages ------------------------------------------------------------------------------
# mkdocs-jupyter turns `docs/notebook.zh.ipynb` into a page in its own `on_files`; the i18n plugin
# then rebuilds every file as a plain `File` (priority -100), and a plain File that is not Markdown
# is a static file: the notebook would be copied raw into `notebook/index.html`, without a page, a
# nav entry or a language switcher, and `--strict` would not notice (mkdocs-static-i18n #198).


@event_priority(-150)  # after the i18n plugin (-100) has rebuilt the files of this language
def on_files(files, config, **kwargs):
    from sitekit.build.notebooks import notebook_pages

    lang = _language(config)
    files = notebook_pages(files, lang, config)
    # mkdocs-jupyter's cache keeps only the notebooks of the last build, and each language is a
    # build of its own: one cache folder per language keeps both.
    jupyter = config.plugins.get("mkdocs-jupyter")
    if jupyter is not None:
        jupyter.config["cache_dir"] = str(site.ROOT / ".cache" / "mkdocs-jupyter" / lang)
    i18n = config.plugins.get("i18n")
    if i18n is not None and hasattr(i18n, "i18n_files_per_language"):
        i18n.i18n_files_per_language[lang] = files.documentation_pages()  # the sitemap's pages
    return files


def on_page_content(html: str, page, config, **kwargs):
    """The page's HTML without glightbox's document wrapper (hooks run after the plugins); notebook
    pages: Material's markup instead of JupyterLab's."""
    html = DOCUMENT_WRAPPER.sub(r"\1", html)
    source = site.PAGE_SOURCE.match(page.file.src_uri)
    if source is None or source["ext"] != "ipynb":
        return html
    from mkdocs.structure.toc import get_toc

    from sitekit.build.notebooks import META, page_html_cached as page_html

    notebook = json.loads(Path(page.file.abs_src_path).read_text(encoding="utf-8"))
    download = (Path(page.file.abs_src_path).name, _ui(config)["download_notebook"])
    html, tokens = page_html(html, notebook["metadata"][META]["headings"], page.url, site.site_url(), download,
                             _ui(config)["permalink"])
    page.toc = get_toc(tokens)
    return html
