"""Hosting on GitHub Pages, as the README promises it: the workflow runs the README's test command
on every push to main and every pull request, runs the floor, the pinned and the newest torch
release, and deploys the strictly built site from main only, after the tests passed; site_url is
the repository's Pages address; one 404 page at the site root, in every language; a sitemap that
lists every page with its alternates."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from urllib.parse import urlsplit

import pytest
import yaml

from sitekit.build.includes import expander
from sitekit.site import CONFIG_FILE, LANGUAGES, ROOT, config, language_of, site_url, url_prefix
from sitekit.testing import releases
from sitekit.tools.budget import site_pages

WORKFLOW = ROOT / ".github" / "workflows" / "docs.yml"
MAIN_ONLY = "github.event_name == 'push' && github.ref == 'refs/heads/main'"


def command(name: str) -> str:
    """A command of the README (tests/test_promise.py checks that the README shows these)."""
    return expander(str(CONFIG_FILE)).expand(f"snippets/commands.sh:{name}").text.strip()


# --- The workflow ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def workflow() -> dict:
    return yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))


def runs(job: dict) -> list[str]:
    """The lines the job's steps run, in order."""
    return [line.strip() for step in job.get("steps", []) for line in step.get("run", "").splitlines()]


def step_running(job: dict, line: str) -> int:
    """The index of the job's first step that runs `line`."""
    found = [i for i, step in enumerate(job["steps"]) if line in map(str.strip, step.get("run", "").splitlines())]
    assert found, f"no step runs {line!r}"
    return found[0]


def test_the_workflow_tests_pushes_to_main_and_pull_requests_and_deploys_main_only_if_they_pass(workflow):
    on = workflow.get("on", workflow.get(True))  # YAML 1.1 reads a bare `on` as true
    assert "main" in on["push"]["branches"] and "pull_request" in on
    build, deploy = workflow["jobs"]["build"], workflow["jobs"]["deploy"]
    (upload,) = [step for step in build["steps"] if "upload-pages-artifact" in step.get("uses", "")]
    # The README's test command, then its strict build, then the upload: a step runs only when
    # the steps before it succeeded.
    assert step_running(build, command("test")) < step_running(build, command("build")) < build["steps"].index(upload)
    assert upload["if"] == MAIN_ONLY and deploy["if"] == MAIN_ONLY
    assert deploy["needs"] == "build"


def test_the_workflow_runs_the_floor_the_pin_and_the_newest_release(workflow):
    job = workflow["jobs"]["releases"]
    assert job["strategy"]["matrix"]["torch"] == [releases.FLOOR, releases.PINNED, releases.NEWEST]
    shown = command("releases").replace(f"pages({releases.NEWEST})", "pages(${{ matrix.torch }})")
    assert shown.splitlines() == runs(job)[-len(shown.splitlines()) :]  # its lines, in order


def test_site_url_is_the_pages_address_of_the_repository():
    repo = urlsplit(config()["repo_url"])
    assert repo.scheme == "https" and repo.netloc == "github.com"
    owner, name = repo.path.strip("/").split("/")
    assert config()["repo_name"] == f"{owner}/{name}"
    assert site_url() == f"https://{owner.lower()}.github.io/{name}/"


# --- The built site -------------------------------------------------------------------------------


@pytest.mark.build
def test_one_404_page_at_the_site_root_leads_to_the_home_page_of_every_language(site):
    """GitHub Pages serves only the root 404.html, at any address: its links are absolute under
    site_url's path."""
    base = urlsplit(site_url()).path  # "/mha-tensor-ops/"
    html = (site / "404.html").read_text(encoding="utf-8")
    for lang in LANGUAGES:
        assert config()["extra"]["ui"][lang]["not_found_title"] in html, f"404.html: no {lang} text"
        assert f'href="{base}{url_prefix(lang)}"' in html, f"404.html: no link to the {lang} home page"
    others = [p.relative_to(site).as_posix() for p in site.rglob("404.html") if p != site / "404.html"]
    assert not others, f"404 pages besides the root one, which GitHub Pages never serves: {others}"
    for href in re.findall(r'(?:href|src)="(/[^"]*)"', html):
        assert href.startswith(base), f"404.html: {href} is outside {base}"
        assert href.endswith("/") or (site / href[len(base):].split("#")[0]).exists(), f"404.html: {href}"


@pytest.mark.build
def test_the_sitemap_lists_every_page_with_its_alternates(site):
    ns = {"s": "http://www.sitemaps.org/schemas/sitemap/0.9", "x": "http://www.w3.org/1999/xhtml"}

    def below_root(url: str) -> str:
        assert url.startswith(site_url()), url
        return url[len(site_url()):]

    listed = []
    for entry in ET.parse(site / "sitemap.xml").getroot().findall("s:url", ns):
        url = below_root(entry.find("s:loc", ns).text)
        page = url[len(url_prefix(language_of(url))):]  # "en/shapes/" -> "shapes/"
        alternates = {a.get("hreflang"): below_root(a.get("href")) for a in entry.findall("x:link", ns)}
        assert alternates == {lang: url_prefix(lang) + page for lang in LANGUAGES}, url
        listed.append("/" + url)
    assert sorted(listed) == site_pages(site)
