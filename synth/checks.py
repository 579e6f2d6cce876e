"""QA checks: each candidate pair is kept or rejected with a reason; a page with no kept pair is dropped.

Checks, in order (the first that fails names the reason):
  empty         question or answer blank
  too_long      question or answer longer than a turn should be
  nested_qa     "Q:", "Answer:"... markers inside a turn (the model wrote several pairs in one)
  not_question  the question is not phrased as a question
  unanswerable  the answer says the page does not tell ("unanswerable", "not mentioned", ...)
  code_like     braces or function calls in the answer (Docmatix's rule, but without its `\\w+\\.\\w+`
                pattern, which also dropped every answer with a decimal number such as 3.5)
  duplicate     the same question was already asked about this page
  not_grounded  too few of the answer's words (and none of its numbers missing) appear in the page
Malformed model responses were recorded by the generation step; they are counted here as `malformed`.
"""

from __future__ import annotations

import re
from collections import Counter

from datatrove.data import Document
from datatrove.pipeline.writers.disk_base import DiskWriter

from curate.record import set_score
from curate.steps import ScoreFilter

QUESTION_WORDS = frozenset(
    "what which who whom whose when where why how is are was were do does did can could will would "
    "should shall may might has have had according name list give identify describe explain".split()
)
STOP_WORDS = frozenset(
    "a an the of in on at to for by with from and or as is are was were be been it its this that these "
    "those which who what when where how why do does did not no yes there their they he she his her "
    "we our you your i me my than then so such also into per via about".split()
)
_WORD = re.compile(r"[^\W_]+(?:[.,/:-][^\W_]+)*", re.UNICODE)
_NUMBER = re.compile(r"\d+(?:[.,:/-]\d+)*")
_NESTED = re.compile(r"(?:^|\s|\n)(?:Q|A|Question|Answer)\s*\d*\s*[:：]", re.IGNORECASE)
_UNANSWERABLE = re.compile(
    r"\b(?:unanswerable|not (?:mentioned|specified|provided|stated|given|available|clear)|"
    r"cannot be (?:determined|answered|found)|no information|does not (?:say|mention|specify|state))\b|^n/?a$",
    re.IGNORECASE,
)
_CODE = re.compile(r"[{}]|\b[A-Za-z_]\w*\([^)]*\)\s*;|\b[A-Za-z_]\w*\.[A-Za-z_]\w*\(|=>|::")


def words(text: str) -> list[str]:
    return [w.lower() for w in _WORD.findall(text)]


def normalise_number(value: str) -> str:
    return value.replace(",", "")


def grounding(answer: str, page_words: set[str], page_numbers: set[str]) -> float:
    """Share of the answer's content words found in the page; 0 if one of its numbers is not there.

    Words are compared whole and lower-cased, and a word also counts when the page has it as part of
    a longer token (e.g. "2014" in "12/3/2014")."""
    numbers = {normalise_number(n) for n in _NUMBER.findall(answer)}
    if numbers - page_numbers:
        return 0.0
    content = [w for w in words(answer) if w not in STOP_WORDS]
    if not content:
        return 1.0 if numbers else 0.0
    found = sum(1 for w in content if w in page_words or normalise_number(w) in page_numbers)
    return found / len(content)


def page_index(text: str) -> tuple[set[str], set[str]]:
    tokens = words(text)
    index = set(tokens)
    for token in tokens:  # parts of compound tokens: "12/3/2014" -> 12, 3, 2014
        index.update(p for p in re.split(r"[.,/:-]", token) if p)
    numbers = {normalise_number(n) for n in _NUMBER.findall(text)}
    numbers |= {p for n in list(numbers) for p in re.split(r"[.,:/-]", n) if p}
    return index, numbers


def is_question(text: str) -> bool:
    text = text.strip()
    first = words(text[:40])[:1]
    return text.endswith(("?", "؟", "？")) or bool(first and first[0] in QUESTION_WORDS)


