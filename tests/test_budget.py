"""The page budget (sitekit/tools/budget.py): every page of the built site stays within its transfer
budget and loads nothing from another host (the one check of that promise on the built site); the
measurement itself is checked on small fake sites, and against what a browser loads by
tests/test_browser.py."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from sitekit.site import LANGUAGES, ROOT
from sitekit.tools import budget
from sitekit.tools.budget import KB, NOTEBOOK_BUDGET_KB, PAGE_BUDGET_KB, measure_site, problems, site_pages


@pytest.mark.build
def test_every_page_is_within_its_budget_and_loads_nothing_from_another_host(site):
    report = measure_site(site)
    print("\n" + report.table())
    assert {p.lang for p in report.pages} == set(LANGUAGES)
    found = problems(report.pages)
    assert not found, "\n".join(found)


# --- The measurement, on fake sites --------------------------------------------------------------

PAGE = """<!doctype html>
<html lang="{lang}">
<head>
  <link rel="stylesheet" href="{up}assets/main.css">
  <link rel="icon" href="{up}assets/favicon.png">
  <link rel="canonical" href="https://example.org/">
  <link rel="next" href="{up}other/">
  {extra_head}
</head>
<body>
  <article class="md-content__inner md-typeset">{body}</article>
  <img src="{up}assets/figure.png" alt=""><img src="{up}assets/figure.png" alt="">
  <a href="https://example.org/">a link a reader may follow</a>
  <script id="__config" type="application/json">{{"base": "{base}", "search": "{up}assets/workers/search.js"}}</script>
  <script src="{up}assets/bundle.js"></script>
</body>
</html>
"""


def write(path: Path, data: bytes | str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))


def fake_site(root: Path, *, figure_bytes: int = 1000, extra_head: str = "", body: str = "<p>hi</p>",
              notebook: bool = False) -> Path:
    """Two pages per language (zh at /, en at /en/) in Material's layout."""
    for lang, prefix in (("zh", ""), ("en", "en/")):
        for page in ("", "other/"):
            depth = (prefix + page).count("/")
            up = "../" * depth
            base = "/".join([".."] * (depth - (1 if prefix else 0))) or "."
            html = PAGE.format(lang=lang, up=up, base=base, extra_head=extra_head,
                               body=(f'<div class="jupyter-wrapper">{body}</div>' if notebook and page else body))
            write(root / prefix / page / "index.html", html)
        write(root / prefix / "search" / "search_index.json",
              json.dumps({"config": {"lang": ["en", "zh"]}, "docs": [{"text": "x" * 5000}]}))
    write(root / "404.html", PAGE.format(lang="zh", up="", base=".", extra_head="", body="404"))
    write(root / "assets" / "main.css", "body{background:url(images/bg.png)}" + "a{}" * 100)
    write(root / "assets" / "images" / "bg.png", os.urandom(500))
    write(root / "assets" / "favicon.png", os.urandom(200))
    write(root / "assets" / "figure.png", os.urandom(figure_bytes))  # random: does not compress
    write(root / "assets" / "bundle.js", "console.log(1);" * 100)
    write(root / "assets" / "bundle.js.map", "{}" * 10_000)
    write(root / "assets" / "workers" / "search.js", "importScripts();" * 10)
    for script in budget.lunr_scripts(["en", "zh"]):
        write(root / "assets" / "lunr" / script, "lunr;" * 10)
    return root


