"""Run every code block of every page, exactly as the reader sees it.

Used by the root ``conftest.py``. For each Markdown page under ``docs/`` (both languages):

* every ```` ```python ```` fence is collected, also when its info string carries attributes such
  as ``title="…"`` or ``hl_lines="…"``;
* its single ``--8<--`` include is expanded by pymdownx's own preprocessor, configured from
  ``mkdocs.yml`` (see :mod:`sitekit.build.includes`);
* the blocks run in page order, in one namespace per page, statement by statement (the top-level
  statements of the block). A statement shows what an interactive session would show: what it
  prints, an expression's repr (nothing for None), or ``ExcType: message`` for an exception. What
  it shows must equal the ``#>`` lines right under it, compared as doctest compares output; a
  statement with no ``#>`` lines must show nothing. A line too long for the page may be wrapped
  at its spaces over several ``#>`` lines: a line break between two of them may stand for one
  space of the output, and nothing else is relaxed;
* failures are reported at ``snippets/<file>.py:<line>``, the statement's line;
* fences that include a section named ``gpu_…`` are GPU examples: marked ``gpu`` and skipped with
  the reason "needs a CUDA GPU" where ``torch.cuda.is_available()`` is false.
"""

from __future__ import annotations

import ast
import contextlib
import doctest
import io
import re
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path

from sybil import Document, Region, Sybil
from sybil.parsers.markdown.lexers import RawFencedCodeBlockLexer

from sitekit.testing import releases
from sitekit.build.includes import Include, IncludeError, expander
from sitekit.testing.releases import RECORD, REWRITE

#: Languages whose fences run. Anything after the language (attributes) is allowed.
RUN_LANGUAGES = ("python",)
INFO = re.compile(r"(?P<language>[\w+-]*)(?P<attributes>[^\n]*)$\n", re.MULTILINE)
GPU_SKIP_REASON = "needs a CUDA GPU"
#: One line of expected output: ``#> text`` (``#>`` alone: an empty line).
OUTPUT = re.compile(r"^(?P<indent>[ \t]*)#>(?: (?P<text>.*))?$")
#: Options for comparing output (doctest's OutputChecker): exact, as doctest compares it.
CHECK_FLAGS = 0
#: The widest ``#>`` line: a code block of the site shows about 78 characters.
WIDTH = 78


def unwraps_to(want: str, got: str) -> bool:
    """Whether ``got`` is ``want`` with some of its line breaks read as one space each: a long
    output line wrapped at its spaces over several ``#>`` lines. Only a break between two
    non-empty lines may be a space; every other character must be equal."""
    lines = want.split("\n")
    pattern = re.escape(lines[0])
    for before, after in zip(lines, lines[1:]):
        pattern += ("[ \n]" if before and after else "\n") + re.escape(after)
    return re.fullmatch(pattern, got) is not None


class OutputChecker(doctest.OutputChecker):
    """doctest's comparison, which also accepts an output line wrapped over several ``#>``
    lines (:func:`unwraps_to`)."""

    def check_output(self, want: str, got: str, optionflags: int) -> bool:
        return super().check_output(want, got, optionflags) or unwraps_to(want, got)


def wrap(shown: str, indent: str) -> list[str]:
    """The lines of ``shown`` as ``#>`` lines under a statement indented by ``indent``: each
    line longer than the page allows wrapped at its spaces, outside brackets where it can be.
    A line with no space to break at, or with runs of spaces (aligned columns), stays whole."""
    width = WIDTH - len(indent) - len("#> ")
    lines = []
    for line in shown.split("\n"):
        while len(line) > width and line == " ".join(line.split()) and " " in line:
            cut = _break(line, width)
            lines.append(line[:cut])
            line = line[cut + 1 :]
        lines.append(line)
    return lines


