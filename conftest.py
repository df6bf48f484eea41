"""Collect every page of docs/ as tests: see sitekit/pages.py."""

from pathlib import Path

import pytest

from sitekit.pages import make_sybil, mark_gpu_items

pytest_plugins = ["pytester"]  # tests/test_runner.py runs pytest on small copies of the project

pytest_collect_file = make_sybil(Path(__file__).parent).pytest()


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    mark_gpu_items(items)
