"""The supported torch range is stated once and agrees everywhere, every tested release has a
results file whose run passed, and each file shows exactly what sitekit/testing/releases.py says that
release prints."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

import pytest

from sitekit.testing import releases
from sitekit.build.includes import expander

ROOT = Path(__file__).resolve().parents[1]
RESULTS = sorted(releases.RESULTS_DIR.glob("torch-*.json"))


def command(name: str) -> str:
    return expander(str(ROOT / "mkdocs.yml")).expand(f"snippets/commands.sh:{name}").text.strip()


def test_the_range_is_stated_once():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert f"torch>={releases.FLOOR}" in project["project"]["dependencies"]
    assert f'"torch=={releases.PINNED}"' in command("test")
    assert f'"torch=={releases.PINNED}"' in command("serve")
    assert f'"pages({releases.NEWEST})"' in command("releases")
    tested = [releases.release(v) for v in releases.TESTED]
    assert tested == sorted(tested) and len(set(tested)) == len(tested)
    assert releases.TESTED[0] == releases.FLOOR and releases.TESTED[-1] == releases.NEWEST
    assert releases.PINNED in releases.TESTED
    for page in ("README.md", "docs/index.en.md"):
        assert f"{releases.FLOOR} to {releases.NEWEST}" in (ROOT / page).read_text(encoding="utf-8")
    assert f"{releases.FLOOR} 到 {releases.NEWEST}" in (ROOT / "docs/index.zh.md").read_text("utf-8")


def test_every_tested_release_has_a_passing_results_file():
    recorded = {json.loads(p.read_text())["release"]: p.name for p in RESULTS}
    assert sorted(recorded) == sorted(releases.TESTED)
    for path in RESULTS:
        run = json.loads(path.read_text(encoding="utf-8"))
        assert path.name == f"torch-{run['release']}.json"
        assert run["torch"].split("+")[0] == run["release"]
        assert re.fullmatch(r"\d+ passed(, \d+ (skipped|deselected))*", run["summary"]), (
            f"{path.name}: {run['summary']}"
        )
        for key in ("build", "device", "device_name", "date", "wall_s"):
            assert run[key], f"{path.name} lacks {key}"


@pytest.mark.parametrize("path", RESULTS, ids=[p.name for p in RESULTS])
def test_a_results_file_shows_what_the_registry_says(path):
    """Each example named in DIFFERS printed the entry's output on the entry's releases and the
    page's output elsewhere; each section named in NEEDS was skipped exactly where it must be."""
    run = json.loads(path.read_text(encoding="utf-8"))
    version = releases.release(run["release"])
    seen = {(e["target"], e["source"]): e for e in run["examples"]}
    for entry in releases.DIFFERS:
        example = seen.get((entry.target, entry.source))
        assert example is not None, f"{path.name} did not record {entry.target}: {entry.source}"
        assert example["checked"], f"{path.name}: {entry.source} did not print what was expected"
        if releases.differs(entry.target, entry.source, version) is entry:
            assert example["printed"] == entry.output
            assert example["printed"] != example["shown"], f"{entry} prints what the page shows"
        else:
            assert example["printed"] == example["shown"]
    skipped = {e["target"] for e in run["examples"] if e.get("skipped")}
    assert skipped == {e.target for e in releases.NEEDS if not releases.holds(e.releases, version)}


def test_the_page_table_lists_every_run_and_every_difference():
    text = releases.page_markdown("en", ROOT / "docs")
    for path in RESULTS:
        run = json.loads(path.read_text(encoding="utf-8"))
        assert f"| {run['release']} |" in text
    for entry in releases.DIFFERS:
        assert f"`{entry.source}`" in text
    assert text.count(" (shown on the page)") == len(releases.DIFFERS) + len(releases.NEEDS)


def test_each_scoped_example_says_so_on_its_pages():
    """A page that includes an example scoped to releases links to the table of what each
    release printed, in both languages."""
    targets = {e.target for e in releases.DIFFERS} | {e.target for e in releases.NEEDS}
    for target in targets:
        pages = [p for p in (ROOT / "docs").glob("*.md") if f'--8<-- "{target}"' in p.read_text("utf-8")]
        assert len(pages) == 2, f"{target} is included by {[p.name for p in pages]}"
        for page in pages:
            assert "(evidence.md#releases)" in page.read_text(encoding="utf-8"), page.name
