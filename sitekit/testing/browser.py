"""Headless Chromium for the browser tests (tests/test_browser.py, tests/test_reading.py) and for
``python3 tests/test_reading.py SITE_DIR``: the system's Chromium driven by Playwright (no browser
download), and a built site served on 127.0.0.1.

Where Chromium or Playwright is missing the browser tests are skipped with a reason that says how
to install it; with ``CI=true`` they fail instead.
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import os
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

CHROMIUM = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
INSTALL = "on Debian, as root: apt-get install chromium fonts-wqy-microhei"
#: Flags that let Chromium run headless as root in a container, quietly and offline.
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


def unavailable(reason: str):
    """Skip, or fail where CI=true: CI must run the browser tests."""
    if in_ci():
        pytest.fail(f"{reason} (CI=true: the browser tests must run)", pytrace=False)
    pytest.skip(reason)


def system_chromium() -> str:
    """The path of the system's Chromium; skips (fails with CI=true) where there is none."""
    path = next(filter(None, map(shutil.which, CHROMIUM)), None)
    if path is None:
        unavailable(f"no Chromium on the PATH ({', '.join(CHROMIUM)}); install it, {INSTALL}")
    return path


def has_cjk_font() -> bool | None:
    """Whether fontconfig knows a Chinese font (None where fc-list is missing)."""
    if not shutil.which("fc-list"):
        return None
    listing = subprocess.run(["fc-list", ":lang=zh", "family"], capture_output=True, text=True)
    return bool(listing.stdout.strip())


@contextlib.contextmanager
def launch() -> Iterator:
    """The system's Chromium, headless, as a Playwright browser (one per process: Playwright's
    sync API runs one instance per thread)."""
    executable = system_chromium()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("the Python package playwright is not installed (it is in the test extras: "
                    "pip install -e '.[test]')")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - the base class's signature
        pass


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        if isinstance(sys.exc_info()[1], ConnectionError):
            return  # the browser left a page before a response was sent: not the site's fault
        super().handle_error(request, client_address)


@contextlib.contextmanager
def serve(site_dir: Path) -> Iterator[str]:
    """The built site on a free port of 127.0.0.1 (a threaded ``http.server``); yields its URL,
    http://127.0.0.1:<port>, without a trailing slash."""
    server = _Server(("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(site_dir)))
    thread = threading.Thread(target=server.serve_forever, name="site-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def local_context(browser, base: str, viewport: dict, refuse_also: str = ""):
    """A browser context that refuses every request to another host than `base` (and those that
    match the pattern `refuse_also`): nothing leaves the machine, and routing turns the HTTP cache
    off, so every page loads what it needs as on a first visit. Under 600 px wide it is a phone's
    (touch, mobile viewport)."""
    phone = viewport["width"] < 600
    context = browser.new_context(viewport=viewport, is_mobile=phone, has_touch=phone,
                                  service_workers="block")
    context.set_default_timeout(15_000)
    # A pattern (not a Python predicate): the browser intercepts only the requests it matches.
    pattern = "^(?!" + re.escape(base) + "(/|$))" + (f"|{refuse_also}" if refuse_also else "")
    context.route(re.compile(pattern), lambda route: route.abort())
    return context
