"""Collect every page of docs/ as tests: see sitekit/testing/pages.py. Two options serve other torch
releases (sitekit/testing/releases.py): ``--record-release FILE`` writes what the release-dependent
examples printed, ``--rewrite-outputs`` writes every failing example's output into its snippet."""

import json
import time
from pathlib import Path

import pytest

from sitekit.testing import releases
from sitekit.testing.pages import make_sybil, mark_gpu_items

ROOT = Path(__file__).parent

pytest_plugins = ["pytester"]  # tests/test_runner.py runs pytest on small copies of the project

pytest_collect_file = make_sybil(ROOT).pytest()


def pytest_addoption(parser):
    group = parser.getgroup("releases", "other torch releases (sitekit/testing/releases.py)")
    group.addoption("--record-release", metavar="FILE", help="write this run's results file")
    group.addoption(
        "--rewrite-outputs",
        action="store_true",
        help="write what each failing example printed into its snippet file (review the diff)",
    )


def pytest_configure(config):
    releases.REWRITE.enabled = config.getoption("rewrite_outputs")
    config._release_started = time.monotonic()


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    mark_gpu_items(items)


def pytest_sessionfinish(session, exitstatus):
    config = session.config
    if releases.REWRITE.enabled:
        for path in releases.REWRITE.apply(ROOT):
            print(f"\nrewrote expected output in {path}")
    target = config.getoption("record_release")
    if target:
        stats = config.pluginmanager.get_plugin("terminalreporter").stats
        counts = [
            f"{len(stats[key])} {key}"
            for key in ("failed", "passed", "skipped", "error", "deselected")
            if stats.get(key)
        ]
        seconds = time.monotonic() - config._release_started
        data = releases.results(", ".join(counts), seconds)
        Path(target).parent.mkdir(parents=True, exist_ok=True)
        Path(target).write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n")