def check_pair(
    question: str,
    answer: str,
    page: tuple[set[str], set[str]],
    seen: set[str],
    min_grounding: float = 0.6,
    max_question_chars: int = 300,
    max_answer_chars: int = 500,
) -> tuple[str | None, float]:
    """(reason the pair is rejected or None, its grounding score)."""
    question, answer = question.strip(), answer.strip()
    if not question or not answer:
        return "empty", 0.0
    if len(question) > max_question_chars or len(answer) > max_answer_chars:
        return "too_long", 0.0
    if _NESTED.search(question) or _NESTED.search(answer):
        return "nested_qa", 0.0
    if not is_question(question):
        return "not_question", 0.0
    if _UNANSWERABLE.search(answer):
        return "unanswerable", 0.0
    if _CODE.search(answer):
        return "code_like", 0.0
    key = " ".join(words(question))
    if key in seen:
        return "duplicate", 0.0
    seen.add(key)
    score = grounding(answer, *page)
    if score < min_grounding:
        return "not_grounded", score
    return None, score


class QAChecks(ScoreFilter):
    """Applies the checks to a page's `qa_candidates`; kept pairs become the sample's `qa` turns.

    Scores written: `qa_kept`, `qa_rejected`, `qa_grounding` (mean over kept pairs).
    Stats: `qa_pairs` (candidates + malformed responses), `qa_kept`, `qa_rejected_<reason>`.
    """

    name = "✅ QA checks"

    def __init__(
        self,
        # share of an answer's content words that must be in the page. Measured on the first pages of
        # born_digital/ with the packaged model: at 0.6, 81% of kept answers were in the page verbatim or
        # by >= 80% of all their words; at 0.8, 92% (paraphrases such as "The page discusses ..." go)
        min_grounding: float = 0.8,
        min_pairs: int = 1,
        max_pairs: int = 10,
        max_question_chars: int = 300,
        max_answer_chars: int = 500,
        source: str = "curate-docmatix",
        exclusion_writer: DiskWriter | None = None,
        error_writer: DiskWriter | None = None,
    ):
        super().__init__(exclusion_writer, error_writer)
        self.min_grounding, self.min_pairs, self.max_pairs = min_grounding, min_pairs, max_pairs
        self.max_question_chars, self.max_answer_chars = max_question_chars, max_answer_chars
        self.source = source

    def score(self, doc: Document) -> None:
        candidates = doc.metadata.get("qa_candidates")
        if candidates is None:
            raise ValueError("record has no qa_candidates: run the qa stage on it first")
        page = page_index(doc.text)
        seen: set[str] = set()
        turns, provenance, rejected = [], [], []
        reasons = Counter(r["reason"] for r in doc.metadata.get("qa_rejects", []))
        model = (doc.metadata.get("qa_generation") or {}).get("model", "")
        for pair in candidates:
            reason, score = check_pair(
                pair["question"], pair["answer"], page, seen,
                self.min_grounding, self.max_question_chars, self.max_answer_chars,
            )  # fmt: skip
            if reason is None and len(turns) >= self.max_pairs:
                reason = "over_max_pairs"
            if reason:
                reasons[reason] += 1
                rejected.append({**pair, "reason": reason, "grounding": round(score, 3)})
                continue
            turns.append({"user": pair["question"].strip(), "assistant": pair["answer"].strip(),
                          "source": self.source})  # fmt: skip
            provenance.append({"style": pair.get("style"), "chunk": pair.get("chunk"), "model": model,
                               "grounding": round(score, 3)})  # fmt: skip
        doc.metadata["qa"] = turns
        doc.metadata["qa_provenance"] = provenance
        doc.metadata["qa_rejected"] = rejected
        set_score(doc, "qa_kept", len(turns))
        set_score(doc, "qa_rejected", sum(reasons.values()))
        set_score(
            doc, "qa_grounding", sum(p["grounding"] for p in provenance) / len(provenance) if turns else 0
        )
        self.stat_update("qa_pairs", value=len(candidates) + reasons["malformed"])
        self.stat_update("qa_kept", value=len(turns))
        for reason, n in reasons.items():
            self.stat_update(f"qa_rejected_{reason}", value=n)

    def decide(self, doc: Document) -> bool | tuple[bool, str]:
        if len(doc.metadata["qa"]) >= self.min_pairs:
            return True
        return False, "no_kept_qa"