def test_a_page_counts_what_it_loads_once_and_not_the_search_index(tmp_path):
    site = fake_site(tmp_path, figure_bytes=3000)
    report = measure_site(site)
    assert [p.path for p in report.pages] == ["/", "/en/", "/en/other/", "/other/"]  # no 404.html
    page = next(p for p in report.pages if p.path == "/en/other/")
    assert page.lang == "en" and page.kind == "page"
    assert sorted(page.files) == [
        "/assets/bundle.js", "/assets/favicon.png", "/assets/figure.png", "/assets/images/bg.png",
        "/assets/lunr/min/lunr.multi.min.js", "/assets/lunr/min/lunr.stemmer.support.min.js",
        "/assets/lunr/min/lunr.zh.min.js", "/assets/main.css", "/assets/workers/search.js",
        "/en/other/",
    ]
    assert page.files["/assets/figure.png"] == (3000, 3000)  # binary: counted as it is, once
    raw, transfer = page.files["/assets/main.css"]
    assert transfer < raw  # text: gzip-compressed
    assert set(report.search_indexes) == {"/search/search_index.json", "/en/search/search_index.json"}
    assert not problems(report.pages)


def flagged(found: list[str], reason: str) -> set[str]:
    """The pages that `found` flags, asserting that each is flagged for `reason`."""
    assert all(reason in f for f in found), found
    return {f.split(":")[0] for f in found}


def test_a_page_over_its_budget_fails(tmp_path):
    site = fake_site(tmp_path, figure_bytes=PAGE_BUDGET_KB * KB)
    found = problems(measure_site(site).pages)
    assert flagged(found, f"over the {PAGE_BUDGET_KB} KB budget of a page") == set(site_pages(site))


def test_a_notebook_page_has_its_own_budget(tmp_path):
    site = fake_site(tmp_path, notebook=True, body="x", figure_bytes=(PAGE_BUDGET_KB + NOTEBOOK_BUDGET_KB) // 2 * KB)
    report = measure_site(site)
    kinds = {p.path: p.kind for p in report.pages}
    assert kinds == {"/": "page", "/other/": "notebook", "/en/": "page", "/en/other/": "notebook"}
    found = problems(report.pages)
    assert sorted(f.split(":")[0] for f in found) == ["/", "/en/"]  # the notebooks fit theirs
    site = fake_site(tmp_path, notebook=True, figure_bytes=NOTEBOOK_BUDGET_KB * KB)
    found = problems(measure_site(site).pages)
    assert any(f.startswith("/other/:") and "budget of a notebook" in f for f in found)


@pytest.mark.parametrize("extra_head", [
    '<script src="https://cdn.example.org/mathjax.js"></script>',
    '<link rel="stylesheet" href="//fonts.example.org/css">',
    '<style>@import "https://fonts.example.org/font.css";</style>',
    '<style>p{background:url(http://example.org/x.png)}</style>',
])
def test_a_page_that_loads_from_another_host_fails(tmp_path, extra_head):
    site = fake_site(tmp_path, extra_head=extra_head)
    found = problems(measure_site(site).pages)
    assert flagged(found, "references another host") == set(site_pages(site))


def test_a_reference_to_a_missing_file_fails(tmp_path):
    site = fake_site(tmp_path)
    (site / "assets" / "figure.png").unlink()
    found = problems(measure_site(site).pages)
    assert flagged(found, "references a missing file: /assets/figure.png") == set(site_pages(site))


def test_the_command_prints_a_table_or_json(tmp_path):
    site = fake_site(tmp_path)
    command = [sys.executable, "-m", "sitekit.tools.budget", "--site-dir", str(site)]
    table = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    assert table.returncode == 0, table.stderr
    assert "Largest page:" in table.stdout and "Median page:" in table.stdout and "Within budget." in table.stdout
    data = json.loads(subprocess.run(command + ["--json"], cwd=ROOT, capture_output=True, text=True).stdout)
    assert [p["path"] for p in data["pages"]] == ["/", "/en/", "/en/other/", "/other/"]
    assert data["budgets_kb"] == {"page": PAGE_BUDGET_KB, "notebook": NOTEBOOK_BUDGET_KB}
    over = fake_site(tmp_path / "big", figure_bytes=PAGE_BUDGET_KB * KB)
    failing = subprocess.run([sys.executable, "-m", "sitekit.tools.budget", "--site-dir", str(over)],
                             cwd=ROOT, capture_output=True, text=True)
    assert failing.returncode == 1 and "OVER" in failing.stdout
