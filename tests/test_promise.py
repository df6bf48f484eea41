"""The site's promise, checked on the page sources: every code block is one include of snippets/
and is run by the test suite, every page has its twin in every language with the same includes,
and the README, the home page and CI run the same commands."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from sitekit.build.includes import IncludeError, expander, include_targets
from sitekit.build.notebooks import sources
from sitekit.site import CONFIG_FILE, DEFAULT_LANGUAGE, DOCS, FENCE, LANGUAGES, ROOT, config, other_languages, pages, twin
from sitekit.testing.pages import RUN_LANGUAGES, make_sybil

#: Fence languages a page may use: the ones the runner runs, and bash for the README's commands
#: (tests/test_hosting.py and test_readme_home_page_and_ci_agree below check that CI runs them).
ALLOWED_FENCE_LANGUAGES = {*RUN_LANGUAGES, "bash"}
#: A fence that sitekit.site.FENCE does not see (indented, or made of tildes): pages use none.
UNSEEN_FENCE = re.compile(r"^(?:[ \t]+`{3,}|[ \t]*~{3,})", re.MULTILINE)

PAGES = [page for lang in LANGUAGES for page in pages(lang)]


def fences(path: Path) -> list[tuple[str, str, str, int]]:
    """(language, info string, body, line) of every fenced block of a page."""
    text = path.read_text(encoding="utf-8")
    found = []
    for match in FENCE.finditer(text):
        info = match.group("info").strip()
        language = re.match(r"[{.]*([\w+-]*)", info).group(1)
        found.append((language, info, match.group("body"), text.count("\n", 0, match.start()) + 1))
    return found


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_code_block_is_one_include_from_snippets(page):
    problems = [f"{page.name}:{page.read_text(encoding='utf-8').count(chr(10), 0, m.start()) + 1}: "
                "an indented or ~~~ fence" for m in UNSEEN_FENCE.finditer(page.read_text(encoding="utf-8"))]
    for language, _, body, line in fences(page):
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


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_the_runner_runs_every_code_block_but_the_shell_commands(page):
    expected = [line for language, _, _, line in fences(page) if language in RUN_LANGUAGES]
    document = make_sybil(ROOT).parse(page)
    assert [example.line for example in document.examples()] == expected


def test_gpu_examples_are_labelled_for_the_reader():
    """A block that only runs on a GPU says so in its title, e.g. ```python title="GPU"."""
    unlabelled = [
        f"{page.name}:{line}"
        for page in PAGES
        for _, info, body, line in fences(page)
        if any(re.search(r":gpu[-_]", target) for target in re.findall(r'"([^"]+)"', body))
        and not re.search(r'title="[^"]*GPU[^"]*"', info)
    ]
    assert not unlabelled, "GPU blocks without a title naming GPU: " + ", ".join(unlabelled)


def test_includes_expand_to_the_section_text():
    include = expander(str(CONFIG_FILE)).expand("snippets/shapes.py:split_heads")
    source = (ROOT / include.path).read_text(encoding="utf-8").splitlines()
    assert include.text.splitlines()[0].startswith("def split_heads(")
    assert [source[n - 1] for n in include.line_numbers] == include.text.splitlines()
    assert not any("--8<--" in line for line in include.text.splitlines())


def page_signature(path: Path) -> dict:
    text = path.read_text(encoding="utf-8")
    return {
        "includes": [(language, tuple(include_targets(body)))
                     for language, _, body, _ in fences(path) if language in ALLOWED_FENCE_LANGUAGES],
        "anchors": re.findall(r"\{#([\w-]+)\}", text),
        "figures": re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text),
        "links": re.findall(r"\]\(([\w./-]+\.md(?:#[\w-]+)?)\)", text),
    }


def test_every_page_has_its_twin_with_the_same_includes_in_the_same_order():
    assert pages(DEFAULT_LANGUAGE), "docs/ has no pages"
    misnamed = [p.name for p in DOCS.glob("*.md") if p not in PAGES]
    assert not misnamed, f"pages not named <page>.<language>.md for a language of the site: {misnamed}"
    problems = []
    for page in pages(DEFAULT_LANGUAGE):
        for lang in other_languages(DEFAULT_LANGUAGE):
            other = twin(page, lang)
            if not other.exists():
                problems.append(f"{page.name}: no {other.name}")
                continue
            first, second = page_signature(page), page_signature(other)
            for part in first:
                if first[part] != second[part]:
                    problems.append(f"{page.name} and {other.name} differ in {part}:\n"
                                    f"  {first[part]}\n  {second[part]}")
    problems += [f"{page.name}: no {twin(page, DEFAULT_LANGUAGE).name}" for lang in other_languages(DEFAULT_LANGUAGE)
                 for page in pages(lang) if not twin(page, DEFAULT_LANGUAGE).exists()]
    assert not problems, "\n".join(problems)


def nav_files(nav) -> list[str]:
    """The files of mkdocs.yml's nav: entries are "file.md", {title: "file.md"} or {title: [...]}."""
    if isinstance(nav, str):
        return [nav]
    if isinstance(nav, dict):
        return [file for value in nav.values() for file in nav_files(value)]
    return [file for entry in nav for file in nav_files(entry)]


def test_every_page_and_notebook_is_in_the_nav():
    names = {f"{page.name.split('.')[0]}.md" for page in PAGES}
    names |= {f"{source.name}.ipynb" for source in sources()}
    assert sorted(nav_files(config()["nav"])) == sorted(names)


def _readme_commands() -> dict[str, str]:
    """name -> the bash block right under each ``<!-- command: name -->`` line of the README."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    found = re.findall(r"^<!-- command: ([\w-]+) -->\n```bash\n(.*?)\n```", readme, re.MULTILINE | re.DOTALL)
    assert len(found) == readme.count("<!-- command:"), "a command marker without a bash block right under it"
    return dict(found)


def _section(name: str) -> str:
    return expander(str(CONFIG_FILE)).expand(f"snippets/commands.sh:{name}").text.strip()


def test_readme_home_page_and_ci_agree():
    commands = _readme_commands()
    assert {"serve", "test", "build", "gpu"} <= set(commands), f"README commands: {sorted(commands)}"
    for name, text in commands.items():
        assert text.strip() == _section(name), f"README's {name} command is not snippets/commands.sh:{name}"
    ci_lines = [line.strip() for line in (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()]
    assert _section("test") in ci_lines, ".ci/run must run the README's test command verbatim"
    for page in (page for page in PAGES if page.name.startswith("index.")):
        text = page.read_text(encoding="utf-8")
        for name in ("serve", "test", "build", "gpu"):
            assert f'--8<-- "snippets/commands.sh:{name}"' in text, f"{page.name} lacks {name}"
