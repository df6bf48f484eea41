"""Generated files: the figures of ``figures/`` and the notebooks of ``notebooks/``.

Both are drawn from code and data in the repository, and both are rebuilt only when what they are
drawn from changed: the figures when a file of ``figures/``, ``snippets/`` or the recorded results
(``docs/assets/evidence/``) changed, or another torch is installed (a digest of all of them is kept
next to the figures); the notebooks when their unexecuted content changed
(:func:`sitekit.build.notebooks.write_notebooks`). An unchanged rebuild imports no torch, and
``mkdocs serve`` does not rebuild in a loop (a file is written only when its content changed).
"""

from __future__ import annotations

import hashlib
import importlib
import json
import pkgutil
from importlib import metadata
from pathlib import Path

from sitekit import site

#: What the figures are drawn from.
FIGURE_INPUTS = ("figures/*.py", "snippets/*.py", "docs/assets/evidence/*.json")
FIGURE_DIR = "assets/figures"
DIGEST_FILE = ".inputs.json"


def all_figures() -> dict:
    """`FIGURES` of every chapter module of `figures/`: file pattern -> draw(lang)."""
    import figures as package

    found = {}
    for module in sorted(m.name for m in pkgutil.iter_modules(package.__path__)):
        found.update(getattr(importlib.import_module(f"figures.{module}"), "FIGURES", {}))
    return found


def figure_inputs_digest(root: Path = site.ROOT) -> str:
    digest = hashlib.sha256(metadata.version("torch").encode())
    for pattern in FIGURE_INPUTS:
        for path in sorted(root.glob(pattern)):
            digest.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def write_figures(docs_dir: Path, root: Path = site.ROOT) -> list[Path]:
    """Draw every figure in every language, if its inputs changed; returns the files written.

    A drawer that returns None has nothing to draw (a measured-results chart without its results
    file): a figure left from an earlier build is removed.
    """
    stamp = docs_dir / FIGURE_DIR / DIGEST_FILE
    digest = figure_inputs_digest(root)
    try:
        previous = json.loads(stamp.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        previous = {}
    if previous.get("digest") == digest and all((docs_dir / f).is_file() for f in previous["files"]):
        return []
    written, present = [], []
    for pattern, draw in all_figures().items():
        for lang in site.LANGUAGES:
            path = docs_dir / pattern.format(lang=lang)
            svg = draw(lang)
            if svg is None:
                path.unlink(missing_ok=True)
                continue
            present.append(path.relative_to(docs_dir).as_posix())
            if not path.exists() or path.read_text(encoding="utf-8") != svg:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(svg, encoding="utf-8")
                written.append(path)
    stamp.parent.mkdir(parents=True, exist_ok=True)
    stamp.write_text(json.dumps({"digest": digest, "files": sorted(present)}), encoding="utf-8")
    return written
