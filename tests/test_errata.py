"""The claims ledger (docs/errata.*.md) stays honest: every row points at a section of a page, and
that section contains at least one included, executed example. The glossary's links resolve too."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from sitekit.build.includes import INCLUDE_LINE

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
LINK = re.compile(r"\]\((?P<page>[\w-]+\.md)#(?P<anchor>[\w-]+)\)")
HEADING = re.compile(r"^(?P<level>#{1,6})\s+.*?\{#(?P<id>[\w-]+)\}\s*$", re.MULTILINE)
RUN_FENCE = re.compile(r"^[ \t]*(`{3,}|~{3,})[ \t]*(python|pycon)\b[^\n]*\n(?P<body>.*?)^[ \t]*\1[ \t]*$",
                       re.MULTILINE | re.DOTALL)
SEEDS = ("000", "001", "002", "003", "004")


def table_rows(path: Path) -> list[str]:
    """Body rows of every table on the page (a header or separator row links nowhere)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return [line for line in lines if line.startswith("| ") and "](" in line]


def ledger_rows(path: Path) -> list[str]:
    """Rows about a claim of a seed note: they start with its number."""
    return [row for row in table_rows(path) if re.match(r"\|\s*\d{3}\s*\|", row)]


def section(page: str, lang: str, anchor: str) -> str:
    """The section that heading `{#anchor}` opens (heading included), up to the next heading of its level."""
    text = (DOCS / f"{page[:-3]}.{lang}.md").read_text(encoding="utf-8")
    headings = list(HEADING.finditer(text))
    for i, heading in enumerate(headings):
        if heading.group("id") == anchor:
            level = len(heading.group("level"))
            end = next((h.start() for h in headings[i + 1 :] if len(h.group("level")) <= level), len(text))
            return text[heading.start() : end]
    raise AssertionError(f"{page[:-3]}.{lang}.md has no heading with id {anchor!r}")


def has_executed_example(text: str) -> bool:
    return any(
        any(INCLUDE_LINE.match(line) for line in match.group("body").splitlines())
        for match in RUN_FENCE.finditer(text)
    )


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_every_ledger_row_links_to_a_section_with_an_executed_example(lang):
    rows = table_rows(DOCS / f"errata.{lang}.md")
    assert len(ledger_rows(DOCS / f"errata.{lang}.md")) >= 30, "the ledger lists every claim"
    problems = []
    for row in rows:
        links = LINK.findall(row)
        if not links:
            problems.append(f"no link to a page section: {row[:80]}")
        for page, anchor in links:
            if not has_executed_example(section(page, lang, anchor)):
                problems.append(f"{page}#{anchor} has no included python/pycon example ({row[:50]})")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_ledger_covers_every_seed_note(lang):
    seeds = [re.match(r"\|\s*(\d{3})", row).group(1) for row in ledger_rows(DOCS / f"errata.{lang}.md")]
    assert set(seeds) == set(SEEDS)
    assert seeds == sorted(seeds), "rows are ordered by seed note"


def test_both_ledgers_have_the_same_rows():
    zh, en = (table_rows(DOCS / f"errata.{lang}.md") for lang in ("zh", "en"))
    assert [LINK.findall(r) for r in zh] == [LINK.findall(r) for r in en]
    seed = [[r.split("|")[1].strip() for r in ledger_rows(DOCS / f"errata.{lang}.md")] for lang in ("zh", "en")]
    assert seed[0] == seed[1]


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_every_glossary_term_links_to_where_it_is_explained(lang):
    rows = [line for line in (DOCS / f"glossary.{lang}.md").read_text(encoding="utf-8").splitlines()
            if line.startswith("| ") and "](" in line]
    assert len(rows) >= 20
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
