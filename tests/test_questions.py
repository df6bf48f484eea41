"""The questions page (docs/questions.*.md) keeps its form: questions grouped by chapter, each with
a two-sentence answer and a link into its chapter, to a section that runs an example; the scores
figure stands next to the question it answers; every source note has its questions there."""

from __future__ import annotations

import re

import pytest

from sitekit.site import DOCS, FENCE, HEADING, LANGUAGES
from test_errata import LINK, has_executed_example, section  # the same reading of a section

FIGURE = "assets/figures/matmul_scores.svg"
#: "原始笔记 000、004 · 证明：[…](…)" / "Source notes 000, 004 · Proof: […](…)"
SOURCE_LINE = re.compile(r"^(?:原始笔记|Source notes?) (?P<notes>\d{3}(?:(?:、|, )\d{3})*) · ")
PROOF_LINE = re.compile(r"^(?:原始笔记|Source notes?|常见问题|Common question)[^·]*· (?:证明：|Proof: )\[")
INLINE_CODE = re.compile(r"`[^`]*`")
#: The end of a sentence: Chinese full stop or question mark; in English, . ? ! before a space or the end.
SENTENCE_END = {"zh": re.compile(r"[。？！]"), "en": re.compile(r"[.?!](?=\s|$)")}


def questions(lang: str) -> list[dict]:
    """Every ### question: its id, the ## group it is in, and the lines of its section."""
    found, group = [], None
    for line in (DOCS / f"questions.{lang}.md").read_text(encoding="utf-8").splitlines():
        match = HEADING.match(line)
        if match and match["hashes"] == "##":
            group = match["id"]
        elif match and match["hashes"] == "###":
            found.append({"id": match["id"], "group": group, "lines": []})
        elif found and not match:
            found[-1]["lines"].append(line)
    return found


def paragraphs(lines: list[str]) -> list[str]:
    return [" ".join(block.split("\n")) for block in "\n".join(lines).strip().split("\n\n") if block.strip()]


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_question_has_a_two_sentence_answer_and_a_proof_in_its_chapter(lang):
    found = questions(lang)
    assert len(found) >= 20, f"questions.{lang}.md lists only {len(found)} questions"
    problems = []
    for q in found:
        where = f"questions.{lang}.md#{q['id']}"
        blocks = [p for p in paragraphs(q["lines"]) if not p.startswith("![")]
        if len(blocks) != 2 or not PROOF_LINE.match(blocks[1]):
            problems.append(f"{where}: not one answer paragraph and one proof line: {blocks}")
            continue
        answer, proof = blocks
        sentences = len(SENTENCE_END[lang].findall(INLINE_CODE.sub("code", answer)))
        if sentences != 2:
            problems.append(f"{where}: {sentences} sentences, not 2: {answer[:60]}…")
        links = LINK.findall(proof)
        if [page for page, _ in links] != [f"{q['group']}.md"]:
            problems.append(f"{where}: links {links}, not one link into {q['group']}.md (its group)")
        for page, anchor in links:
            if not has_executed_example(section(page, lang, anchor)):
                problems.append(f"{where}: {page}#{anchor} has no included example that runs")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_page_shows_no_code_and_cites_every_source_note(lang):
    text = (DOCS / f"questions.{lang}.md").read_text(encoding="utf-8")
    assert not list(FENCE.finditer(text)), "the questions page has a code block"
    cited = {note for line in text.splitlines() if (m := SOURCE_LINE.match(line))
             for note in re.findall(r"\d{3}", m["notes"])}
    assert cited == {"000", "001", "002", "003", "004"}


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_scores_figure_stands_next_to_its_question_and_in_its_section(lang):
    beside = [q["id"] for q in questions(lang) if any(FIGURE in line for line in q["lines"])]
    assert beside == ["batch-and-heads"]
    assert FIGURE in section("matmul.md", lang, "attention-scores")
