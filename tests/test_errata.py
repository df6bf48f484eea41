"""The claims ledger (docs/errata.*.md) stays honest: every row points at a section of a page, and
that section contains at least one included, executed example. The glossary's links resolve too."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from sitekit.build.includes import INCLUDE_LINE
from sitekit.site import DEFAULT_LANGUAGE, DOCS, FENCE, HEADING, LANGUAGES, other_languages, pages
from sitekit.testing.pages import RUN_LANGUAGES

LINK = re.compile(r"\]\((?P<page>[\w-]+\.md)#(?P<anchor>[\w-]+)\)")
#: How the chapters cite a source note: "source note 004", "原始笔记 004".
SEED_CITATION = re.compile(r"(?:source note|原始笔记)\s*(\d{3})")


def table_rows(path: Path) -> list[str]:
    """Body rows of every table on the page (a header or separator row links nowhere)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return [line for line in lines if line.startswith("| ") and "](" in line]


def ledger_rows(path: Path) -> list[str]:
    """Rows about a claim of a source note: they start with its number."""
    return [row for row in table_rows(path) if re.match(r"\|\s*\d{3}\s*\|", row)]


def section(page: str, lang: str, anchor: str) -> str:
    """The section that heading `{#anchor}` opens (heading included), up to the next heading of its level."""
    lines = (DOCS / f"{page[:-3]}.{lang}.md").read_text(encoding="utf-8").splitlines()
    headings = [(i, len(m["hashes"]), m["id"]) for i, line in enumerate(lines) if (m := HEADING.match(line))]
    for n, (start, level, id_) in enumerate(headings):
        if id_ == anchor:
            end = next((i for i, lvl, _ in headings[n + 1 :] if lvl <= level), len(lines))
            return "\n".join(lines[start:end]) + "\n"
    raise AssertionError(f"{page[:-3]}.{lang}.md has no heading with id {anchor!r}")


def has_executed_example(text: str) -> bool:
    return any(
        match["info"].split()[0] in RUN_LANGUAGES
        and any(INCLUDE_LINE.match(line) for line in match["body"].splitlines())
        for match in FENCE.finditer(text)
        if match["info"].strip()
    )


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_ledger_row_links_to_a_section_with_an_executed_example(lang):
    rows = table_rows(DOCS / f"errata.{lang}.md")
    problems = []
    for row in rows:
        links = LINK.findall(row)
        if not links:
            problems.append(f"no link to a page section: {row[:80]}")
        for page, anchor in links:
            if not has_executed_example(section(page, lang, anchor)):
                problems.append(f"{page}#{anchor} has no included example that runs ({row[:50]})")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_ledger_covers_every_seed_note_the_chapters_cite(lang):
    cited = {seed for page in pages(lang) for seed in SEED_CITATION.findall(page.read_text(encoding="utf-8"))}
    seeds = [re.match(r"\|\s*(\d{3})", row).group(1) for row in ledger_rows(DOCS / f"errata.{lang}.md")]
    assert cited and cited <= set(seeds), f"source notes cited without a ledger row: {sorted(cited - set(seeds))}"
    assert seeds == sorted(seeds), "rows are ordered by source note"


def test_the_ledgers_of_all_languages_have_the_same_rows():
    links = {lang: [LINK.findall(r) for r in table_rows(DOCS / f"errata.{lang}.md")] for lang in LANGUAGES}
    seeds = {lang: [r.split("|")[1].strip() for r in ledger_rows(DOCS / f"errata.{lang}.md")] for lang in LANGUAGES}
    for lang in other_languages(DEFAULT_LANGUAGE):
        assert links[lang] == links[DEFAULT_LANGUAGE] and seeds[lang] == seeds[DEFAULT_LANGUAGE], lang


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_glossary_term_links_to_where_it_is_explained(lang):
    rows = table_rows(DOCS / f"glossary.{lang}.md")
    assert rows, f"glossary.{lang}.md has no terms"
    unused = []
    for row in rows:
        term = row.split("|")[1].strip()
        links = LINK.findall(row)
        assert links, f"glossary row without a link: {row}"
        for page, anchor in links:
            text = " ".join(section(page, lang, anchor).split()).lower()
            if term.lower() not in text:
                unused.append(f"{term!r} does not appear in {page[:-3]}.{lang}.md#{anchor}")
    # The pages use the glossary's terms: each one appears where the glossary says it is explained.
    assert not unused, "\n".join(unused)
