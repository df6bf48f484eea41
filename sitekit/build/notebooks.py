"""The site's Jupyter notebook, built from a Markdown source in each language.

A notebook source is ``notebooks/<name>.<lang>.md``: Markdown prose with the page conventions
(headings with explicit ids such as ``## Step 1 {#split-merge}``, links such as
``[split_heads](shapes.md#split-heads)``) and ```` ```python ```` fences that hold exactly one
``--8<--`` include line each. :func:`build_notebook` turns it into a notebook:

* the prose between two fences becomes one Markdown cell; its heading ids are recorded in the
  notebook's metadata (the rendered page gets them back, see ``sitekit/build/hooks.py``) and its links
  to pages become absolute links to the published site, so that they also work in the downloaded
  file;
* every fence becomes one code cell whose source is the included section, expanded by the same
  pymdownx preprocessor as the pages (:mod:`sitekit.build.includes`): no second copy of the code.
  A cell that includes a ``gpu_…`` section is tagged ``gpu``.

:func:`write_notebooks` (called by the MkDocs hooks before every build) executes the notebook of
each language with nbclient and writes ``docs/<name>.<lang>.ipynb``, outputs included. It executes
and writes only when the unexecuted notebook changed (a hash in the notebook's metadata), so that
a rebuild is cheap and ``mkdocs serve`` does not rebuild in a loop. mkdocs-jupyter renders the
written file as the page ``<name>/`` (``en/<name>/``) and serves the file itself for download.
"""

from __future__ import annotations

import hashlib
import json
import platform
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from sitekit import site

ROOT = site.ROOT
SOURCE_DIR = "notebooks"
KERNEL_NAME = "python3"
#: Key of this project's data in the notebook metadata.
META = "sitekit"

FENCE, HEADING = site.FENCE, site.HEADING
PAGE_LINK = re.compile(r"\]\((?P<page>[\w-]+)\.md(?P<anchor>#[\w-]+)?\)")
EXPLICIT_ID = re.compile(r"\{#([\w-]+)\}")


class NotebookSourceError(ValueError):
    """A notebook source breaks the conventions (a fence that is not one include, a broken link)."""


@dataclass(frozen=True)
class Source:
    path: Path
    name: str  # "notebook" for notebooks/notebook.en.md
    lang: str  # "en"

    @property
    def target(self) -> str:
        """The generated file, relative to docs/: ``notebook.en.ipynb``."""
        return f"{self.name}.{self.lang}.ipynb"


def sources(root: Path = ROOT) -> list[Source]:
    """Every notebook source, sorted by name then language."""
    found = []
    for path in sorted((root / SOURCE_DIR).glob("*.md")):
        match = site.PAGE_SOURCE.match(path.name)
        if match is None or match["ext"] != "md":
            raise NotebookSourceError(f"{path}: a notebook source is named <name>.<lang>.md")
        found.append(Source(path, match.group("name"), match.group("lang")))
    return found


def _page_url(page: str, lang: str) -> str:
    return site.url_prefix(lang) + ("" if page == "index" else f"{page}/")


def _markdown_cell(text: str, source: Source, root: Path, headings: list):
    import nbformat

    lines = []
    for line in text.splitlines():
        heading = HEADING.match(line)
        if heading:
            level = len(heading.group("hashes"))
            if level > 1 and heading.group("id") is None:
                raise NotebookSourceError(
                    f"{source.path.name}: heading {line.strip()!r} needs an explicit id, "
                    f"as on the pages: ## Title {{#some-id}}"
                )
            headings.append([level, heading.group("id")])
            line = f"{heading.group('hashes')} {heading.group('title')}"
        lines.append(line)
    text = "\n".join(lines).strip("\n")

    def absolute(match: re.Match) -> str:
        page, anchor = match.group("page"), match.group("anchor") or ""
        target = root / "docs" / f"{page}.{source.lang}.md"
        if not target.is_file():
            raise NotebookSourceError(f"{source.path.name}: link to a missing page {page}.md")
        if anchor and anchor[1:] not in EXPLICIT_ID.findall(target.read_text(encoding="utf-8")):
            raise NotebookSourceError(f"{source.path.name}: link to a missing anchor {page}.md{anchor}")
        return f"]({site.site_url()}{_page_url(page, source.lang)}{anchor})"

    return nbformat.v4.new_markdown_cell(PAGE_LINK.sub(absolute, text))


