"""The page runner itself: a wrong expected output (the `#>` lines under a statement) fails and
names the snippet file and line, a statement that shows something without `#>` lines fails, fences
with attributes are collected, inline code is refused, GPU examples are marked and skipped,
and examples scoped to torch releases (sitekit/testing/releases.py) are checked, skipped, recorded and
rewritten as that module says.

Each test builds a small copy of the project in a temporary folder and runs pytest there.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
import torch

from sitekit.testing import releases

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def project(pytester: pytest.Pytester) -> Path:
    """A copy of the runner's configuration: conftest.py, mkdocs.yml and the folders it names."""
    path = pytester.path
    shutil.copy(ROOT / "conftest.py", path / "conftest.py")
    shutil.copy(ROOT / "mkdocs.yml", path / "mkdocs.yml")
    # The folders mkdocs.yml names (hooks, theme overrides, watched sources) must exist for it to load.
    for folder in ("sitekit", "figures", "overrides", "notebooks"):
        if (ROOT / folder).is_dir():
            shutil.copytree(ROOT / folder, path / folder, ignore=shutil.ignore_patterns("__pycache__"))
    (path / "docs").mkdir()
    (path / "snippets").mkdir()
    return path


def test_a_changed_expected_output_fails_naming_the_snippet_file(pytester, project):
    shutil.copy(ROOT / "docs" / "shapes.en.md", project / "docs" / "shapes.en.md")
    source = (ROOT / "snippets" / "shapes.py").read_text(encoding="utf-8")
    lines = source.splitlines()
    target = lines.index("    q.stride()") + 1  # 0-based index of its `#>` line
    assert lines[target] == "    #> (12, 2, 4, 1)"
    lines[target] = "    #> (12, 4, 2, 1)"
    (project / "snippets" / "shapes.py").write_text("\n".join(lines) + "\n", encoding="utf-8")

    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "docs")

    outcomes = result.parseoutcomes()  # however many blocks the page has: only this one fails
    assert outcomes["failed"] == 1 and "errors" not in outcomes
    output = result.stdout.str()
    assert f"snippets/shapes.py:{target}: q.stride()" in output  # 1-based line of the statement
    assert "Expected:\n    (12, 4, 2, 1)\nGot:\n    (12, 2, 4, 1)" in output


PAGE = """\
# Runner check

```python title="snippets/demo.py"
--8<-- "snippets/demo.py:setup"
```

```python hl_lines="1"
--8<-- "snippets/demo.py:uses_setup"
```

```python
--8<-- "snippets/demo.py:broken"
```

```python
--8<-- "snippets/demo.py:gpu_check"
```
"""

DEMO = '''\
import torch

# --8<-- [start:setup]
def double(x):
    return 2 * x
# --8<-- [end:setup]

# --8<-- [start:broken]
y = double(1)
z = undefined_name + y
# --8<-- [end:broken]


def sessions():
    """The demo's sessions, run by the page."""
    # --8<-- [start:uses_setup]
    double(21)
    #> 42
    print("a"); print("b")  # two statements, one line: their output is under it
    #> a
    #> b
    double("no") + 1
    #> TypeError: can only concatenate str (not "int") to str
    # --8<-- [end:uses_setup]

    # --8<-- [start:gpu_check]
    import torch
    torch.cuda.is_available()
    #> True
    # --8<-- [end:gpu_check]
'''


def test_attributes_namespace_errors_and_gpu_examples(pytester, project):
    (project / "docs" / "demo.en.md").write_text(PAGE, encoding="utf-8")
    (project / "snippets" / "demo.py").write_text(DEMO, encoding="utf-8")

    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-rs", "docs")
    output = result.stdout.str()

    gpu = torch.cuda.is_available()
    # title= and hl_lines= fences are collected; the page shares one namespace; the broken block
    # fails at its own line in the snippet file; the GPU example is skipped without CUDA.
    result.assert_outcomes(passed=3 if gpu else 2, failed=1, skipped=0 if gpu else 1)
    assert "snippets/demo.py:10: z = undefined_name + y" in output
    assert "NameError: name 'undefined_name' is not defined" in output
    if not gpu:
        assert re.search(r"SKIPPED \[1\] .*needs a CUDA GPU", output)

    selected = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-m", "gpu", "docs")
    selected.assert_outcomes(passed=1 if gpu else 0, skipped=0 if gpu else 1, deselected=3)


