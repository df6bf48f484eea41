"""The Chinese sources are written so that the browser shows no stray space inside Chinese text.

A browser shows a line break inside a paragraph as a space, which Chinese text does not have:
"文件的\\n内容" reads "文件的 内容". So a Chinese paragraph is one line; a break is fine only
where a space is wanted (between Chinese and Latin text or code, outside punctuation). A space
typed between two Chinese characters, or next to the markup around one ("用 **与**", "：** 会"),
shows the same way: the second check reads the text as the browser shows it.
"""

from __future__ import annotations

import re

import pytest

from sitekit import site

CJK = re.compile("[\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uff00-\uffef\u2014\u2026]")
#: A line that starts a block of its own rather than continuing the paragraph above it.
BLOCK_START = re.compile(r"^\s*(?:[-*+] |\d+[.)] |\||#|!!!|\?\?\?|```|~~~|<|--8<--|>|: |\[\^|---)")
SOURCES = site.pages("zh") + sorted((site.ROOT / "notebooks").glob("*.zh.md"))


def soft_breaks_in_chinese(text: str) -> list[int]:
    """1-based numbers of the lines that continue a paragraph after a break inside Chinese text."""
    found, fence, previous = [], False, ""
    for number, line in enumerate(text.split("\n"), 1):
        if line.lstrip().startswith(("```", "~~~")):
            fence, previous = not fence, ""
            continue
        if fence or not line.strip() or BLOCK_START.match(line):
            previous = "" if fence or not line.strip() else line
            continue
        last = previous.rstrip()[-1:] if previous and not previous.endswith("  ") else ""
        ends_chinese = bool(last) and CJK.match(last) and not previous.lstrip().startswith(("#", "|", "!!!", "<"))
        if ends_chinese and (CJK.match(line.lstrip()[0]) or not last.isalnum()):
            found.append(number)
        previous = line
    return found


def test_the_check_finds_a_break_inside_chinese_text():
    assert soft_breaks_in_chinese("文件的\n内容") == [2]
    assert soft_breaks_in_chinese("结论，\n`view` 不复制。") == [2]  # after punctuation: no space wanted
    assert soft_breaks_in_chinese("一个中文\nPyTorch 版本") == []  # a space between Chinese and Latin
    assert soft_breaks_in_chinese("一段中文\n- 列表项\n```python\n# 中文\n# 注释\n```") == []
    assert soft_breaks_in_chinese("- 第一项\n  续行") == [2]


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.name)
def test_no_chinese_paragraph_breaks_inside_chinese_text(source):
    lines = soft_breaks_in_chinese(source.read_text(encoding="utf-8"))
    assert not lines, f"{source.name}: join these lines to the line above them: {lines}"


#: Chinese characters and punctuation, Chinese quotation marks included.
CHINESE = "\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uff00-\uffef\u2018\u2019\u201c\u201d\u2014\u2026"
STRAY_SPACE = re.compile(f"[{CHINESE}]\\s+[{CHINESE}]")
#: Markup the browser does not show, replaced by what it shows: a code span by a Latin letter
#: (code is set apart by its own spacing), a link or an image by its text, attribute lists and
#: tags and emphasis marks by nothing.
MARKUP = [
    (re.compile(r"`[^`]*`"), "x"),
    (re.compile(r"<(https?://[^>]*)>"), r"\1"),
    (re.compile(r"!?\[([^\]]*)\]\([^)]*\)"), r"\1"),
    (re.compile(r"\{[#:][^}]*\}|<[^>]*>|\*+"), ""),
]
#: What starts a block and is not shown: list markers, heading hashes, quote marks, admonition
#: heads (their title is shown), definition marks.
BLOCK_PREFIX = re.compile(r"^\s*(?:[-*+] |\d+[.)] |#+ |> |: |(?:!!!|\?\?\?\+?) *[\w-]+ *)")


def shown_paragraphs(text: str) -> list[tuple[int, str]]:
    """(first line, text as shown) of every paragraph, list item, heading and table cell outside
    code fences and front matter; the lines of one paragraph are joined by a space."""
    found, fence, paragraph, start = [], False, [], 0
    lines = text.split("\n")
    if lines[0] == "---":  # front matter
        lines = [""] * (lines.index("---", 1) + 1) + lines[lines.index("---", 1) + 1 :]

    def close():
        if paragraph:
            shown = " ".join(paragraph)
            for pattern, replacement in MARKUP:
                shown = pattern.sub(replacement, shown)
            found.extend((start, cell.strip().strip('"')) for cell in shown.split("|"))
            paragraph.clear()

    for number, line in enumerate(lines, 1):
        if line.lstrip().startswith(("```", "~~~")):
            close()
            fence = not fence
        elif fence or not line.strip() or line.lstrip().startswith(("<!--", "--8<--")):
            close()
        else:
            if BLOCK_START.match(line):
                close()
            if not paragraph:
                start = number
            paragraph.append(BLOCK_PREFIX.sub("", line).strip())
    close()
    return found


def stray_spaces(text: str) -> list[str]:
    """'line N: …' for every space the browser shows between two Chinese characters or marks."""
    return [
        f"line {number}: {shown[max(0, m.start() - 8) : m.end() + 8]!r}"
        for number, shown in shown_paragraphs(text)
        for m in STRAY_SPACE.finditer(shown)
    ]


def test_the_check_finds_a_space_shown_inside_chinese_text():
    wrong = [
        "形状： 每个",  # typed after punctuation
        "单元格。\n请从",  # a line break inside the paragraph
        "返回\n**序列在前**的张量",  # a break before emphasis
        "用 **与**（`&`）组合",  # a space before emphasis
        "**写给谁：** 会写一点",  # a space after emphasis
        "[掩码一章](masking.md)\n写明了",  # a break after a link
        "从哪来”\n心里没底",  # after a Chinese quotation mark
        "- 第一项\n  续行",  # a list item's continuation
        "!!! note \"标题 里\"\n    正文",  # an admonition title
        "| 问题 | 答 案 |",  # a table cell
    ]
    for text in wrong:
        assert stray_spaces(text), text
    right = [
        "一个中文\nPyTorch 版本",  # a space between Chinese and Latin text
        "会抛出 `RuntimeError`，见[拆分多头](shapes.md#split-heads)。",
        "地址 <http://127.0.0.1:8000/>，英文",  # an autolink shows its address
        "条件 → “floating-point masks”；",
        "| 问题 | 答案 |\n| --- | --- |",  # cells are separate
        "## 小结 {#summary}\n\n段落。",
        "```python\n# 中文 注释\n```",  # code is not prose
        "---\nsummary: \"中文 摘要\"\n---\n\n# 标题",  # front matter is not shown as such
    ]
    for text in right:
        assert not stray_spaces(text), text


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.name)
def test_no_space_is_shown_between_chinese_characters(source):
    found = stray_spaces(source.read_text(encoding="utf-8"))
    assert not found, f"{source.name}: remove the space (or join the lines):\n" + "\n".join(found)
