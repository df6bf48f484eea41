"""The site's notebook: built from notebooks/<name>.<lang>.md exactly as the site builds it, executed
top to bottom on the CPU, the same code in every language, and rendered as a page of each language
(not served as a raw file) with a table of contents and a download link. (That it is built in
every language with a switcher to its twin is checked with the other pages, in tests/test_build.py.)"""

from __future__ import annotations

import json
import re
import runpy
from urllib.parse import urlsplit

import pytest

from sitekit.build.includes import expander
from sitekit.build.notebooks import META, NotebookSourceError, Source, build_notebook, code_cells, execute, sources
from sitekit.site import CONFIG_FILE, DEFAULT_LANGUAGE, LANGUAGES, ROOT, other_languages, site_url, url_prefix

SOURCES = sources(ROOT)


def by_name() -> dict[str, dict[str, Source]]:
    found: dict[str, dict[str, Source]] = {}
    for source in SOURCES:
        found.setdefault(source.name, {})[source.lang] = source
    return found


def page_path(name: str, lang: str) -> str:
    return f"{url_prefix(lang)}{name}/index.html"


def test_every_notebook_has_a_source_in_every_language():
    assert SOURCES, "no notebook sources in notebooks/"
    for name, variants in by_name().items():
        assert set(variants) == set(LANGUAGES), f"{name}: sources for {sorted(variants)}"


@pytest.mark.parametrize("source", SOURCES, ids=lambda s: s.path.name)
def test_every_code_cell_is_one_included_snippet_section(source):
    notebook = build_notebook(source, ROOT)
    cells = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert cells, f"{source.path.name}: no code cells"
    for cell in cells:
        target = cell.metadata[META]["include"]
        assert target.startswith("snippets/")
        assert cell.source == expander(str(CONFIG_FILE)).expand(target).text.rstrip("\n")
    assert {cell.cell_type for cell in notebook.cells} == {"markdown", "code"}


def test_a_fence_that_is_not_one_python_include_is_refused(tmp_path):
    bad = tmp_path / "bad.en.md"
    bad.write_text("# Bad\n\n```python\nimport torch\n```\n", encoding="utf-8")
    with pytest.raises(NotebookSourceError, match="code written on the page"):
        build_notebook(bad, ROOT)
    bad.write_text('# Bad\n\n```pycon\n--8<-- "snippets/shapes.py:strides"\n```\n', encoding="utf-8")
    with pytest.raises(NotebookSourceError, match="```python"):
        build_notebook(bad, ROOT)
    bad.write_text("# Bad\n\nSee [nowhere](shapes.md#no-such-anchor).\n", encoding="utf-8")
    with pytest.raises(NotebookSourceError, match="missing anchor"):
        build_notebook(bad, ROOT)
    bad.write_text("# Bad\n\n## A heading without an id\n", encoding="utf-8")
    with pytest.raises(NotebookSourceError, match="explicit id"):
        build_notebook(bad, ROOT)


@pytest.mark.parametrize("name", sorted(by_name()))
def test_every_language_has_the_same_code_cells_headings_and_links(name):
    def links(notebook, lang):
        text = "\n".join(c.source for c in notebook.cells if c.cell_type == "markdown")
        prefix = site_url() + url_prefix(lang)
        return [link[len(prefix):] if link.startswith(prefix) else link
                for link in re.findall(r"\]\(([^)]+)\)", text)]

    built = {lang: build_notebook(source, ROOT) for lang, source in by_name()[name].items()}
    first = DEFAULT_LANGUAGE
    for lang in other_languages(first):
        assert code_cells(built[lang]) == code_cells(built[first])
        assert built[lang].metadata[META]["headings"] == built[first].metadata[META]["headings"]
        assert links(built[lang], lang) == links(built[first], first)


def test_the_notebook_needs_only_torch():
    """A downloaded notebook runs without this project installed: it defines what it uses."""
    for source in SOURCES:
        for code in code_cells(build_notebook(source, ROOT)):
            assert not re.search(r"^\s*(from|import)\s+(snippets|sitekit)\b", code, re.MULTILINE), code


def test_the_snippet_module_runs_as_a_script(capsys):
    runpy.run_module("snippets.notebook", run_name="__main__")
    assert "equal to nn.MultiheadAttention" in capsys.readouterr().out


