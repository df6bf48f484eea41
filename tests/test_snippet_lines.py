"""Every line of snippets/ fits a code block of the site without scrolling sideways.

A code block shows about 78 characters at a 1366 px wide screen; the pages show the snippet
files' lines as they are (the notebooks too). An output too long for that is wrapped over
several ``#>`` lines, which the page runner reads as one (sitekit/testing/pages.py).
"""

from __future__ import annotations

from pathlib import Path

from sitekit.testing.pages import WIDTH

ROOT = Path(__file__).resolve().parents[1]


def test_every_line_of_the_snippets_fits_a_code_block():
    files = sorted(p for p in (ROOT / "snippets").iterdir() if p.suffix in (".py", ".sh"))
    assert any(p.suffix == ".sh" for p in files) and len(files) > 2
    long = [
        f"snippets/{path.name}:{number} ({len(line)} chars)"
        for path in files
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if len(line) > WIDTH
    ]
    assert not long, f"lines longer than {WIDTH} characters:\n" + "\n".join(long)
