"""The Chinese sources are written so that the browser shows no stray space inside Chinese text.

A browser shows a line break inside a paragraph as a space, which Chinese text does not have:
"文件的\\n内容" reads "文件的 内容". So a Chinese paragraph is one line; a break is fine only
where a space is wanted (between Chinese and Latin text or code, outside punctuation).
"""

from __future__ import annotations

import re

import pytest

from sitekit import site

CJK = re.compile("[\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uff00-\uffef]")
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
