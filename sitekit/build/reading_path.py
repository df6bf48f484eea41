"""The home page's reading path, made from the nav: a chapter added to the nav is listed there.

``<!-- reading path -->`` on a home page becomes a numbered list: for every page of the nav after
the home page, a link with the page's title (its first heading, in the page's language) and its
``summary`` (the page's front matter). A page without a summary stops the build.
"""

from __future__ import annotations

from sitekit import site


def nav_files() -> list[str]:
    """The nav's pages in order: "shapes.md", ..., "notebook.ipynb"."""
    found = []
    for entry in site.config()["nav"]:
        found.append(entry if isinstance(entry, str) else next(iter(entry.values())))
    return found


def summary(name: str, lang: str) -> tuple[str, str]:
    """(title, summary) of the page `name` ("shapes.md") in `lang`."""
    from mkdocs.utils.meta import get_data

    stem, ext = name.rsplit(".", 1)
    source = site.DOCS / f"{stem}.{lang}.md" if ext == "md" else site.ROOT / "notebooks" / f"{stem}.{lang}.md"
    text, meta = get_data(source.read_text(encoding="utf-8"))  # MkDocs's own front-matter reader
    if not meta.get("summary"):
        raise ValueError(f"{source.relative_to(site.ROOT)}: no `summary:` in its front matter for the reading path")
    title = meta.get("title") or next(
        m["title"] for m in map(site.HEADING.match, text.splitlines()) if m and m["hashes"] == "#"
    )
    return title, meta["summary"].strip()


def page_markdown(lang: str) -> str:
    colon = site.config()["extra"]["ui"][lang]["colon"]
    lines = []
    for number, name in enumerate(nav_files()[1:], 1):
        title, text = summary(name, lang)
        lines.append(f"{number}. [{title}]({name}){colon}{text}")
    return "\n".join(lines) + "\n"