def build_notebook(source: Source | Path, root: Path = ROOT):
    """The unexecuted notebook of one source (an ``nbformat.NotebookNode``)."""
    import nbformat

    from sitekit.build.includes import IncludeError, expander

    if isinstance(source, Path):
        match = site.PAGE_SOURCE.match(source.name)
        if match is None or match["ext"] != "md":
            raise NotebookSourceError(f"{source}: a notebook source is named <name>.<lang>.md")
        source = Source(source, match.group("name"), match.group("lang"))
    from mkdocs.utils.meta import get_data

    # The front matter (the reading path's title and summary) is not part of the notebook.
    text, _ = get_data(source.path.read_text(encoding="utf-8"))
    expand = expander(str(root / "mkdocs.yml"))
    cells, headings, position = [], [], 0
    for fence in FENCE.finditer(text):
        line = text.count("\n", 0, fence.start()) + 1
        prose = text[position : fence.start()]
        if prose.strip():
            cells.append(_markdown_cell(prose, source, root, headings))
        position = fence.end()
        if fence.group("info").strip() != "python":
            raise NotebookSourceError(
                f"{source.path.name}:{line}: a notebook fence is ```python (a code cell), "
                f"not ```{fence.group('info').strip()}"
            )
        try:
            include = expand.expand_fence(fence.group("body"))
        except IncludeError as error:
            raise NotebookSourceError(f"{source.path.name}:{line}: {error}") from None
        cell = nbformat.v4.new_code_cell(include.text.rstrip("\n"))
        cell.metadata[META] = {"include": include.target}
        if include.is_gpu:
            cell.metadata["tags"] = ["gpu"]
        cells.append(cell)
    if text[position:].strip():
        cells.append(_markdown_cell(text[position:], source, root, headings))
    for index, cell in enumerate(cells):
        cell.id = f"cell-{index}"  # stable ids: the same source gives the same file
    notebook = nbformat.v4.new_notebook(cells=cells)
    notebook.metadata.update(
        {
            "kernelspec": {"name": KERNEL_NAME, "display_name": "Python 3", "language": "python"},
            "language_info": {"name": "python"},
            META: {"source": f"{SOURCE_DIR}/{source.path.name}", "language": source.lang, "headings": headings},
        }
    )
    return notebook


def code_cells(notebook) -> list[str]:
    return [cell.source for cell in notebook.cells if cell.cell_type == "code"]


def execute(notebook, root: Path = ROOT, skip_gpu: bool = False):
    """Run every cell top to bottom in a fresh python3 kernel (cwd: the repository root).

    Raises nbclient's ``CellExecutionError`` at the first cell that fails. With ``skip_gpu`` the
    cells tagged ``gpu`` are left out.
    """
    import tempfile

    from nbclient import NotebookClient

    if skip_gpu:
        notebook.cells = [c for c in notebook.cells if "gpu" not in c.metadata.get("tags", [])]
    client = NotebookClient(
        notebook,
        kernel_name=KERNEL_NAME,
        timeout=600,
        allow_errors=False,
        record_timing=False,
        resources={"metadata": {"path": str(root)}},
    )
    # The kernel process's own stderr (start-up chatter such as ipykernel's transport warning) is
    # kept out of the build log; it is shown only if the kernel fails.
    with tempfile.TemporaryFile(mode="w+", encoding="utf-8") as stderr:
        try:
            client.execute(stderr=stderr)
        except Exception as error:
            stderr.seek(0)
            if stderr.read().strip():
                stderr.seek(0)
                error.add_note("kernel stderr:\n" + stderr.read())
            raise
    return notebook


def input_hash(notebook) -> str:
    """What the outputs depend on: the unexecuted notebook and the Python and torch versions."""
    import nbformat

    digest = hashlib.sha256(nbformat.writes(notebook).encode("utf-8"))
    digest.update(platform.python_version().encode())
    digest.update(metadata.version("torch").encode())
    return digest.hexdigest()


def _generated(path: Path) -> bool:
    """Whether docs/<path> was written by write_notebooks (not a notebook someone put there)."""
    try:
        return META in json.loads(path.read_text(encoding="utf-8"))["metadata"]
    except (OSError, ValueError, KeyError, TypeError):
        return False


def _stored_hash(path: Path) -> str | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))["metadata"][META]["input_hash"]
    except (OSError, ValueError, KeyError, TypeError):
        return None


