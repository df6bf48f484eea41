"""Run every code block of every page, exactly as the reader sees it.

Used by the root ``conftest.py``. For each Markdown page under ``docs/`` (both languages):

* every ```` ```python ```` and ```` ```pycon ```` fence is collected, also when its info string
  carries attributes such as ``title="…"`` or ``hl_lines="…"``;
* its single ``--8<--`` include is expanded by pymdownx's own preprocessor, configured from
  ``mkdocs.yml`` (see :mod:`sitekit.build.includes`);
* ``python`` fences are executed and ``pycon`` fences are checked as doctests, in page order, in
  one namespace per page;
* failures are reported at ``snippets/<file>.py:<line>``;
* fences that include a section named ``gpu_…`` are GPU examples: marked ``gpu`` and skipped with
  the reason "needs a CUDA GPU" where ``torch.cuda.is_available()`` is false.
"""

from __future__ import annotations

import ast
import doctest
import io
import re
import traceback
from pathlib import Path

from sybil import Document, Region, Sybil
from sybil.parsers.markdown.lexers import RawFencedCodeBlockLexer

from sitekit.testing import releases
from sitekit.build.includes import Include, IncludeError, expander
from sitekit.testing.releases import RECORD, REWRITE

#: Languages whose fences run. Anything after the language (attributes) is allowed.
RUN_LANGUAGES = ("python", "pycon")
INFO = re.compile(r"(?P<language>[\w+-]*)(?P<attributes>[^\n]*)$\n", re.MULTILINE)
GPU_SKIP_REASON = "needs a CUDA GPU"
#: Doctest options for every pycon block: output is compared exactly, except that a traceback's
#: middle lines are elided as usual.
DOCTEST_FLAGS = 0


def fence_lexer() -> RawFencedCodeBlockLexer:
    """Every fenced block, whatever its info string (we filter by language ourselves)."""
    return RawFencedCodeBlockLexer(info_pattern=INFO)


class PageParser:
    """Turns each python/pycon fence of a page into one example."""

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
                region.evaluator = run_python if language == "python" else run_pycon
            yield Region(region.start, region.end, region.parsed, region.evaluator)


def _report_bad_fence(example) -> str:
    return f"{example.path}, line {example.line}: {example.parsed}"


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
    detail = "".join(traceback.format_exception_only(type(error), error)).rstrip()
    return "\n".join(lines + [detail])


def run_python(example) -> str | None:
    """Execute an included ``python`` block in the page's namespace."""
    include: Include = example.parsed
    tree = ast.parse(include.text, filename=include.path)
    _remap_lines(tree, include)
    code = compile(tree, include.path, "exec")
    try:
        exec(code, example.namespace)
    except Exception as error:  # reported as a failure of this example, at the snippet line
        return f"{include.target} raised:\n{_snippet_traceback(error, include)}"
    return None


class _Runner(doctest.DocTestRunner):
    """A doctest runner that remembers what each example printed."""

    def __init__(self):
        super().__init__(checker=_Checker(self), verbose=False, optionflags=DOCTEST_FLAGS)
        self.current: doctest.Example | None = None
        self.printed: dict[int, tuple[str, bool]] = {}  # id(example) -> (got, matched)

    def report_start(self, out, test, example):
        self.current = example
        super().report_start(out, test, example)


class _Checker(doctest.OutputChecker):
    def __init__(self, runner: _Runner):
        self.runner = runner

    def check_output(self, want, got, optionflags):
        matched = super().check_output(want, got, optionflags)
        self.runner.printed[id(self.runner.current)] = (got, matched)
        return matched


def _expect(ex: doctest.Example, output: str) -> None:
    """Make ``output`` (an exception's last line, or what is printed) the example's expectation."""
    if ex.exc_msg is not None:
        ex.exc_msg = output + "\n"
        ex.want = "Traceback (most recent call last):\n  ...\n" + ex.exc_msg
    else:
        ex.want = output + "\n"


def run_pycon(example) -> str | None:
    """Check an included ``pycon`` block as a doctest in the page's namespace.

    An example that prints something else on the running torch release (a ``Differs`` entry of
    :mod:`sitekit.testing.releases`) is checked against that release's output instead.
    """
    include: Include = example.parsed
    test = doctest.DocTestParser().get_doctest(
        include.text, {}, include.target, include.path, 0
    )
    test.globs = example.namespace  # DocTest copies its globals; the page shares one namespace
    version = releases.running()
    shown = {}
    for ex in test.examples:
        # doctest reports `test.lineno + ex.lineno + 1`; make that the snippet file's line.
        ex.lineno = include.line_numbers[ex.lineno] - 1
        shown[id(ex)] = ex.want if ex.exc_msg is None else ex.exc_msg
        entry = None if REWRITE.enabled else releases.differs(include.target, _first(ex), version)
        if entry is not None:
            _expect(ex, entry.output)
    runner = _Runner()
    out = io.StringIO()
    result = runner.run(test, out=out.write, clear_globs=False)
    for ex in test.examples:
        got, matched = runner.printed.get(id(ex), (None, False))
        if releases.recorded(include.target, _first(ex)):
            RECORD.append(
                {
                    "page": example.path.rsplit("docs/", 1)[-1],
                    "target": include.target,
                    "source": _first(ex),
                    "line": ex.lineno + 1,
                    "shown": shown[id(ex)].rstrip("\n"),
                    "printed": None if got is None else got.rstrip("\n"),
                    "checked": matched,
                }
            )
        if REWRITE.enabled and got is not None and not matched:
            REWRITE.add(include, ex, got)
    if result.failed:
        return out.getvalue() + _locations(out.getvalue(), include)
    return None


def _first(ex: doctest.Example) -> str:
    return ex.source.splitlines()[0]


def _locations(report: str, include: Include) -> str:
    """One `snippets/x.py:LINE` line per failing example, easy to click in a terminal."""
    lines = re.findall(r'File "' + re.escape(include.path) + r'", line (\d+)', report)
    return "".join(f"failing example at {include.path}:{n}\n" for n in lines)


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
