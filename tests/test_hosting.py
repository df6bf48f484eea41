"""Hosting on GitHub Pages: the workflow tests, builds and deploys (from main only); the site's
addresses are right under site_url's sub-path; the language switcher of every built page lands on
the same page in the other language; each language has its 404 page; the sitemap lists every page
with its alternates; and the repository link makes no request to another host."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

from sitekit.testing import releases

ROOT = Path(__file__).resolve().parents[1]
WORKFLOW = ROOT / ".github" / "workflows" / "docs.yml"
LANGUAGES = ("zh", "en")
DEFAULT_LANGUAGE = "zh"
SWITCHER = re.compile(r'<a href="([^"]+)" hreflang="([a-z]{2})" class="md-select__link"')


def mkdocs_setting(name: str) -> str:
    match = re.search(rf"^{name}:[ \t]*(\S+)[ \t]*$", (ROOT / "mkdocs.yml").read_text(encoding="utf-8"), re.MULTILINE)
    assert match, f"mkdocs.yml has no {name}"
    return match.group(1).strip("\"'")


def readme_command(name: str) -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    start = readme.index(f"<!-- command: {name} -->")
    return re.search(r"```bash\n(.*?)\n```", readme[start:], re.DOTALL).group(1).strip()


# --- The workflow ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def workflow() -> dict:
    return yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))


def steps(job: dict) -> list[dict]:
    return job.get("steps", [])


def runs(job: dict) -> list[str]:
    return [line.strip() for step in steps(job) for line in step.get("run", "").splitlines()]


def test_the_workflow_runs_on_pushes_to_main_and_on_pull_requests(workflow):
    on = workflow.get("on", workflow.get(True))  # YAML 1.1 reads a bare `on` as true
    assert on["push"]["branches"] == ["main"]
    assert "pull_request" in on


def test_the_workflow_runs_the_floor_the_pin_and_the_newest(workflow):
    job = workflow["jobs"]["releases"]
    assert job["strategy"]["matrix"]["torch"] == [releases.FLOOR, releases.PINNED, releases.NEWEST]
    command = readme_command("releases")
    assert command.replace(f"pages({releases.NEWEST})", "pages(${{ matrix.torch }})") in runs(job)


def test_the_workflow_tests_with_the_readme_command_verbatim_on_python_3_11(workflow):
    build = workflow["jobs"]["build"]
    assert readme_command("test") in runs(build)
    image = build.get("container", "")
    image = image.get("image", "") if isinstance(image, dict) else image
    python_setup = [s for s in steps(build) if "actions/setup-python" in s.get("uses", "")]
    assert image.startswith("python:3.11") or any(
        str(s.get("with", {}).get("python-version")) == "3.11" for s in python_setup
    ), "Python 3.11: a python:3.11 container or actions/setup-python with 3.11"
    # The pinned torch comes from PyTorch's CPU index, not as a CUDA build from PyPI.
    assert build["env"]["PIP_EXTRA_INDEX_URL"] == "https://download.pytorch.org/whl/cpu"
    # The browser tests get Debian's Chromium and a CJK font before the tests run.
    install = next(i for i, line in enumerate(runs(build)) if "apt-get install" in line)
    assert {"chromium", "fonts-wqy-microhei"} <= set(runs(build)[install].split())
    assert install < runs(build).index(readme_command("test"))


def test_the_workflow_builds_strictly_and_deploys_only_from_main(workflow):
    build, deploy = workflow["jobs"]["build"], workflow["jobs"]["deploy"]
    build_command = readme_command("build")
    assert build_command == "python3 -m mkdocs build --strict"
    assert runs(build).index(build_command) > runs(build).index(readme_command("test"))
    upload = next(s for s in steps(build) if s.get("uses", "").startswith("actions/upload-pages-artifact@"))
    assert upload["with"]["path"] == "site"
    main_only = "github.event_name == 'push' && github.ref == 'refs/heads/main'"
    assert upload["if"] == main_only and deploy["if"] == main_only
    assert deploy["needs"] == "build"
    assert [s["uses"].split("@")[0] for s in steps(deploy)] == ["actions/deploy-pages"]
    assert deploy["permissions"] == {"pages": "write", "id-token": "write"}
    assert deploy["environment"]["name"] == "github-pages"
    assert deploy["concurrency"]["cancel-in-progress"] is False  # a deployment is never cut short
    assert workflow["permissions"] == {"contents": "read"}  # nothing else may write


def test_site_url_is_the_pages_address_of_the_repository():
    repo = urlsplit(mkdocs_setting("repo_url"))
    assert repo.scheme == "https" and repo.netloc == "github.com"
    owner, name = repo.path.strip("/").split("/")
    assert mkdocs_setting("repo_name") == f"{owner}/{name}"
    assert mkdocs_setting("site_url") == f"https://{owner.lower()}.github.io/{name}/"


# --- The built site -------------------------------------------------------------------------------


def html_pages(site: Path) -> list[Path]:
    return sorted(
        p for p in site.rglob("*.html") if p.name != "404.html" and "assets" not in p.relative_to(site).parts
    )


def language_of(rel: str) -> str:
    first = rel.split("/")[0]
    return first if first in LANGUAGES and first != DEFAULT_LANGUAGE else DEFAULT_LANGUAGE


def twin(rel: str, lang: str) -> str:
    """The same page in language `lang`: ``shapes/index.html`` <-> ``en/shapes/index.html``."""
    bare = rel[3:] if language_of(rel) != DEFAULT_LANGUAGE else rel
    return bare if lang == DEFAULT_LANGUAGE else f"{lang}/{bare}"


def resolve(page: Path, href: str, site: Path) -> Path:
    assert not urlsplit(href).scheme and not href.startswith("/"), f"{href}: not relative"
    target = (page.parent / href.split("#")[0]).resolve()
    return target / "index.html" if target.is_dir() else target


@pytest.mark.build
def test_every_switcher_link_is_relative_and_lands_on_the_same_page(site):
    pages = html_pages(site)
    assert len(pages) >= 20
    problems = []
    for page in pages:
        rel = page.relative_to(site).as_posix()
        links = dict((lang, href) for href, lang in SWITCHER.findall(page.read_text(encoding="utf-8")))
        if set(links) != set(LANGUAGES):
            problems.append(f"{rel}: switcher languages {sorted(links)}")
            continue
        for lang, href in links.items():
            try:
                target = resolve(page, href, site)
            except AssertionError as error:
                problems.append(f"{rel}: {error}")
                continue
            expected = (site / twin(rel, lang)).resolve()
            if target != expected:
                problems.append(f"{rel}: {lang} switcher {href!r} -> {target}, not {expected}")
    assert not problems, "\n".join(problems)


@pytest.mark.build
def test_each_language_has_its_404_page(site):
    base = urlsplit(mkdocs_setting("site_url")).path  # "/mha-tensor-ops/"
    for lang, path in (("zh", "404.html"), ("en", "en/404.html")):
        html = (site / path).read_text(encoding="utf-8")
        assert f'<html lang="{lang}"' in html, path
        # Served at any address, so its links are absolute under site_url's path.
        links = dict((lang, href) for href, lang in SWITCHER.findall(html))
        assert links == {"zh": base, "en": f"{base}en/"}, f"{path}: {links}"
        home = base if lang == DEFAULT_LANGUAGE else f"{base}{lang}/"
        assert f'<a href="{home}" class="md-button' in html, path
        for href in re.findall(r'(?:href|src)="(/[^"]*)"', html):
            assert href.startswith(base), f"{path}: {href} is outside {base}"
            assert (site / href[len(base):].split("#")[0]).exists() or href.endswith("/"), f"{path}: {href}"
    assert "找不到" in (site / "404.html").read_text(encoding="utf-8")
    assert "Page not found" in (site / "en" / "404.html").read_text(encoding="utf-8")


@pytest.mark.build
def test_the_sitemap_lists_every_page_with_its_alternates(site):
    site_url = mkdocs_setting("site_url")
    ns = {"s": "http://www.sitemaps.org/schemas/sitemap/0.9", "x": "http://www.w3.org/1999/xhtml"}
    urls = ET.parse(site / "sitemap.xml").getroot().findall("s:url", ns)

    def page_of(url: str) -> str:
        assert url.startswith(site_url), url
        rel = url[len(site_url):]
        return rel + "index.html" if rel.endswith("/") or rel == "" else rel

    listed = {}
    for url in urls:
        rel = page_of(url.find("s:loc", ns).text)
        alternates = {a.get("hreflang"): page_of(a.get("href")) for a in url.findall("x:link", ns)}
        listed[rel] = alternates
        assert alternates == {lang: twin(rel, lang) for lang in LANGUAGES}, rel
    assert sorted(listed) == sorted(p.relative_to(site).as_posix() for p in html_pages(site))


@pytest.mark.build
def test_the_repository_link_makes_no_request_to_another_host(site):
    repo_url = mkdocs_setting("repo_url")
    for page in html_pages(site) + [site / "404.html", site / "en" / "404.html"]:
        html = page.read_text(encoding="utf-8")
        assert f'<a href="{repo_url}" title=' in html, page
        # With data-md-component="source", Material's JavaScript fetches the repository's stars
        # and forks from api.github.com (overrides/partials/source.html leaves it out).
        assert 'data-md-component="source"' not in html, page
        assert "api.github.com" not in html, page