def write_notebooks(docs_dir: Path, root: Path = ROOT) -> list[Path]:
    """Build, execute and write ``docs/<name>.<lang>.ipynb`` for every source that changed."""
    import nbformat

    todo = []
    current = {source.target for source in sources(root)}
    for stale in Path(docs_dir).glob("*.ipynb"):
        if stale.name not in current and _generated(stale):
            stale.unlink()  # its source is gone
    for source in sources(root):
        notebook = build_notebook(source, root)
        digest = input_hash(notebook)
        path = Path(docs_dir) / source.target
        if _stored_hash(path) != digest:
            todo.append((path, notebook, digest))

    def run(job):
        path, notebook, digest = job
        execute(notebook, root)
        notebook.metadata[META]["input_hash"] = digest
        path.write_text(nbformat.writes(notebook) + "\n", encoding="utf-8")
        return path

    with ThreadPoolExecutor(max_workers=max(1, len(todo))) as pool:
        return list(pool.map(run, todo))


# --- The rendered page ---------------------------------------------------------------------------

#: Classes of mkdocs-jupyter's markup that the page does not need (its copy button: Material
#: adds its own to every code block).
DROPPED = ".zeroclipboard-container, .clipboard-copy-txt, .jp-Collapser"
STYLE_OR_SCRIPT = re.compile(r"<(style|script)\b[^>]*>.*?</\1\s*>", re.DOTALL | re.IGNORECASE)


def page_html(html: str, headings: list, page_url: str, public_url: str, download: str | None = None,
              permalink_title: str = "Permanent link"):
    """Turn mkdocs-jupyter's HTML of a notebook into a page that looks like the others.

    mkdocs-jupyter inlines about 590 KB of JupyterLab and Pygments CSS and a MathJax and a Mermaid
    script (from cdnjs) into every notebook page. Instead, the page gets Material's own markup:

    * no ``<style>`` or ``<script>`` at all (``assets/notebook.css`` lays out the cells);
    * input code as Material's highlighted code blocks (``div.highlight > pre > code``, the same
      Pygments classes), text output as ``pre > code``, so colours, fonts, the copy button and the
      dark palette are the site's;
    * the explicit heading ids of the source (``headings``: ``[level, id]`` in order) with
      Material's permalinks (titled ``permalink_title``), and the table of contents built from them;
    * links to the published site (``public_url``) made relative to the page, so that they stay
      on the site being read (``mkdocs serve``, a copy, the published site);
    * a download button for the ``.ipynb`` (``download``: (file name, label)) under the title.

    Returns the HTML and the table-of-contents tokens (``mkdocs.structure.toc.get_toc``).
    """
    from bs4 import BeautifulSoup, Comment
    from mkdocs.utils import get_relative_url

    html = STYLE_OR_SCRIPT.sub("", html)  # ~590 KB of CSS: cheaper to drop before parsing
    soup = BeautifulSoup(html, "html.parser")
    for tag in soup.find_all(["style", "script"]) + soup.select(DROPPED):
        tag.decompose()
    for comment in soup.find_all(string=lambda text: isinstance(text, Comment)):
        comment.extract()  # "Load mathjax" and the like, left from the dropped scripts
    # mkdocs-jupyter wraps each code cell in a second div with the same classes.
    for cell in soup.select("div.jp-Cell"):
        children = [c for c in cell.children if getattr(c, "name", None)]
        if len(children) == 1 and "jp-Cell" in (children[0].get("class") or []):
            cell.unwrap()
    for cell in soup.select("div.jp-Cell"):
        del cell["id"]  # "cell-id=cell-3": not a useful anchor
    for prompt in soup.select("div.jp-InputPrompt, div.jp-OutputPrompt"):
        if not prompt.get_text(strip=True):
            prompt.decompose()  # Markdown cells and outputs have empty prompts
    for editor in soup.select("div.jp-InputArea-editor"):
        pre = editor.find("pre")
        code = soup.new_tag("code")
        for child in list(pre.children):
            code.append(child.extract())
        new_pre = soup.new_tag("pre")
        new_pre.append(code)
        block = soup.new_tag("div", attrs={"class": "language-python highlight"})
        block.append(new_pre)
        editor.replace_with(block)
    for output in soup.select("div.jp-OutputArea"):
        output["class"] = output.get("class", []) + ["no-copy"]  # Material: no copy button
    for pre in soup.select("div.jp-OutputArea-output > pre"):
        code = soup.new_tag("code")
        for child in list(pre.children):
            code.append(child.extract())
        pre.append(code)

    found = soup.find_all(["h1", "h2", "h3", "h4", "h5", "h6"])
    if len(found) != len(headings):
        raise ValueError(f"the notebook page has {len(found)} headings, its source {len(headings)}")
    tokens: list[dict] = []
    stack: list[dict] = []
    for tag, (level, anchor) in zip(found, headings):
        for link in tag.select("a.anchor-link"):
            link.decompose()
        if int(tag.name[1]) != level:
            raise ValueError(f"heading {tag.get_text()!r}: level {tag.name}, its source h{level}")
        if anchor is None:
            del tag["id"]
            continue
        tag["id"] = anchor
        permalink = soup.new_tag("a", attrs={"class": "headerlink", "href": f"#{anchor}", "title": permalink_title})
        permalink.string = "¶"
        tag.append(permalink)
        token = {"level": level, "id": anchor, "name": tag.get_text().rstrip("¶").strip(), "children": []}
        while stack and stack[-1]["level"] >= level:
            stack.pop()
        (stack[-1]["children"] if stack else tokens).append(token)
        stack.append(token)

    for link in soup.find_all("a", href=True):
        if link["href"].startswith(public_url):
            path, _, fragment = link["href"][len(public_url) :].partition("#")
            link["href"] = get_relative_url(path or ".", page_url) + (f"#{fragment}" if fragment else "")
            if path.endswith("/") and not link["href"].endswith("/") and "#" not in link["href"]:
                link["href"] += "/"

    if download is not None:
        file_name, label = download
        button = BeautifulSoup(
            f'<p class="nb-download"><a class="md-button md-button--primary" href="{file_name}" '
            f'download="{file_name}">{label}</a></p>',
            "html.parser",
        )
        title = soup.find("h1")
        if title is not None:
            title.insert_after(button)
        else:
            soup.insert(0, button)
    return str(soup), tokens


