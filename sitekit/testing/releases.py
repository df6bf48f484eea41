"""The torch releases the site supports, and the examples that differ among them.

The pages show what the pinned release prints. Two kinds of entry scope an example to releases:

* ``Differs``: a statement shows something else on some releases (a reworded error message). On
  those releases the page runner expects the entry's output instead of the page's, so the check
  still fails if a release prints anything else.
* ``Needs``: a section uses an API that some supported releases lack. On those releases the page
  runner skips its examples, with the entry's reason.

``.ci/noxfile.py`` runs the page suite in a fresh environment for one release and records, in
``docs/assets/releases/torch-<release>.json``, what each example named here printed; the Measured
results page draws its "Across PyTorch releases" table from those files.

This module must import without torch: the noxfile reads the release list from it.
"""

from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass
from pathlib import Path

from packaging.specifiers import SpecifierSet
from packaging.version import Version

#: The oldest release the site supports: the first whose SDPA and `need_weights=False` path give
#: zeros, not NaN, for a fully masked query row (the safe softmax of torch 2.5).
FLOOR = "2.5.1"
#: The release the default test command installs and the pages show.
PINNED = "2.13.0"
#: The newest release tested.
NEWEST = "2.15.0"
#: Every release the page suite is run on (each has a results file).
TESTED = (FLOOR, "2.9.1", PINNED, "2.14.1", NEWEST)


@dataclass(frozen=True)
class Differs:
    """On ``releases``, the example ``source`` of section ``target`` prints ``output``."""

    target: str  # "snippets/matmul.py:shape_errors"
    source: str  # the statement's first line, as in the snippet section (without its indent)
    releases: str  # a version specifier, e.g. ">=2.15"
    output: str  # what the statement shows; for an exception, "RuntimeError: …"


@dataclass(frozen=True)
class Needs:
    """Section ``target`` runs only on ``releases``; elsewhere it is skipped because ``why``."""

    target: str
    releases: str
    why: str


DIFFERS: tuple[Differs, ...] = (
    Differs(
        "snippets/matmul.py:shape_errors",
        "torch.zeros(2, 3, 4) @ torch.zeros(5, 6)",
        ">=2.15",
        "RuntimeError: mm: mat1 and mat2 shapes cannot be multiplied (6x4 and 5x6)",
    ),
    Differs(
        "snippets/masking.py:fp16",
        "s16.masked_fill(~allowed, -1e9)",
        "<2.10",  # 2.10.0 prints c10::Half (checked), 2.9.1 at::Half
        "RuntimeError: value cannot be converted to type at::Half without overflow",
    ),
    Differs(
        "snippets/sdpa.py:causal",
        "F.scaled_dot_product_attention(",
        ">=2.14",  # 2.13.0 takes both (checked), 2.14.1 and 2.15.0 raise
        "RuntimeError: _scaled_dot_product_attention: Explicit attn_mask should not be set "
        "when is_causal=True",
    ),
    Differs(
        "snippets/gqa.py:sdpa_gqa",
        "sdpa_backend(q, k, v, enable_gqa=True)  # the fused kernel, no copy",
        "<2.9",  # 2.5.1 runs math (checked), 2.9.1 the CPU flash kernel
        "'attention_math'",
    ),
)

NEEDS: tuple[Needs, ...] = (
    Needs(
        "snippets/cublas.py:tf32_fp32_precision",
        ">=2.9",
        "torch.backends.cuda.matmul.fp32_precision first appears in torch 2.9",
    ),
)


def release(version: str) -> Version:
    """``"2.15.0+cu128"`` -> ``Version("2.15.0")``: the release, without its local build tag."""
    return Version(Version(version).base_version)


def running() -> Version:
    """The torch release this process runs."""
    import torch

    return release(torch.__version__)


def holds(releases: str, version: Version) -> bool:
    """Whether ``version`` is one of ``releases`` (a specifier such as ">=2.9")."""
    return SpecifierSet(releases).contains(version, prereleases=True)


