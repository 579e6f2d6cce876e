"""Where a pair's evidence is on a page: the model's evidence line(s) found in the page text, tolerant of
what OCR and text layers do to spacing (spaces inside words and numbers, words hyphenated across lines,
ligatures, a table row's cells on separate lines), and returned as the page's own whole lines.

The checks (synth/checks.py `check_evidence`) then ask whether the answer and what the question names are
in those lines; `qa_evidence` stores them with the page numbers they were found on.
"""

from __future__ import annotations

import re
import unicodedata

from rapidfuzz import fuzz

# the prompt asks for the line the answer is read from, or a table's row (at most 3 lines). Longer evidence
# (a paragraph, the whole page) would let any question's words be "in the evidence"
MAX_EVIDENCE_CHARS = 400
# rapidfuzz partial_ratio of the evidence (spaces removed) against the page (spaces removed): measured on
# OCR'd lines the model copied, 90 keeps a misread letter in 10 and rejects a line the model rewrote
MIN_EVIDENCE_RATIO = 90.0
_HYPHEN_BREAK = re.compile(r"(?<=\w)[-\u00ad]\s*\n\s*(?=\w)")
# where a model joins a table row's cells on one line: " | ", tabs, runs of spaces, dot leaders
_CELL_BREAK = re.compile(r"\s*\|\s*|\t+|\s{2,}|(?:\.\s?){3,}")


def squashed(text: str) -> tuple[str, list[int]]:
    """`text` folded (NFKC, lower case), line-end hyphens and all white space removed; and for each
    character kept, its position in `text` after NFKC folding."""
    folded = unicodedata.normalize("NFKC", text)
    drop = {i for m in _HYPHEN_BREAK.finditer(folded) for i in range(m.start(), m.end())}
    kept = [(c, i) for i, c in enumerate(folded.lower()) if i not in drop and not c.isspace()]
    return "".join(c for c, _ in kept), [i for _, i in kept]


def line_span(text: str, start: int, end: int) -> tuple[int, int]:
    """The span of the whole lines of `text` that [start, end) touches."""
    first = text.rfind("\n", 0, start) + 1
    last = text.find("\n", max(start, end - 1))
    return first, len(text) if last == -1 else last


