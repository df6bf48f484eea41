"""The glossary is the one list of the site's terms, and the pages keep to it.

* Both languages' glossaries have the same rows: the same terms table, the same notation map.
* Every term of the terms table is used on some page other than the glossary (the Chinese column
  on the Chinese pages, the English column on the English pages; the notebook sources count).
* Every link of the glossary leads to a page that exists and to a heading id on it.
* The Chinese pages and the Chinese notebook source do not use the variants the site decided
  against (``WRONG`` below, the one list of them). Quotations of the source notes may: the text
  between “ and ” in an admonition's title or in a blockquote quotes a note word for word.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from sitekit import site

LANGUAGES = ("zh", "en")
#: The header cell of each language's own term column in the terms table.
TERM_COLUMN = {"zh": "中文", "en": "English"}
NOTEBOOKS = site.ROOT / "notebooks"

#: The variants the site decided against in Chinese text, each with what to write instead.
WRONG = {
    r"序列优先": "序列在前",
    r"批量优先": "批量在前",
    r"行主序": "行优先",
    r"列主序": "列优先",
    r"(?<!性能分析器（)(?<![A-Za-z0-9_.])profiler(?![A-Za-z0-9_])": "性能分析器（代码名如 torch.profiler 照写）",
    r"(?<!缓冲区（)(?<![A-Za-z0-9_.])buffer(?![A-Za-z0-9_])": "缓冲区（代码名如 register_buffer 照写）",
    r"被掩码(?!屏蔽)|掩码掉": "屏蔽（被屏蔽的位置）；掩码只作名词",
    r"转置（`?permute|permute`?（转置": "permute 是重排维度，转置只指 transpose",
    r"(?<![分程])块大小": "分块大小（tile）",
    r"拉平|压平": "展平",
    r"操作符|运算符": "算子",
    r"融合核|融合算子": "融合内核",
    r"种子笔记": "原始笔记",
    r"极小的数": "绝对值很大的负数（或 -inf）",
    r"答案先说在前面": "先说结论",
    r"免费": "说清楚：无需复制 / 几乎没有开销",
    r"在本站的 CPU（测试）构建上": "本站的测试在 CPU 上运行时",
    r"第\s*[一二三四五六七八九十\d]+\s*章": "链接到那一章，用它的标题",
}

FENCED = re.compile(r"^[ \t]*(`{3,}|~{3,}).*?^[ \t]*\1[ \t]*$", re.MULTILINE | re.DOTALL)
INLINE_CODE = re.compile(r"(`+)[^`\n]*?\1")
LINK_TARGET = re.compile(r"\]\([^)\s]*\)")
HEADING_ID = re.compile(r"\{#[\w-]+\}")
#: A line whose “…” quotations quote the source notes: an admonition title or a blockquote.
QUOTING_LINE = re.compile(r"^[ \t]*(?:!!!|\?\?\?\+?|>)")
QUOTATION = re.compile(r"“[^”\n]*”")
LINK = re.compile(r"\]\((?P<target>[^)\s]+)\)")
EXPLICIT_ID = re.compile(r"\{#(?P<id>[\w-]+)\}")


def glossary(lang: str) -> Path:
    return site.DOCS / f"glossary.{lang}.md"


def chinese_sources() -> list[Path]:
    """The Chinese pages (the glossary aside: its English column is English) and notebooks."""
    return [p for p in site.pages("zh") if p != glossary("zh")] + sorted(NOTEBOOKS.glob("*.zh.md"))


def sources(lang: str) -> list[Path]:
    """The pages of one language other than the glossary, and the notebook sources."""
    return [p for p in site.pages(lang) if p != glossary(lang)] + sorted(NOTEBOOKS.glob(f"*.{lang}.md"))


# --- parsing -------------------------------------------------------------------------------------

def tables(text: str) -> list[list[list[str]]]:
    """Every Markdown table of a text: a list of rows, each a list of cells; the first row is the
    header, the delimiter row (| --- |) is left out."""
    found, current = [], []
    for line in text.splitlines() + [""]:
        if line.lstrip().startswith("|"):
            cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
            if not all(re.fullmatch(r":?-{3,}:?", cell) for cell in cells):
                current.append(cells)
        elif current:
            found.append(current)
            current = []
    return found


def terms_table(text: str, lang: str) -> list[dict[str, str]]:
    """The rows of the terms table (the table whose header names both languages' columns), each
    as {header: cell}."""
    for table in tables(text):
        header = table[0]
        if TERM_COLUMN["zh"] in header and TERM_COLUMN["en"] in header:
            return [dict(zip(header, row)) for row in table[1:]]
    raise AssertionError(f"no terms table (a header with {TERM_COLUMN['zh']} and {TERM_COLUMN['en']})")


def notation_map(text: str) -> list[tuple[tuple[str, ...], tuple[str, ...]]]:
    """The notation map's rows as (names elsewhere, names here): the code spans of its first and
    last columns, which read the same in both languages."""
    for table in tables(text):
        if len(table[0]) == 3 and all("`" in row[-1] for row in table[1:]):
            return [(tuple(re.findall(r"`([^`]+)`", row[0])), tuple(re.findall(r"`([^`]+)`", row[-1])))
                    for row in table[1:]]
    raise AssertionError("no notation map (a three-column table whose last column is notation)")


def term(cell: str) -> str:
    """The term of a cell, without a parenthesised qualifier: "mask (verb)" -> "mask"."""
    return re.sub(r"\s*[（(][^）)]*[）)]", "", cell).strip()


def row_key(row: dict[str, str]) -> tuple[str, str, str]:
    """What both languages' rows share: the two terms and the link target."""
    link = LINK.search(row[list(row)[-1]])
    return row[TERM_COLUMN["zh"]], row[TERM_COLUMN["en"]], link.group("target") if link else ""


def prose(text: str) -> str:
    """Chinese prose as the wrong-variant check reads it: without code (fences, code spans), link
    targets, heading ids, and the quotations of the source notes."""
    text = FENCED.sub("", text)
    lines = []
    for line in text.splitlines():
        if QUOTING_LINE.match(line):
            line = QUOTATION.sub("", line)
        lines.append(HEADING_ID.sub("", LINK_TARGET.sub("]", INLINE_CODE.sub("", line))))
    return "\n".join(lines)


def wrong_variants(text: str) -> list[tuple[int, str, str]]:
    """(line, what was written, what to write instead) for each wrong variant in the prose."""
    found = []
    for number, line in enumerate(prose(text).splitlines(), 1):
        for pattern, instead in WRONG.items():
            found += [(number, match.group(0), instead) for match in re.finditer(pattern, line)]
    return found


def unused_terms(terms: list[str], texts: list[str], lang: str) -> list[str]:
    """The terms that occur in none of the texts (English case-insensitively)."""
    fold = str.lower if lang == "en" else (lambda s: s)
    joined = fold("\n".join(texts))
    return [t for t in terms if fold(t) not in joined]


def broken_links(text: str, lang: str, docs: Path = site.DOCS) -> list[str]:
    """The links of a page whose page does not exist or has no heading with that id."""
    broken = []
    for match in LINK.finditer(text):
        target = match.group("target")
        if re.match(r"[a-z]+:", target):
            continue
        path, _, anchor = target.partition("#")
        page = text if not path else None
        if path:
            source = docs / path.replace(".md", f".{lang}.md")
            if not source.exists():
                broken.append(f"{target}: no {source.name}")
                continue
            page = source.read_text(encoding="utf-8")
        if anchor and anchor not in EXPLICIT_ID.findall(page):
            broken.append(f"{target}: no heading {{#{anchor}}}")
    return broken


# --- the checks can fail -------------------------------------------------------------------------

FAKE_GLOSSARY = """\
| 中文 | English | 记号 | 在哪里解释 |
| --- | --- | --- | --- |
| 步长 | stride | `stride()` | [形状](shapes.md#strides) |
| 屏蔽 | mask (verb) |  | [掩码](masking.md#no-such-id) |
"""


def test_the_checks_catch_a_wrong_variant_but_not_a_quotation_of_the_notes():
    page = (
        '!!! failure "原始笔记的错误：“种子笔记说 permute 就是转置”"\n'
        "    种子笔记里的说法不对。用 `torch.profiler` 和性能分析器（profiler）都行。\n"
        "> “用 profiler 看”\n"
        "用 profiler 看，被掩码的位置，见第一章和[第 2 章](matmul.md#bmm)，`种子笔记` 是代码。\n"
    )
    found = [(line, written) for line, written, _ in wrong_variants(page)]
    assert found == [(2, "种子笔记"), (4, "profiler"), (4, "被掩码"), (4, "第一章"), (4, "第 2 章")]
    assert wrong_variants("被掩码屏蔽的位置；register_buffer；缓冲区（buffer）；分块大小；线程块大小") == []


def test_the_checks_catch_an_unused_term_a_broken_link_and_a_changed_row():
    rows = terms_table(FAKE_GLOSSARY, "zh")
    assert [term(r["English"]) for r in rows] == ["stride", "mask"]
    assert unused_terms(["步长", "屏蔽"], ["每一维的步长"], "zh") == ["屏蔽"]
    assert unused_terms(["Stride"], ["the strides"], "en") == []
    assert broken_links(FAKE_GLOSSARY, "zh") == ["masking.md#no-such-id: no heading {#no-such-id}"]
    assert broken_links("[x](nowhere.md)", "zh") == ["nowhere.md: no nowhere.zh.md"]
    changed = FAKE_GLOSSARY.replace("| 步长 | stride |", "| 步长 | strides |")
    assert [row_key(r) for r in terms_table(changed, "zh")] != [row_key(r) for r in rows]


# --- the site --------------------------------------------------------------------------------------

def test_both_glossaries_have_the_same_rows():
    texts = {lang: glossary(lang).read_text(encoding="utf-8") for lang in LANGUAGES}
    keys = {lang: [row_key(r) for r in terms_table(texts[lang], lang)] for lang in LANGUAGES}
    assert len(keys["zh"]) > 40
    assert keys["zh"] == keys["en"]
    assert notation_map(texts["zh"]) == notation_map(texts["en"])
    assert len(notation_map(texts["zh"])) > 10


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_term_is_used_on_a_page_other_than_the_glossary(lang):
    rows = terms_table(glossary(lang).read_text(encoding="utf-8"), lang)
    terms = [term(row[TERM_COLUMN[lang]]) for row in rows]
    texts = [p.read_text(encoding="utf-8") for p in sources(lang)]
    assert not unused_terms(terms, texts, lang), f"glossary terms no {lang} page uses"


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_glossary_link_leads_to_a_heading(lang):
    assert not broken_links(glossary(lang).read_text(encoding="utf-8"), lang)


@pytest.mark.parametrize("source", chinese_sources(), ids=lambda p: p.name)
def test_chinese_text_keeps_to_the_glossary(source):
    found = wrong_variants(source.read_text(encoding="utf-8"))
    assert not found, f"{source.name}: " + "; ".join(
        f"line {line}: {written!r} (write {instead})" for line, written, instead in found)