def differs(target: str, source: str, version: Version) -> Differs | None:
    """The entry that replaces this example's output on ``version``, if any."""
    for entry in DIFFERS:
        if entry.target == target and entry.source == source and holds(entry.releases, version):
            return entry
    return None


def recorded(target: str, source: str) -> bool:
    """Whether this example's output is recorded in the results files (it differs somewhere)."""
    return any(entry.target == target and entry.source == source for entry in DIFFERS)


def needed(target: str) -> Needs | None:
    """The entry naming the releases this section needs, if some supported ones lack it."""
    return next((entry for entry in NEEDS if entry.target == target), None)


# --- what a run of the page suite records -------------------------------------------------------

#: One dict per example named in DIFFERS or section named in NEEDS that ran (or was skipped) in
#: this process: filled by sitekit/testing/pages.py, written by `pytest --record-release FILE`.
RECORD: list[dict] = []


class Rewrites:
    """`pytest --rewrite-outputs`: the ``#>`` lines of statements that show something else, replaced
    by what this release showed, written back into the snippet files at the end of the run."""

    def __init__(self):
        self.enabled = False
        self.changes: dict[str, dict[int, tuple[int, list[str], int]]] = {}

    def add(self, path: str, start: int, count: int, shown: list[str], statement: int) -> None:
        """Replace ``count`` lines of ``path`` from line ``start`` (1-based) by ``shown`` as ``#>``
        lines, indented as the statement at line ``statement``."""
        self.changes.setdefault(path, {})[start] = (count, shown, statement)

    def apply(self, root) -> list[str]:
        """Rewrite the snippet files; return their paths."""
        for path, changes in self.changes.items():
            file = root / path
            lines = file.read_text(encoding="utf-8").splitlines()
            for start in sorted(changes, reverse=True):
                count, shown, statement = changes[start]
                indent = re.match(r"[ \t]*", lines[statement - 1]).group()
                new = [f"{indent}#> {line}" if line else f"{indent}#>" for line in shown]
                lines[start - 1 : start - 1 + count] = new
            file.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return sorted(self.changes)


REWRITE = Rewrites()


def results(summary: str, seconds: float) -> dict:
    """The results file of one run: where it ran, its summary line, and what each example printed."""
    import torch

    from sitekit.tools.evidence import metadata

    meta = metadata("cuda" if torch.cuda.is_available() else "cpu")
    examples: dict[tuple, dict] = {}
    for entry in RECORD:  # the two languages include the same examples: keep one of each
        key = (entry["target"], entry["source"])
        kept = examples.setdefault(key, {k: v for k, v in entry.items() if k != "page"} | {"pages": []})
        if entry["page"] not in kept["pages"]:
            kept["pages"].append(entry["page"])
        if "checked" in entry:
            kept["checked"] = kept["checked"] and entry["checked"]
    return {
        "torch": meta["torch_version"],
        "release": str(running()),
        "build": f"CUDA {torch.version.cuda}" if torch.version.cuda else "CPU",
        "device": meta["device_kind"],
        "device_name": meta["device_name"],
        "python": meta["python_version"],
        "date": meta["date_utc"][:10],
        "summary": summary,
        "wall_s": round(seconds, 1),
        "examples": sorted(examples.values(), key=lambda e: (e["target"], e["line"])),
    }


# --- the "Across PyTorch releases" section of the Measured results page -------------------------

# Not sitekit.site (it needs MkDocs): .ci/noxfile.py imports this module with nox alone.
RESULTS_DIR = Path(__file__).resolve().parents[2] / "docs" / "assets" / "releases"
#: The line of a page that the section's tables replace (sitekit/build/hooks.py).
MARKER = "<!-- releases -->"