def _break(line: str, width: int) -> int:
    """Where to break ``line``: of its spaces in the second half of ``width``, the last one
    among the least deep in brackets; else its last space within ``width``; else its first."""
    depth, spaces = 0, []
    for i, char in enumerate(line):
        depth += (char in "([{") - (char in ")]}")
        if char == " ":
            spaces.append((depth, -i))
    late = [space for space in spaces if width // 2 <= -space[1] <= width]
    if late:
        return -min(late)[1]
    fits = [-i for _, i in spaces if -i <= width]
    return max(fits) if fits else -spaces[0][1]


def fence_lexer() -> RawFencedCodeBlockLexer:
    """Every fenced block, whatever its info string (we filter by language ourselves)."""
    return RawFencedCodeBlockLexer(info_pattern=INFO)


class PageParser:
    """Turns each python fence of a page into one example."""

    def __init__(self, config_file: Path):
        self.config_file = Path(config_file)
        self.lexer = fence_lexer()

    def __call__(self, document: Document):
        for region in self.lexer(document):
            language = region.lexemes["language"]
            if language not in RUN_LANGUAGES:
                continue
            body = str(region.lexemes["source"])
            try:
                include = expander(str(self.config_file)).expand_fence(body)
            except IncludeError as error:
                region.parsed = error
                region.evaluator = _report_bad_fence
            else:
                region.parsed = include
                region.evaluator = run_python
            yield Region(region.start, region.end, region.parsed, region.evaluator)


def _report_bad_fence(example) -> str:
    return f"{example.path}, line {example.line}: {example.parsed}"


@dataclass
class Statement:
    """Top-level statements of a block that end on one line, and the ``#>`` lines under them."""

    nodes: list[ast.stmt]
    first: str  # the first line of its source, as shown
    line: int  # its first line in the snippet file
    last: int  # its last line in the snippet file
    want: str  # the expected output: the `#>` lines without their prefix, or "" for none
    want_line: int  # the snippet file's line of its first `#>` line (or where one would go)
    want_count: int  # how many `#>` lines it has


def statements(include: Include) -> list[Statement]:
    """Split an included block into statements with their expected output."""
    lines = include.text.splitlines()
    numbers = include.line_numbers
    tree = ast.parse(include.text, filename=include.path)
    groups: list[list[ast.stmt]] = []
    for node in tree.body:  # statements that end on one line share the `#>` lines under it
        if groups and groups[-1][-1].end_lineno == node.end_lineno:
            groups[-1].append(node)
        else:
            groups.append([node])
    used: set[int] = set()
    result = []
    for nodes in groups:
        end = nodes[-1].end_lineno  # 1-based line in the block; `#>` lines start at index `end`
        want = []
        while end + len(want) < len(lines) and OUTPUT.match(lines[end + len(want)]):
            want.append(OUTPUT.match(lines[end + len(want)]).group("text") or "")
        used.update(range(end, end + len(want)))
        start = nodes[0].lineno
        result.append(
            Statement(
                nodes=nodes,
                first=lines[start - 1].strip(),
                line=numbers[start - 1],
                last=numbers[end - 1],
                want="".join(w + "\n" for w in want),
                want_line=numbers[end] if want else numbers[end - 1] + 1,
                want_count=len(want),
            )
        )
    inside = {n for s in tree.body for n in range(s.lineno - 1, s.end_lineno)}
    for i, line in enumerate(lines):
        if OUTPUT.match(line) and i not in used and i not in inside:
            raise IncludeError(
                f"{include.path}:{numbers[i]}: a `#>` output line with no statement above it"
            )
    _remap_lines(tree, include)
    return result


def _remap_lines(tree: ast.AST, include: Include) -> None:
    """Give every node the line number it has in the snippet file."""
    numbers = include.line_numbers
    for node in ast.walk(tree):
        for attr in ("lineno", "end_lineno"):
            value = getattr(node, attr, None)
            if value is not None and 1 <= value <= len(numbers):
                setattr(node, attr, numbers[value - 1])


def _snippet_traceback(error: BaseException, include: Include) -> str:
    frames = [
        frame
        for frame in traceback.extract_tb(error.__traceback__)
        if frame.filename == include.path
    ]
    lines = [f"{include.path}:{frame.lineno}: {frame.line}" for frame in frames] or [
        f"{include.location}:"
    ]
    return "\n".join(lines + [_exception(error).rstrip()])


def _exception(error: BaseException) -> str:
    """An exception as a session shows it after its traceback: ``ExcType: message``."""
    return "".join(traceback.format_exception_only(type(error), error))


def show(statement: Statement, include: Include, namespace: dict) -> tuple[str, BaseException | None]:
    """Run one statement; return what it shows (printed output, the repr of an expression's
    value, and the exception it raised, if any) and that exception."""
    code = compile(ast.Interactive(body=statement.nodes), include.path, "single")
    out = io.StringIO()
    hook, sys.displayhook = sys.displayhook, sys.__displayhook__  # repr to sys.stdout
    try:
        with contextlib.redirect_stdout(out):
            exec(code, namespace)
    except Exception as error:  # shown, as in a session
        return out.getvalue() + _exception(error), error
    finally:
        sys.displayhook = hook
    return out.getvalue(), None


def run_python(example) -> str | None:
    """Run an included ``python`` block in the page's namespace, statement by statement, and
    check what each statement shows against the ``#>`` lines under it.

    A statement that prints something else on the running torch release (a ``Differs`` entry of
    :mod:`sitekit.testing.releases`) is checked against that release's output instead.
    """
    include: Include = example.parsed
    try:
        block = statements(include)
    except (SyntaxError, IncludeError) as error:
        return f"{include.target}: {error}"
    version = releases.running()
    checker = OutputChecker()
    failures = []
    stopped = False
    for statement in block:
        want = statement.want
        entry = None if REWRITE.enabled else releases.differs(include.target, statement.first, version)
        if entry is not None:
            want = entry.output + "\n"
        got = matched = None
        if not stopped:
            got, error = show(statement, include, example.namespace)
            matched = checker.check_output(want, got, CHECK_FLAGS)
            if error is not None and not want:  # an exception nobody expected: stop here
                failures.append(f"{include.target} raised:\n{_snippet_traceback(error, include)}")
                stopped = True
            elif not matched:
                difference = checker.output_difference(
                    doctest.Example(statement.first, want), got, CHECK_FLAGS
                )
                failures.append(
                    f"{include.path}:{statement.line}: {statement.first}\n{difference}"
                    f"failing example at {include.path}:{statement.line}"
                )
                if REWRITE.enabled:
                    source = Path(example.path).parents[1] / include.path
                    line = source.read_text(encoding="utf-8").splitlines()[statement.line - 1]
                    indent = line[: len(line) - len(line.lstrip())]
                    REWRITE.add(include.path, statement.want_line, statement.want_count,
                                wrap(got.rstrip("\n"), indent), statement.line)
        if releases.recorded(include.target, statement.first):
            RECORD.append(
                {
                    "page": example.path.rsplit("docs/", 1)[-1],
                    "target": include.target,
                    "source": statement.first,
                    "line": statement.line,
                    # the page's output as one text: its wrapped `#>` lines as the run printed them
                    "shown": (got if got is not None and unwraps_to(statement.want, got)
                              else statement.want).rstrip("\n"),
                    "printed": None if got is None else got.rstrip("\n"),
                    "checked": bool(matched),
                }
            )
    return "\n".join(failures) + "\n" if failures else None


def page_setup(namespace: dict) -> None:
    """Every page starts from the same random state."""
    import torch

    torch.manual_seed(0)


def make_sybil(root: Path) -> Sybil:
    return Sybil(
        parsers=[PageParser(root / "mkdocs.yml")],
        patterns=["*.md"],
        path=str(root / "docs"),
        setup=page_setup,
        name="pages",
    )


def mark_gpu_items(items) -> None:
    """Mark page examples that include a `gpu_…` section, and skip all gpu items without CUDA.

    Also skip the examples of sections that the running torch release lacks an API for (the
    ``Needs`` entries of :mod:`sitekit.testing.releases`), with the entry's reason."""
    import pytest

    cuda = None
    version = None
    for item in items:
        example = getattr(item, "example", None)
        parsed = getattr(example, "parsed", None)
        if isinstance(parsed, Include):
            if parsed.is_gpu:
                item.add_marker(pytest.mark.gpu)
            version = version or releases.running()
            needed = releases.needed(parsed.target)
            if needed is not None:
                skipped = not releases.holds(needed.releases, version)
                if skipped:
                    reason = f"needs torch{needed.releases}: {needed.why}"
                    item.add_marker(pytest.mark.skip(reason=reason))
                RECORD.append(
                    {
                        "page": example.path.rsplit("docs/", 1)[-1],
                        "target": parsed.target,
                        "source": None,
                        "line": parsed.first_line,
                        "needs": needed.releases,
                        "skipped": skipped,
                    }
                )
        if item.get_closest_marker("gpu") is not None:
            if cuda is None:
                import torch

                cuda = torch.cuda.is_available()
            if not cuda:
                item.add_marker(pytest.mark.skip(reason=GPU_SKIP_REASON))