SHOWS = '''\
def sessions():
    # --8<-- [start:shows]
    x = 1
    x + 1
    x + 2
    #> 3
    {}["key"]
    #> KeyError: 'other'
    # --8<-- [end:shows]
'''


def _one_block_page(project: Path, name: str, snippet: str) -> None:
    """docs/<name>.en.md: one code block, the section <name> of snippets/<name>.py."""
    (project / "docs" / f"{name}.en.md").write_text(
        f'# {name.title()}\n\n```python\n--8<-- "snippets/{name}.py:{name}"\n```\n', encoding="utf-8"
    )
    (project / "snippets" / f"{name}.py").write_text(snippet, encoding="utf-8")


def test_each_statement_must_show_its_output_lines_and_nothing_else(pytester, project):
    _one_block_page(project, "shows", SHOWS)

    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "docs")
    result.assert_outcomes(failed=1)
    output = result.stdout.str()
    # an expression with no `#>` lines shows its value; a wrong exception message; both reported
    assert "snippets/shows.py:4: x + 1\nExpected nothing\nGot:\n    2" in output
    assert "snippets/shows.py:5: x + 2" not in output
    assert "Expected:\n    KeyError: 'other'\nGot:\n    KeyError: 'key'" in output


def test_inline_code_on_a_page_fails(pytester, project):
    (project / "docs" / "inline.en.md").write_text(
        "# Inline\n\n```python\n1 + 1\n#> 2\n```\n", encoding="utf-8"
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "docs")
    result.assert_outcomes(failed=1)
    assert "code written on the page instead of included from snippets/" in result.stdout.str()


RELEASE_PAGE = """\
# Releases

```python
--8<-- "snippets/demo.py:setup"
```

```python
--8<-- "snippets/demo.py:uses_setup"
```
"""


def _registry(project: Path, entries: str) -> None:
    """Append entries to the copy's sitekit/testing/releases.py (the running release is always >= 0)."""
    path = project / "sitekit" / "testing" / "releases.py"
    path.write_text(path.read_text(encoding="utf-8") + entries, encoding="utf-8")


def test_a_release_that_prints_something_else_is_held_to_its_own_output(pytester, project):
    (project / "docs" / "demo.en.md").write_text(RELEASE_PAGE, encoding="utf-8")
    (project / "snippets" / "demo.py").write_text(DEMO, encoding="utf-8")
    _registry(project, 'DIFFERS = (Differs("snippets/demo.py:uses_setup", "double(21)", ">=0", "43"),)\n')

    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "docs")
    result.assert_outcomes(failed=1, passed=1)
    assert "Expected:\n    43\nGot:\n    42" in result.stdout.str()


def test_a_section_a_release_cannot_run_is_skipped_and_recorded(pytester, project):
    (project / "docs" / "demo.en.md").write_text(RELEASE_PAGE, encoding="utf-8")
    (project / "snippets" / "demo.py").write_text(DEMO, encoding="utf-8")
    _registry(project, 'NEEDS = (Needs("snippets/demo.py:uses_setup", "<0", "double() is new"),)\n')

    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "-rs", "docs", "--record-release=run.json"
    )
    result.assert_outcomes(passed=1, skipped=1)
    assert "needs torch<0: double() is new" in result.stdout.str()
    run = json.loads((project / "run.json").read_text(encoding="utf-8"))
    assert run["summary"] == "1 passed, 1 skipped"
    assert run["release"] == str(releases.running())
    assert [(e["needs"], e["skipped"]) for e in run["examples"]] == [("<0", True)]


def test_rewrite_outputs_writes_what_the_release_printed(pytester, project):
    (project / "docs" / "demo.en.md").write_text(RELEASE_PAGE, encoding="utf-8")
    wrong = DEMO.replace("#> 42\n", "#> 41\n").replace("    #> b\n", "")
    (project / "snippets" / "demo.py").write_text(wrong, encoding="utf-8")

    first = pytester.runpytest_subprocess("-p", "no:cacheprovider", "docs", "--rewrite-outputs")
    first.assert_outcomes(failed=1, passed=1)
    assert (project / "snippets" / "demo.py").read_text(encoding="utf-8") == DEMO
    again = pytester.runpytest_subprocess("-p", "no:cacheprovider", "docs")
    again.assert_outcomes(passed=2)


