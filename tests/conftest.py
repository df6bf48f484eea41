"""Fixtures shared by the tests of the built site: one strict build per test session, and the
built site served on 127.0.0.1 for the browser tests."""

from __future__ import annotations

import functools
import http.server
import re
import sys
import threading
from pathlib import Path
from typing import NamedTuple

import pytest

from sitekit.site import CONFIG_FILE
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


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - the base class's signature
        pass


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        if isinstance(sys.exc_info()[1], ConnectionError):
            return  # the browser left a page before a response was sent: not the site's fault
        super().handle_error(request, client_address)


@pytest.fixture(scope="session")
def served_site(site) -> Served:
    """The built site on a free port of 127.0.0.1 (a threaded ``http.server``), for the session."""
    server = _Server(("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(site)))
    thread = threading.Thread(target=server.serve_forever, name="site-server", daemon=True)
    thread.start()
    try:
        yield Served(f"http://127.0.0.1:{server.server_address[1]}", site)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