LABELS = {
    "zh": {
        "runs": ["版本", "通过", "失败", "跳过", "构建"],
        "build": "{build} 版",
        "where": "运行日期：{dates}；设备：{devices}；每次运行用时 {times}。",
        "outputs": ["版本", "输出"],
        "skipped": "跳过：需要 torch {spec}",
        "ran": "运行，输出与页面一致",
        "none": "没有记录任何版本的结果。",
        "shown": "（页面所示）",
    },
    "en": {
        "runs": ["Release", "Passed", "Failed", "Skipped", "Build"],
        "build": "{build} build",
        "where": "Run on {dates}, on {devices}; each run took {times}.",
        "outputs": ["Release", "Prints"],
        "skipped": "skipped: needs torch {spec}",
        "ran": "runs; prints what the page shows",
        "none": "No release's results are recorded.",
        "shown": " (shown on the page)",
    },
}


def load_results(directory: Path = RESULTS_DIR) -> list[dict]:
    """Every committed results file, oldest release first."""
    files = [json.loads(p.read_text(encoding="utf-8")) for p in directory.glob("torch-*.json")]
    return sorted(files, key=lambda r: release(r["release"]))


def _anchor(docs_dir: Path, page: str, target: str) -> str:
    """``page#id`` of the last heading with an explicit id above the fence that includes ``target``."""
    from sitekit.site import HEADING

    text = (docs_dir / page).read_text(encoding="utf-8")
    above = text[: max(text.find(f'--8<-- "{target}"'), 0)].splitlines()
    ids = [m.group("id") for m in map(HEADING.match, above) if m and m.group("id")]
    return f"{page.replace('.en.md', '.md').replace('.zh.md', '.md')}" + (f"#{ids[-1]}" if ids else "")


def _code(text: str) -> str:
    return "<code>" + html.escape(text).replace("|", "&#124;").replace("\n", "<br>") + "</code>"


def page_markdown(lang: str, docs_dir: Path, directory: Path = RESULTS_DIR) -> str:
    """The Markdown that replaces MARKER on the page in ``lang``."""
    t = LABELS[lang]
    runs = load_results(directory)
    if not runs:
        return t["none"] + "\n"
    out = ["| " + " | ".join(t["runs"]) + " |", "|" + "---|" * len(t["runs"])]
    for r in runs:
        build = t["build"].format(build=r["build"])
        counts = {noun: n for n, noun in re.findall(r"(\d+) (\w+)", r["summary"])}
        passed, failed, skipped = (counts.get(k, "0") for k in ("passed", "failed", "skipped"))
        out.append(f"| {r['release']} | {passed} | {failed} | {skipped} | {build} |")
    times = sorted(round(r["wall_s"]) for r in runs)
    out += [
        "",
        t["where"].format(
            dates=", ".join(sorted({r["date"] for r in runs})),
            devices=", ".join(sorted({r["device_name"] for r in runs})),
            times=f"{times[0]}–{times[-1]} s" if times[0] != times[-1] else f"{times[0]} s",
        ),
        "",
    ]
    examples: dict[tuple, dict] = {}
    for r in runs:
        for e in r["examples"]:
            key = (e["target"], e["source"])
            kept = examples.setdefault(key, {"entry": e, "by_release": []})
            if e["source"] is None:  # a section that needs an API some releases lack
                printed = t["skipped"].format(spec=e["needs"]) if e["skipped"] else t["ran"]
            else:
                printed = e["printed"]
            kept["by_release"].append((r["release"], printed))
    for (target, source), kept in sorted(examples.items(), key=lambda kv: kv[0][0]):
        e = kept["entry"]
        link = _anchor(docs_dir, e["pages"][0], target)
        what = f" `{source}`" if source else ""
        out += [f"**[{target.split('/')[-1]}]({link})**{what}", ""]
        out += ["| " + " | ".join(t["outputs"]) + " |", "|---|---|"]
        groups: list[tuple[list[str], str]] = []
        for version, printed in kept["by_release"]:
            if groups and groups[-1][1] == printed:
                groups[-1][0].append(version)
            else:
                groups.append(([version], printed))
        for versions, printed in groups:
            mark = t["shown"] if PINNED in versions else ""
            cell = _code(printed or "") if source else html.escape(printed)
            out.append(f"| {', '.join(versions)}{mark} | {cell} |")
        out.append("")
    return "\n".join(out)