WRAPPED = '''\
def sessions():
    # --8<-- [start:wrapped]
    print("one two three four")
    #> one two
    #> three four
    print("one two three four")
    #> one two
    #> three for
    print("one two", "three four", sep="\\n")
    #> one two three four
    # --8<-- [end:wrapped]
'''


def test_an_output_line_may_be_wrapped_over_several_output_lines_and_nothing_else(
    pytester, project
):
    _one_block_page(project, "wrapped", WRAPPED)

    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "docs")
    result.assert_outcomes(failed=1)
    output = result.stdout.str()
    # the wrapped output passes; a wrong word in a wrapped output fails, shown as written;
    # a break in the output is not a space of the expected text
    assert "snippets/wrapped.py:3:" not in output
    assert (
        "snippets/wrapped.py:6: print(\"one two three four\")\nExpected:\n"
        "    one two\n    three for\nGot:\n    one two three four\n"
    ) in output
    assert "snippets/wrapped.py:9:" in output


def test_unwraps_to_reads_only_a_break_between_two_lines_as_a_space():
    from sitekit.testing.pages import unwraps_to, wrap

    assert unwraps_to("a b\nc d\n", "a b c d\n")
    assert unwraps_to("a b\nc d\n", "a b\nc d\n")
    assert not unwraps_to("a b\nc d\n", "a b  c d\n")  # two spaces
    assert not unwraps_to("a b\nc d\n", "a bc d\n")  # no space
    assert not unwraps_to("a b\n\nc d\n", "a b  c d\n")  # an empty line stays a line
    assert not unwraps_to("a b c d\n", "a b\nc d\n")  # the output's breaks stay breaks
    assert not unwraps_to("a.b\n", "axb\n")  # the text is literal, not a pattern
    message = "ValueError: " + " ".join(["word"] * 40)
    lines = wrap(message, "    ")
    assert len(lines) > 1 and all(len("    #> " + line) <= 78 for line in lines)
    assert unwraps_to("\n".join(lines) + "\n", message + "\n")
    aligned = "tensor([[" + ",  ".join(["1.0000"] * 12) + "]])"
    assert wrap(aligned, "") == [aligned]  # columns aligned with spaces are never wrapped


RECORDED = '''\
def sessions():
    # --8<-- [start:recorded]
    print("a long output line, wrapped")
    #> a long output
    #> line, wrapped
    # --8<-- [end:recorded]
'''


def test_a_recorded_wrapped_output_is_recorded_as_the_one_line_it_stands_for(
    pytester, project
):
    _one_block_page(project, "recorded", RECORDED)
    source = 'print("a long output line, wrapped")'
    _registry(project, f'DIFFERS = (Differs("snippets/recorded.py:recorded", {source!r}, "<0", "x"),)\n')

    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "docs", "--record-release=run.json"
    )
    result.assert_outcomes(passed=1)
    (example,) = json.loads((project / "run.json").read_text(encoding="utf-8"))["examples"]
    assert example["shown"] == example["printed"] == "a long output line, wrapped"


def test_rewrite_outputs_wraps_a_long_output_line_to_fit_the_page(pytester, project):
    long = " ".join(["word"] * 30)
    _one_block_page(project, "recorded", RECORDED.replace("a long output line, wrapped", long, 1))

    first = pytester.runpytest_subprocess("-p", "no:cacheprovider", "docs", "--rewrite-outputs")
    first.assert_outcomes(failed=1)
    lines = (project / "snippets" / "recorded.py").read_text(encoding="utf-8").splitlines()
    shown = [line for line in lines if line.lstrip().startswith("#>")]
    assert len(shown) > 1 and all(len(line) <= 78 for line in shown)
    assert " ".join(line.split("#> ", 1)[1] for line in shown) == long
    again = pytester.runpytest_subprocess("-p", "no:cacheprovider", "docs")
    again.assert_outcomes(passed=1)