#: Rendered notebook pages, by what they are made from: a build of an unchanged notebook reuses it.
PAGE_CACHE = ROOT / ".cache" / "notebook-pages"


def page_html_cached(html: str, headings: list, page_url: str, public_url: str, download=None,
                     permalink_title: str = "Permanent link"):
    """:func:`page_html`, kept on disk by a digest of its inputs (one file per page URL)."""
    key = json.dumps([html, headings, page_url, public_url, download, permalink_title, Path(__file__).read_text(encoding="utf-8")])
    name = page_url.strip("/").replace("/", "-") or "index"
    path = PAGE_CACHE / f"{name}.{hashlib.sha256(key.encode('utf-8')).hexdigest()[:16]}.json"
    if path.is_file():
        cached = json.loads(path.read_text(encoding="utf-8"))
        return cached["html"], cached["toc"]
    result = page_html(html, headings, page_url, public_url, download, permalink_title)
    PAGE_CACHE.mkdir(parents=True, exist_ok=True)
    for stale in PAGE_CACHE.glob(f"{name}.*.json"):
        stale.unlink()
    path.write_text(json.dumps({"html": result[0], "toc": result[1]}), encoding="utf-8")
    return result


# --- The page in each language (see "Notebook pages" in sitekit/build/hooks.py) ----------------


def _notebook_page_class():
    from mkdocs.structure.files import File

    class NotebookPage(File):
        """A notebook that MkDocs renders as a page (mkdocs-jupyter provides the rendering)."""

        def is_documentation_page(self) -> bool:
            return True

    return NotebookPage


def _notebook_page(src_uri: str, lang: str, config):
    """The page file of docs/<src_uri> (``notebook.en.ipynb``) built for language `lang`."""
    name = site.PAGE_SOURCE.match(src_uri)["name"]
    prefix = site.url_prefix(lang)
    page = _notebook_page_class()(
        src_uri, config["docs_dir"], config["site_dir"], config["use_directory_urls"],
        dest_uri=f"{prefix}{name}/index.html",
    )
    page.name = name
    page.url = f"{prefix}{name}/"
    page.locale = page.locale_alternate_of = page.localization = lang
    page.norm_src_uri = f"{name}.ipynb"
    page.edit_uri = None
    return page


def notebook_pages(files, lang: str, config):
    """Each notebook of language `lang` becomes a page, with its twins as the switcher's targets."""
    docs_dir = Path(config["docs_dir"])
    for file in list(files):
        match = site.PAGE_SOURCE.match(file.src_uri)
        if match is None or match["ext"] != "ipynb" or match["lang"] != lang:
            continue
        page = _notebook_page(file.src_uri, lang, config)
        page.alternates = {lang: page}
        for other in site.other_languages(lang):
            twin = site.twin(file.src_uri, other)
            if (docs_dir / twin).is_file():
                page.alternates[other] = _notebook_page(twin.as_posix(), other, config)
        files.remove(file)
        files.append(page)
    return files
