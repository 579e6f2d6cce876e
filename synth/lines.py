"""Lines first: the code picks a page's informative lines, the model writes one question per line.

The answer-aware question generation of Alberti et al. 2019 ("Synthetic QA Corpora Generation with
Roundtrip Consistency"): the answer's place is chosen first, the question is written for it, and the round
trip then tests that the question picks out that answer on the whole page. Here the place is a line of the
page (for a table, its row: the label line and the value lines a text layer writes under it), chosen by
the code and spread over the chunk, so the model neither picks a wrong column's cell nor quotes a line
that is not on the page; the chosen line is the pair's evidence (set by the code, not generated: fewer
tokens), and the evidence checks test the model's answer against it.

Seen with the 1.5B writer when it chose its own facts (the test split's 58 untouched pages): 72% of its
raw pairs were wrong, most from a wrong table column, an answer repeating the question, OCR junk taken for
a name, or evidence paraphrased or taken from a neighbouring line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from curate.synth.evidence import MAX_EVIDENCE_CHARS

_PAGE_LABEL = re.compile(r"^\[Page \d+\]$")
# a line that is a value only: a number, an amount, a percentage, a dash for "none" (a table's cells,
# one per line in many text layers); it belongs to the row label above it
_VALUE_ONLY = re.compile(r"^[\s$€£(+\-–—]*[\d.,\s]*\d[\d.,\s%)]*$|^[–—\-]+$")
_LEADER = re.compile(r"(?:\.\s?){3,}")
_NUMBER = re.compile(r"\d[\d.,]*")
_MONTH = re.compile(
    r"\b(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?\s+\d{1,2}\b|\b\d{1,2}/\d{1,2}/\d{2,4}\b"
    r"|\b(?:19|20)\d\d-\d\d-\d\d\b",
    re.IGNORECASE,
)
# "Label: value" (not a time, 11:57, nor a URL, http://)
_LABEL_VALUE = re.compile(r"^[^:]{1,39}[^\d\s:]:\s*[^\s/]")
_CODE = re.compile(r"\b(?=[A-Za-z\-/]*\d)(?=[\d\-/]*[A-Za-z])[A-Za-z0-9][A-Za-z0-9\-/]{2,}\b")
_NAME = re.compile(r"\s[A-Z][a-z]+(?:\s+[A-Z][a-z.]+)+")  # not the line's first word
_DEFINES = re.compile(r"\b(?:is an?|are|means|refers to|is called|defined as|stands for|is the)\b", re.IGNORECASE)
# running headers and footers: "Page 3", "3 of 10", "- 12 -"
_FURNITURE = re.compile(r"^\W*(?:page\s*)?\d+(?:\s*(?:of|/)\s*\d+)?\W*$", re.IGNORECASE)
_WORD = re.compile(r"[^\W\d_]+")


# a unit needs a fact (a row, a label and value, a date, a number with words...): 2 leaves out a lone
# capitalised phrase ("To Whom it May Concern:") and OCR fragments ("aits to 33 persons to")
MIN_SCORE = 2.0


@dataclass
class Line:
    """A unit a question can be about: one line of the page, or a table row (its label line and the value
    lines under it); `text` as on the page (its own lines), `shown` on one line for the prompt."""

    start: int  # its rank among the chunk's units, for spreading the choice over the chunk
    text: str
    shown: str
    score: float
    answer: str | None = None  # the answer the code took from it, where the line says which (`answer_span`)


def units(text: str) -> list[tuple[str, str]]:
    """(text as on the page, shown on one line) of each unit of `text`: a line with letters, with the
    value-only lines that follow it (a table row written one cell per line)."""
    out: list[list[str]] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or _PAGE_LABEL.match(line):
            continue
        if out and _VALUE_ONLY.match(line) and sum(len(x) for x in out[-1]) + len(line) < MAX_EVIDENCE_CHARS:
            out[-1].append(line)
        else:
            out.append([line])
    return [("\n".join(u), " | ".join(_LEADER.sub(" ", x).strip() for x in u)) for u in out]


def is_junk(text: str) -> bool:
    """OCR junk or a fragment: few letters, or most "words" without a vowel, or mostly symbols."""
    words = _WORD.findall(text)
    letters = sum(len(w) for w in words)
    if letters < 4 or not _NUMBER.search(text) and (letters < 8 or len(words) < 2):
        return True  # a fragment ("1 F", "coci"); a row's label with its values may be one short word
    vowelless = sum(1 for w in words if len(w) > 1 and not re.search(r"[aeiouyAEIOUY]", w))
    visible = [c for c in text if not c.isspace()]
    symbols = sum(1 for c in visible if not (c.isalnum() or c in ".,:;%$()-/'\"&"))
    return vowelless / len(words) > 0.3 or symbols / len(visible) > 0.25


def score(shown: str, unit: str = "") -> float:
    """What a unit offers a question: 0 when it holds no fact to ask for (a heading, page furniture, a
    fragment, OCR junk, a table-of-contents entry); else more for a table row with a label and values, a
    "label: value" line, and a line with a date, a number, a code, a name or a defined term."""
    if len(shown) < 12 or len(shown) > MAX_EVIDENCE_CHARS or _FURNITURE.match(shown) or is_junk(shown):
        return 0.0
    words = _WORD.findall(shown)
    numbers = _NUMBER.findall(shown)
    # a label with its values: two or more cells, or leaders (one number under a sentence is
    # more often a page number or a footnote mark than a cell); a header row or newspaper columns that a
    # text layer split with " | " have no value cell
    cells = shown.split(" | ")
    values = sum(bool(_VALUE_ONLY.match(c.strip())) for c in cells[1:])
    row = values >= 1 and (len(cells) >= 3 or bool(_LEADER.search(unit)))
    facts = (
        2.0 * row
        + 2.0 * bool(_LABEL_VALUE.match(shown))
        + 1.5 * bool(_MONTH.search(shown))
        + 1.0 * bool(numbers)
        + 1.0 * bool(_CODE.search(shown))
        + 1.0 * bool(_NAME.search(shown))
        + 0.5 * bool(_DEFINES.search(shown))
    )
    if not facts:
        return 0.0  # prose without any name, number, date, code or definition
    name_only = facts == 1.0 and bool(_NAME.search(shown)) and not numbers
    if name_only and len(words) < 6:
        return 0.0  # a name alone (a heading, a column's cell): the answer would be the whole line
    # a table-of-contents entry: a title, leaders and one page number
    if not row and len(numbers) == 1 and re.search(r"(?:\.\s?){3,}\s*\d{1,4}\s*$", shown):
        return 0.0
    if len(words) < 3 and not row and not _LABEL_VALUE.match(shown):
        return 0.0  # a heading or a lone cell
    distinct = len({w.lower() for w in words if len(w) >= 4})
    return facts + min(distinct, 8) / 4


def answer_span(shown: str) -> str | None:
    """The answer the code takes from a unit where the line says which it is: a table row's first value (its
    first value column), a "label: value" line's value (at most 8 words); else None (the model picks the
    fact of a sentence). Seen with the 1.5B writer choosing from a row: it added up the row's cells, or
    took a cell of another column than the one it named."""
    cells = [c.strip() for c in shown.split(" | ")]
    values = [c for c in cells[1:] if _VALUE_ONLY.match(c) and re.search(r"\d", c)]
    if len(cells) >= 3 and values:
        return values[0]
    if label := _LABEL_VALUE.match(shown):
        value = shown[label.end() - 1 :].split(" | ")[0].strip(" .;")
        if 0 < len(value.split()) <= 8:
            return value
    return None


def choose_lines(text: str, k: int, min_score: float = MIN_SCORE, with_answer: bool = True) -> list[Line]:
    """At most `k` informative units of `text`, spread over it: the chunk is cut into `k` stretches and each
    gives its best unit (scoring at least `min_score`); stretches without one leave their place to the next
    best units elsewhere. Returned in page order, without repeats."""
    scored, seen = [], set()
    for rank, (page_text, shown) in enumerate(units(text)):
        key = re.sub(r"\W+", " ", shown.lower()).strip()
        value = score(shown, page_text)
        answer = answer_span(shown) if with_answer else None
        if value >= min_score and key not in seen:
            seen.add(key)
            scored.append(Line(rank, page_text, shown, value, answer))
    if len(scored) <= k:
        return scored
    chosen: list[Line] = []
    for part in range(k):
        stretch = scored[part * len(scored) // k : (part + 1) * len(scored) // k]
        if stretch:
            chosen.append(max(stretch, key=lambda line: (line.score, -line.start)))
    rest = sorted((x for x in scored if x not in chosen), key=lambda line: -line.score)
    chosen += rest[: k - len(chosen)]
    return sorted(chosen, key=lambda line: line.start)
