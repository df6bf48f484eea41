"""Fixtures shared by the tests of the built site: one strict build per test session, and the
built site served on 127.0.0.1, with one headless Chromium, for the browser tests."""

from __future__ import annotations

import re
from pathlib import Path
from typing import NamedTuple

import pytest

from sitekit.site import CONFIG_FILE
from sitekit.testing.browser import launch, serve
from sitekit.tools.budget import build_site


@pytest.fixture(scope="session")
def site(tmp_path_factory) -> Path:
    """The site, built once with ``mkdocs build --strict`` into a temporary folder. This is the
    check of the strict build: it must succeed without a single warning, or every test of the
    built site fails with the build's output."""
    site_dir = tmp_path_factory.mktemp("site")
    status, output, seconds = build_site(site_dir, CONFIG_FILE)
    assert status == 0, f"mkdocs build --strict failed:\n{output}"
    warnings = [line for line in output.splitlines() if re.match(r"\s*(WARNING|ERROR)\b", line)]
    assert not warnings, "the build printed warnings:\n" + "\n".join(warnings)
    print(f"strict build: {seconds:.1f} s")
    return site_dir


class Served(NamedTuple):
    url: str  # http://127.0.0.1:<port>, no trailing slash
    site_dir: Path


@pytest.fixture(scope="session")
def served_site(site) -> Served:
    """The built site on a free port of 127.0.0.1, for the session."""
    with serve(site) as url:
        yield Served(url, site)


@pytest.fixture(scope="session")
def browser():
    """Headless Chromium, one for the session: the browser test modules share it."""
    with launch() as chromium:
        yield chromium
