"""The site's promise, checked on the page sources: every code block is an include of snippets/,
every page has its twin in the other language with the same includes, and the README, the home
page and CI run the same commands."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from sitekit.build.includes import INCLUDE_LINE, IncludeError, expander, include_targets
from sitekit.testing.pages import RUN_LANGUAGES, make_sybil

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
LANGUAGES = ("zh", "en")
#: Fence languages a page may use. python/pycon run in the tests; bash shows the README's
#: commands, which CI runs (see test_readme_home_page_and_ci_agree).
ALLOWED_FENCE_LANGUAGES = {"python", "pycon", "bash"}

# An independent fence scanner (not the one the runner uses), so that a fence the runner would
# silently skip is still seen here.
FENCE = re.compile(
    r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})(?P<info>[^\n]*)\n(?P<body>.*?)^(?P=indent)(?P=fence)[ \t]*$",
    re.MULTILINE | re.DOTALL,
)


def pages() -> list[Path]:
    return sorted(DOCS.rglob("*.md"))


def fences(path: Path) -> list[tuple[str, str, int]]:
    """(language, body, line) of every fenced block of a page."""
    text = path.read_text(encoding="utf-8")
    found = []
    for match in FENCE.finditer(text):
        info = match.group("info").strip()
        language = re.match(r"[{.]*([\w+-]*)", info).group(1)
        found.append((language, match.group("body"), text.count("\n", 0, match.start()) + 1))
    return found


def twin_key(path: Path) -> tuple[str, str]:
    """('zh', 'shapes.md') for docs/shapes.zh.md."""
    rel = path.relative_to(DOCS).as_posix()
    match = re.fullmatch(r"(?P<stem>.+)\.(?P<lang>[a-z]{2})\.md", rel)
    assert match, f"{rel}: every page is named <page>.zh.md or <page>.en.md"
    return match.group("lang"), match.group("stem") + ".md"


def test_there_are_pages_in_both_languages():
    langs = {twin_key(p)[0] for p in pages()}
    assert langs == set(LANGUAGES)


@pytest.mark.parametrize("page", pages(), ids=lambda p: p.relative_to(DOCS).as_posix())
def test_every_code_block_is_one_include_from_snippets(page):
    problems = []
    for language, body, line in fences(page):
        where = f"{page.relative_to(ROOT)}:{line}"
        if language not in ALLOWED_FENCE_LANGUAGES:
            problems.append(f"{where}: fence language {language!r} is not one of {sorted(ALLOWED_FENCE_LANGUAGES)}")
            continue
        try:
            targets = include_targets(body)
        except IncludeError as error:
            problems.append(f"{where}: {error}")
            continue
        if len(targets) != 1:
            problems.append(f"{where}: {len(targets)} includes; a code block includes exactly one section")
        problems += [f"{where}: {t!r} is not in snippets/" for t in targets if not t.startswith("snippets/")]
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("page", pages(), ids=lambda p: p.relative_to(DOCS).as_posix())
def test_the_runner_collects_every_python_and_pycon_block(page):
    expected = [line for language, _, line in fences(page) if language in RUN_LANGUAGES]
    document = make_sybil(ROOT).parse(page)
    collected = [example.line for example in document.examples()]
    assert collected == expected


def test_gpu_examples_are_labelled_for_the_reader():
    """A block that only runs on a GPU says so in its title, e.g. ```pycon title="GPU"."""
    unlabelled = []
    for page in pages():
        text = page.read_text(encoding="utf-8")
        for match in FENCE.finditer(text):
            info, body = match.group("info"), match.group("body")
            if any(re.search(r":gpu[-_]", target) for target in re.findall(r'"([^"]+)"', body)):
                if not re.search(r'title="[^"]*GPU[^"]*"', info):
                    unlabelled.append(f"{page.name}:{text.count(chr(10), 0, match.start()) + 1}")
    assert not unlabelled, "GPU blocks without a title naming GPU: " + ", ".join(unlabelled)


def test_includes_expand_to_the_section_text():
    include = expander(str(ROOT / "mkdocs.yml")).expand("snippets/shapes.py:split_heads")
    source = (ROOT / include.path).read_text(encoding="utf-8").splitlines()
    assert include.text.splitlines()[0].startswith("def split_heads(")
    assert [source[n - 1] for n in include.line_numbers] == include.text.splitlines()
    assert not any("--8<--" in line for line in include.text.splitlines())


def page_signature(path: Path) -> dict:
    text = path.read_text(encoding="utf-8")
    return {
        "includes": [
            (language, tuple(include_targets(body)))
            for language, body, _ in fences(path)
            if language in ALLOWED_FENCE_LANGUAGES
        ],
        "anchors": re.findall(r"\{#([\w-]+)\}", text),
        "figures": re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text),
        "links": re.findall(r"\]\(([\w./-]+\.md(?:#[\w-]+)?)\)", text),
    }


def test_every_page_has_its_twin_with_the_same_includes_in_the_same_order():
    by_key: dict[str, dict[str, Path]] = {}
    for path in pages():
        lang, key = twin_key(path)
        by_key.setdefault(key, {})[lang] = path
    problems = []
    for key, variants in sorted(by_key.items()):
        missing = set(LANGUAGES) - set(variants)
        if missing:
            problems.append(f"{key}: no {'/'.join(sorted(missing))} page")
            continue
        zh, en = (page_signature(variants[lang]) for lang in LANGUAGES)
        for part in ("includes", "anchors", "figures", "links"):
            if zh[part] != en[part]:
                problems.append(f"{key}: the two languages differ in {part}:\n  zh {zh[part]}\n  en {en[part]}")
    assert not problems, "\n".join(problems)


def test_every_page_is_in_the_nav():
    config = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    nav = set(re.findall(r"^\s*-\s*[^:\n]+:\s*(\S+\.md)\s*$", config, re.MULTILINE))
    keys = {twin_key(p)[1] for p in pages()}
    assert keys == nav


def _readme_block_after(readme: str, marker: str) -> str:
    """The first fenced bash block after the line that contains `marker`."""
    start = readme.index(marker)
    match = re.search(r"```bash\n(.*?)\n```", readme[start:], re.DOTALL)
    assert match, f"no bash block after {marker!r} in README.md"
    return match.group(1).strip()


def _section(name: str) -> str:
    return expander(str(ROOT / "mkdocs.yml")).expand(f"snippets/commands.sh:{name}").text.strip()


def test_readme_home_page_and_ci_agree():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for name in ("serve", "test", "build", "gpu", "evidence", "releases", "upgrade"):
        assert _readme_block_after(readme, f"<!-- command: {name} -->") == _section(name), name
    serve, test = _section("serve"), _section("test")
    ci_lines = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    assert test in ci_lines, ".ci/run must run the README's test command verbatim"
    assert "mkdocs serve -a 127.0.0.1:" in serve
    for page in DOCS.glob("index.*.md"):
        text = page.read_text(encoding="utf-8")
        for name in ("serve", "test", "build", "gpu"):
            assert f'--8<-- "snippets/commands.sh:{name}"' in text, f"{page.name} lacks {name}"


def test_include_lines_name_existing_sections():
    """A cheap early failure (the strict build catches it too)."""
    missing = []
    for page in pages():
        for line in page.read_text(encoding="utf-8").splitlines():
            match = INCLUDE_LINE.match(line)
            if match:
                try:
                    expander(str(ROOT / "mkdocs.yml")).expand(match.group("target"))
                except Exception as error:  # noqa: BLE001 - report every broken include at once
                    missing.append(f"{page.name}: {error}")
    assert not missing, "\n".join(missing)