class PageLines:
    """A page prepared for finding evidence in it: its folded text, squashed, with positions kept."""

    def __init__(self, text: str):
        self.text = unicodedata.normalize("NFKC", text)
        self.squashed, self.positions = squashed(text)

    def find(self, evidence: str, min_ratio: float = MIN_EVIDENCE_RATIO) -> list[tuple[int, int]] | None:
        """The spans of the page's whole lines the evidence is on, or None when it is not on the page.
        The evidence is looked up whole (its line breaks and spaces ignored, so a table row the model
        wrote on one line matches its cells on separate lines), else line by line (the model may leave a
        line out); a line shorter than 4 characters, squashed, is not looked up alone: "64" is on every
        table page."""
        whole = self._span(squashed(evidence)[0], min_ratio)
        if whole:
            return [whole]
        spans = []
        for line in evidence.splitlines():
            part = squashed(line)[0]
            if len(part) < 4:
                continue
            span = self._span(part, min_ratio)
            found = [span] if span else self._cells(line, min_ratio)
            if not found:
                return None
            spans += found
        return sorted(set(spans)) or None

    def find_each(self, part: str, min_ratio: float = MIN_EVIDENCE_RATIO) -> list[tuple[int, int]]:
        """The whole lines of each place `part` is on the page (a table's row label is often printed in
        several of its blocks), spaces ignored; the best fuzzy place if it is nowhere exactly; [] if not
        on the page."""
        part = squashed(part)[0]
        if not part or not self.squashed:
            return []
        return list(dict.fromkeys(self._whole_lines(b, e) for b, e in self._places(part, min_ratio)))

    def _cells(self, line: str, min_ratio: float) -> list[tuple[int, int]] | None:
        """A row the model wrote on one line ("Vandalism . . . 212,173", "AARON | MEALS | $51.24") whose
        cells the page has apart (other leaders, other columns between): each cell of 4 or more characters
        on the page, at places within 2 x MAX_EVIDENCE_CHARS of each other (the nearest such places: a row
        label may also be in another table of the page); else None."""
        cells = [squashed(c)[0] for c in _CELL_BREAK.split(line)]
        cells = [c for c in cells if len(c) >= 4]
        if len(cells) < 2:
            return None
        places = [self._places(c, min_ratio) for c in cells]
        if not all(places):
            return None
        anchors = min(places, key=len)  # the rarest cell's places
        for anchor in anchors:
            chosen = [min(p, key=lambda s: abs(s[0] - anchor[0])) for p in places]
            if max(e for _, e in chosen) - min(b for b, _ in chosen) <= 2 * MAX_EVIDENCE_CHARS:
                return sorted({self._whole_lines(b, e) for b, e in chosen})
        return None  # cells gathered from across the page are not a row

    def _places(self, part: str, min_ratio: float, limit: int = 50) -> list[tuple[int, int]]:
        """Where `part` (squashed) is in the squashed page: every exact place (up to `limit`), else the
        best fuzzy one."""
        found, at = [], self.squashed.find(part)
        while at != -1 and len(found) < limit:
            found.append((at, at + len(part)))
            at = self.squashed.find(part, at + 1)
        if not found:
            fuzzy = fuzz.partial_ratio_alignment(part, self.squashed, score_cutoff=min_ratio)
            if fuzzy is not None:
                found.append((fuzzy.dest_start, fuzzy.dest_end))
        return found

    def _whole_lines(self, start: int, end: int) -> tuple[int, int]:
        return line_span(self.text, self.positions[start], self.positions[end - 1] + 1)

    def _span(self, part: str, min_ratio: float) -> tuple[int, int] | None:
        if not part or not self.squashed:
            return None
        start = self.squashed.find(part)  # exact after squashing: the common case, and the fast one
        end = start + len(part)
        if start == -1:
            found = fuzz.partial_ratio_alignment(part, self.squashed, score_cutoff=min_ratio)
            if found is None:
                return None
            start, end = found.dest_start, found.dest_end
        return line_span(self.text, self.positions[start], self.positions[end - 1] + 1)

    def lines(self, spans: list[tuple[int, int]], before: int = 0, after: int = 0) -> str:
        """The text of the spans' lines, with `before` lines above and `after` lines below each (a form's
        label, a row's header; the value a text layer puts on the line below its label)."""
        chosen = []
        for start, end in spans:
            for _ in range(before):
                if start > 0:
                    start = self.text.rfind("\n", 0, start - 1) + 1
            for _ in range(after):
                if end < len(self.text):
                    following = self.text.find("\n", end + 1)
                    end = len(self.text) if following == -1 else following
            chosen.append(self.text[start:end].strip())
        return "\n".join(dict.fromkeys(c for c in chosen if c))


def windows(text: str, holding: str = "", max_chars: int = MAX_EVIDENCE_CHARS, limit: int = 20) -> list[tuple[int, int]]:
    """Spans of the runs of consecutive non-blank lines of `text` (NFKC-folded) of at most `max_chars` (a
    single line however long), the evidence a model could quote, that hold `holding` (squashed: case and
    spaces ignored) at one of its first `limit` places on the page."""
    folded = unicodedata.normalize("NFKC", text)
    lines = [(m.start(), m.end()) for m in re.finditer(r"[^\n]*\S[^\n]*", folded)]
    flat, positions = squashed(text)
    target = squashed(holding)[0]
    places, at = [], flat.find(target) if target else -1
    while at != -1 and len(places) < limit:
        places.append((positions[at], positions[at + len(target) - 1] + 1))
        at = flat.find(target, at + 1)
    spans = set()
    for first, last in places:
        inner = [k for k, (start, end) in enumerate(lines) if end > first and start < last]
        if not inner:
            continue
        for i in range(inner[0], -1, -1):
            for j in range(inner[-1], len(lines)):
                if lines[j][1] - lines[i][0] > max_chars and (i, j) != (inner[0], inner[-1]):
                    break
                spans.add((lines[i][0], lines[j][1]))
            if lines[inner[-1]][1] - lines[i][0] > max_chars:
                break
    return sorted(spans)
