"""Expand ``--8<--`` includes exactly as the site build does, and remember where each line came from.

The pages never hold code: each python fence holds one include line such as::

    --8<-- "snippets/shapes.py:split_heads"

The text that runs in the tests is produced by pymdownx's own snippet preprocessor, configured
from ``mkdocs.yml`` (so it is the text the reader sees). Alongside it we compute, for every
included line, its line number in the snippet file, so that a failure points at
``snippets/<file>.py:<line>``.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path

#: One include line: ``--8<-- "path"`` or ``--8<-- "path:section"``.
INCLUDE_LINE = re.compile(r'^[ \t]*-{1,}8<-{1,}[ \t]+(["\'])(?P<target>.+?)\1[ \t]*$')
#: A section marker inside a snippet file (the same shape pymdownx accepts).
SECTION_MARKER = re.compile(
    r"-{1,}8<-{1,}[ \t]+\[[ \t]*(?P<type>start|end)[ \t]*:[ \t]*(?P<name>[a-z][-_0-9a-z]*)[ \t]*\]",
    re.IGNORECASE,
)
#: A section target: ``path:name`` (line-range targets are not used by this site).
SECTION_TARGET = re.compile(r"^(?P<path>.+?)(?::(?P<section>[a-z][-_0-9a-z]*))?$", re.IGNORECASE)

#: Sections whose name starts with this prefix are GPU examples.
GPU_PREFIX = re.compile(r"^gpu[-_]", re.IGNORECASE)


class IncludeError(ValueError):
    """A fence on a page is not a single, well-formed include of a snippet section."""


@dataclass(frozen=True)
class Include:
    """The code one fence shows: the expanded text and where each line lives."""

    target: str  # as written on the page, e.g. "snippets/shapes.py:split_heads"
    path: str  # the snippet file, relative to the repository root
    section: str | None
    text: str  # exactly what the reader sees (pymdownx's expansion)
    line_numbers: tuple[int, ...]  # 1-based line in `path` of each line of `text`

    @property
    def first_line(self) -> int:
        return self.line_numbers[0] if self.line_numbers else 1

    @property
    def location(self) -> str:
        return f"{self.path}:{self.first_line}"

    @property
    def is_gpu(self) -> bool:
        return bool(self.section and GPU_PREFIX.match(self.section))


def include_targets(fence_body: str) -> list[str]:
    """The include targets of a fence body, or an IncludeError if it holds anything else."""
    lines = [line for line in fence_body.splitlines() if line.strip()]
    targets = []
    for line in lines:
        match = INCLUDE_LINE.match(line)
        if match is None:
            raise IncludeError(
                f"code written on the page instead of included from snippets/: {line.strip()!r}"
            )
        targets.append(match.group("target"))
    return targets


class Expander:
    """pymdownx.snippets configured from mkdocs.yml, plus a line map for every include."""

    def __init__(self, config_file: Path):
        import markdown

        from sitekit import site

        self.root = Path(config_file).resolve().parent
        options = next(
            dict(extension["pymdownx.snippets"])
            for extension in site.config(Path(config_file).resolve())["markdown_extensions"]
            if isinstance(extension, dict) and "pymdownx.snippets" in extension
        )
        # `!relative $config_dir` in mkdocs.yml: the folder of the configuration file.
        options["base_path"] = [
            str(self.root) if hasattr(path, "value") else path for path in options.get("base_path", [])
        ]
        md = markdown.Markdown(
            extensions=["pymdownx.snippets"], extension_configs={"pymdownx.snippets": options}
        )
        self._preprocessor = md.preprocessors["snippet"]

    def expand_fence(self, fence_body: str) -> Include:
        targets = include_targets(fence_body)
        if len(targets) != 1:
            raise IncludeError(
                f"a code block must include exactly one snippet section, found {len(targets)}: "
                f"{targets!r}"
            )
        return self.expand(targets[0])

    def expand(self, target: str) -> Include:
        match = SECTION_TARGET.match(target)
        path, section = match.group("path"), match.group("section")
        if not path.startswith("snippets/"):
            raise IncludeError(f"includes must come from the snippets/ package, not {target!r}")
        file = self.root / path
        if not file.is_file():
            raise IncludeError(f"{target!r}: no such snippet file {path}")
        # What the reader sees: pymdownx's own expansion of the include line.
        self._preprocessor.seen = set()
        expanded = self._preprocessor.run([f'--8<-- "{target}"'])
        source_lines = file.read_text(encoding="utf-8").splitlines()
        numbers = _section_line_numbers(source_lines, section, target)
        if len(numbers) != len(expanded) or any(
            source_lines[n - 1].strip() != shown.strip() for n, shown in zip(numbers, expanded)
        ):
            raise IncludeError(f"{target!r}: could not map the included lines back to {path}")
        return Include(
            target=target,
            path=path,
            section=section,
            text="\n".join(expanded) + "\n",
            line_numbers=tuple(numbers),
        )


def _section_line_numbers(lines: list[str], section: str | None, target: str) -> list[int]:
    """1-based numbers of the lines pymdownx keeps for `section` (all marker lines dropped)."""
    if section is None:
        return [i for i, line in enumerate(lines, 1) if not SECTION_MARKER.search(line)]
    numbers: list[int] = []
    inside = found = False
    for i, line in enumerate(lines, 1):
        marker = SECTION_MARKER.search(line)
        if marker and marker.group("name") == section:
            if marker.group("type") == "start":
                inside = found = True
                continue
            break
        if marker:
            continue
        if inside:
            numbers.append(i)
    if not found:
        raise IncludeError(f"{target!r}: section {section!r} not found")
    return numbers


@functools.lru_cache(maxsize=None)
def expander(config_file: str) -> Expander:
    return Expander(Path(config_file))
