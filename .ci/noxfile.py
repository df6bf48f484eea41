"""The page suite on other torch releases, each in a fresh virtual environment of its own.

    python3 -m nox -f .ci/noxfile.py -s "pages(2.15.0)"   # one release
    python3 -m nox -f .ci/noxfile.py -s pages             # every tested release
    python3 -m nox -f .ci/noxfile.py -s upgrade -- 2.16.0  # move the pin (never run by CI)

The releases are those of sitekit/testing/releases.py. See the README, "Other torch releases".
"""

from __future__ import annotations

import sys
from pathlib import Path

import nox

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the release list lives in the project (it needs no torch)
from sitekit.testing.releases import TESTED  # noqa: E402

nox.options.default_venv_backend = "venv"
nox.options.reuse_venv = "yes"  # a torch build is several GB: install each release once
nox.options.sessions = ["pages"]


def install(session: nox.Session, torch: str) -> None:
    """The project with its test extras and exactly this torch, whatever the machine's pip says."""
    session.chdir(ROOT)
    # A constraints file named by the machine's pip settings (one may cap torch releases) is
    # replaced by an empty one of the environment's own. (Not session.create_tmp(): it points
    # TMPDIR into the repository, where the runner's own tests would find the root conftest.py.)
    empty = Path(session.virtualenv.location) / "no-constraints.txt"
    empty.write_text("")
    session.env["PIP_CONSTRAINT"] = str(empty)
    session.install("-e", ".[test]", f"torch=={torch}")


@nox.session
@nox.parametrize("torch", TESTED, ids=list(TESTED))
def pages(session: nox.Session, torch: str) -> None:
    """Every page and test but the browser tests on one torch release; writes its results file."""
    install(session, torch)
    results = f"docs/assets/releases/torch-{torch}.json"
    session.run(
        "python", "-m", "pytest", "-m", "not browser", "-p", "no:cacheprovider",
        f"--record-release={results}",
        # tests/test_releases.py checks the results files; the run that writes one does not.
        "--ignore=tests/test_releases.py",
        *session.posargs,
    )  # fmt: skip


@nox.session
def upgrade(session: nox.Session) -> None:
    """Rerun the pages on a new release, write what it printed into the snippets, show the diff."""
    if len(session.posargs) != 1:
        session.error("give the new release: nox -f .ci/noxfile.py -s upgrade -- 2.16.0")
    install(session, session.posargs[0])
    session.run(
        "python", "-m", "pytest", "docs", "-p", "no:cacheprovider", "-q", "--rewrite-outputs",
        success_codes=[0, 1],
    )  # fmt: skip
    session.run("git", "diff", "--stat", "--", "snippets", external=True)
    session.run("git", "--no-pager", "diff", "--", "snippets", external=True)
    session.log(
        "Review the diff. Then set PINNED in sitekit/testing/releases.py and the torch pin of the README's "
        "commands (snippets/commands.sh), and turn each output the old pin printed into a "
        "Differs entry of sitekit/testing/releases.py."
    )
