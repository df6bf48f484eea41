"""Pure functions of sitekit/build/hooks.py that change page Markdown before it is rendered."""

from __future__ import annotations

from sitekit.build.hooks import join_cjk_lines


def test_chinese_soft_line_breaks_are_joined_without_a_space():
    assert join_cjk_lines("写进结果文件的\n内容；下面\n每张表。") == "写进结果文件的内容；下面每张表。"
    # after Chinese punctuation, anything continues the line
    assert join_cjk_lines("各章用例子证明结论，\n`view` 不复制。") == "各章用例子证明结论，`view` 不复制。"


def test_a_break_between_chinese_and_latin_text_stays_a_space():
    assert join_cjk_lines("一个中文\nPyTorch 版本") == "一个中文\nPyTorch 版本"
    assert join_cjk_lines("the `view`\n不复制") == "the `view`\n不复制"


def test_blocks_are_not_joined_to_the_paragraph_above():
    for block in ("- 列表项", "1. 第一步", "| 表 | 格 |", "## 标题", '!!! info "说明"', "```python",
                  "<!-- evidence: gpu -->", '--8<-- "snippets/shapes.py:imports"', "> 引用"):
        assert join_cjk_lines(f"一段中文\n{block}") == f"一段中文\n{block}", block


def test_list_items_and_admonitions_keep_their_structure():
    text = "- 第一项很长的\n  续行\n- 第二项\n\n!!! info \"本页\"\n    缩进的\n    段落。\n"
    assert join_cjk_lines(text) == "- 第一项很长的续行\n- 第二项\n\n!!! info \"本页\"\n    缩进的段落。\n"


def test_headings_tables_hard_breaks_and_code_are_left_alone():
    assert join_cjk_lines("# 标题\n正文") == "# 标题\n正文"
    assert join_cjk_lines("| 中 | 文 |\n第二行") == "| 中 | 文 |\n第二行"
    assert join_cjk_lines("硬换行  \n下一行") == "硬换行  \n下一行"
    code = "```python\n# 中文\n# 注释\n```"
    assert join_cjk_lines(code) == code