@pytest.mark.notebook
@pytest.mark.parametrize("source", SOURCES, ids=lambda s: s.path.name)
def test_the_notebook_runs_top_to_bottom_on_the_cpu(source):
    import torch

    notebook = execute(build_notebook(source, ROOT), ROOT, skip_gpu=not torch.cuda.is_available())
    problems = []
    for index, cell in enumerate(notebook.cells):
        for output in cell.get("outputs", []):
            if output.output_type == "error" or output.get("name") == "stderr":
                problems.append(f"cell {index}: {output}")
    assert not problems, "\n".join(problems)
    printed = "".join(o.get("text", "") for c in notebook.cells for o in c.get("outputs", []))
    assert "equal to nn.MultiheadAttention" in printed


# --- The built site -----------------------------------------------------------------------------


@pytest.mark.build
@pytest.mark.parametrize("name", sorted(by_name()))
def test_the_notebook_is_a_rendered_page_in_the_navigation_not_a_raw_file(site, name):
    for lang in LANGUAGES:
        path = site / page_path(name, lang)
        html = path.read_text(encoding="utf-8")
        assert html.lstrip().lower().startswith("<!doctype html>"), f"{path}: not a rendered page"
        assert html.count("jp-CodeCell") >= len(code_cells(build_notebook(by_name()[name][lang], ROOT)))
        assert '<div class="language-python highlight"><pre><code>' in html  # Material's code blocks
        assert "jp-OutputArea-output" in html  # the executed outputs
        assert '<a href="./" class="md-nav__link md-nav__link--active">' in html  # in the navigation
    # The notebook file itself is never what the page URL serves.
    assert not (site / f"{name}.ipynb").exists()


@pytest.mark.build
@pytest.mark.parametrize("name", sorted(by_name()))
def test_the_ipynb_can_be_downloaded_with_its_outputs(site, name):
    for lang in LANGUAGES:
        path = site / page_path(name, lang)
        html = path.read_text(encoding="utf-8")
        link = re.search(r'<a class="md-button[^"]*" download="[^"]+" href="([^"]+\.ipynb)"', html)
        assert link, f"{path}: no download button"
        file = path.parent / link.group(1)
        notebook = json.loads(file.read_text(encoding="utf-8"))
        assert notebook["metadata"][META]["language"] == lang
        assert [c for c in notebook["cells"] if c["cell_type"] == "code" and c["outputs"]]


@pytest.mark.build
@pytest.mark.parametrize("name", sorted(by_name()))
def test_the_notebook_page_inlines_no_jupyter_assets_and_its_links_and_contents_work(site, name):
    """Its weight is checked with every page's, by tests/test_budget.py."""
    for lang in LANGUAGES:
        path = site / page_path(name, lang)
        html = path.read_text(encoding="utf-8")
        # No JupyterLab stylesheet, MathJax or Mermaid loader inlined by mkdocs-jupyter (the one
        # style element every page has is mkdocs-glightbox's few rules).
        styles = re.findall(r"<style\b[^>]*>", html)
        assert styles == ['<style id="glightbox-style">'], f"{path}: {styles}"
        assert "--jp-" not in html and "mathjax" not in html.lower()
        ids = set(re.findall(r'\sid="([^"]+)"', html))
        toc = re.search(r'<nav class="md-nav md-nav--secondary".*?</nav>', html, re.DOTALL).group(0)
        anchors = re.findall(r'<a href="#([^"]+)" class="md-nav__link"', toc)
        assert anchors and set(anchors) <= ids, f"{path}: table of contents {anchors}"
        article = html[html.index("<article") : html.index("</article>")]
        for href in re.findall(r'<a href="([^"]+)"', article):
            if href.startswith("#"):
                assert href[1:] in ids, f"{path}: {href}"
                continue
            assert not urlsplit(href).scheme, f"{path}: {href} leaves the site being read"
            target, _, fragment = href.partition("#")
            file = (path.parent / target).resolve()
            file = file / "index.html" if file.is_dir() else file
            assert file.is_file(), f"{path}: {href}"
            if fragment:
                assert f'id="{fragment}"' in file.read_text(encoding="utf-8"), f"{path}: {href}"
