"""Each QA check's precision and recall on labelled pairs, on the split it was tuned on and on splits it
was not, with no LLM call (the stored pairs are checked again).

Splits (benchmarks/data):
- tuning: docmatix_labels.jsonl + docmatix_generated_labels.jsonl, pages of docmatix_pages.jsonl
  (../shared/data/pdf): the checks were written and adjusted reading these;
- held-out: docmatix_heldout_labels.jsonl, pages of docmatix_heldout_pages.jsonl (pdfplumber,
  py-pdf/sample-files, camelot, pdfminer.six test PDFs);
- test: docmatix_test_labels.jsonl with docmatix_test_pages.jsonl, where present (other collections).

A check "flags" a pair when it alone would reject it (each check is applied on its own, not after the
others). Precision: the share of flagged pairs labelled reject; recall: the share of reject-labelled pairs
it flags. Then the checks as the stage runs them, without and with the evidence checks: precision of the
kept pairs, good pairs kept and good pairs lost. Labelled pairs have no model evidence: the evidence is
located (`curate.synth.checks.locate_evidence`: the line(s) holding the answer, preferring those that hold what
the question names), so `question_not_in_evidence` asks whether any line(s) of the page hold both;
evidence the model quotes can only be stricter.

    python -m benchmarks.bench_qa_checks            # or: python -m benchmarks qa_checks
    CURATE_BENCH_EVIDENCE_VARIANTS=1 ...            # also the evidence settings tried (tuning split only)
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from curate.synth.checks import PageIndex, check_evidence, grounding, is_cover, page_kind, rules
from curate.synth.evidence import PageLines

DATA = Path(__file__).resolve().parent / "data"
SPLITS = {
    "tuning": (("docmatix_labels.jsonl", "docmatix_generated_labels.jsonl"), ("docmatix_pages.jsonl",)),
    "held-out": (("docmatix_heldout_labels.jsonl",), ("docmatix_heldout_pages.jsonl",)),
    "test": (("docmatix_test_labels.jsonl",), ("docmatix_test_pages.jsonl",)),
}
MIN_GROUNDING = 0.8  # the recipe's min_grounding


def _rows(name: str) -> list[dict]:
    path = DATA / name
    return [json.loads(line) for line in open(path, encoding="utf-8") if line.strip()] if path.is_file() else []


def load_split(split: str) -> tuple[list[dict], dict[str, str]]:
    """(labelled pairs whose page text is known, page_id -> text) of a split; duplicates of one pair
    (the same page, question and answer labelled twice) counted once."""
    label_files, page_files = SPLITS[split]
    pages = {row["page_id"]: row["text"] for name in page_files for row in _rows(name)}
    seen, labels = set(), []
    for name in label_files:
        for row in _rows(name):
            key = (row["page_id"], row["question"], row["answer"])
            if row["page_id"] in pages and key not in seen:
                seen.add(key)
                labels.append(row)
    return labels, pages


def _page_number(page_id: str) -> int:
    return int(page_id.rsplit("=", 1)[-1]) if "#page=" in page_id else 1


def flags(label: dict, text: str, index: PageIndex, lines: PageLines, **evidence) -> dict[str, bool]:
    """Which checks, each on its own, would reject the pair."""
    q, a = label["question"].strip(), label["answer"].strip()
    cover = is_cover(_page_number(label["page_id"]), text)
    found = {reason: bool(test(q, a, index, cover)) for reason, test in rules()}
    found["not_grounded"] = grounding(a, index, q) < MIN_GROUNDING
    reason = check_evidence(q, a, None, [(1, lines)], MIN_GROUNDING, **evidence)[0]
    for name in ("answer_not_in_evidence", "question_not_in_evidence"):
        found[name] = reason == name
    return found


def split_flags(labels: list[dict], pages: dict[str, str], **evidence) -> list[dict[str, bool]]:
    cache: dict[str, tuple[PageIndex, PageLines]] = {}
    out = []
    for label in labels:
        text = pages[label["page_id"]]
        if label["page_id"] not in cache:
            cache[label["page_id"]] = (PageIndex(text), PageLines(text))
        out.append(flags(label, text, *cache[label["page_id"]], **evidence))
    return out


def per_check(labels: list[dict], flagged: list[dict[str, bool]]) -> dict[str, tuple[int, float | None, float]]:
    """check -> (pairs flagged, precision or None when it flags none, recall)."""
    bad = sum(x["label"] == "reject" for x in labels)
    out = {}
    for name in flagged[0] if flagged else ():
        hits = [x for x, f in zip(labels, flagged, strict=True) if f[name]]
        caught = sum(x["label"] == "reject" for x in hits)
        out[name] = (len(hits), caught / len(hits) if hits else None, caught / max(1, bad))
    return out


def kept_figures(labels, flagged, names) -> tuple[float, int, int, int]:
    """(precision, good kept, kept, good lost) when the checks `names` reject (ToC/index pages skipped)."""
    keep = [not any(f[n] for n in names) for f in flagged]
    kept = [x for x, k in zip(labels, keep, strict=True) if k]
    good = sum(x["label"] == "keep" for x in kept)
    lost = sum(x["label"] == "keep" for x, k in zip(labels, keep, strict=True) if not k)
    return good / max(1, len(kept)), good, len(kept), lost


def report(split: str, labels, pages, flagged) -> dict[str, tuple]:
    bad = sum(x["label"] == "reject" for x in labels)
    print(f"{split}: {len(labels)} labelled pairs ({bad} reject) on {len({x['page_id'] for x in labels})} pages")
    figures = per_check(labels, flagged)
    for name, (n, precision, recall) in figures.items():
        shown = f"precision {precision:.2f}" if precision is not None else "precision -   "
        print(f"   {name:26s} flags {n:3d}  {shown}  recall {recall:.2f}")
    text = [name for name, _ in rules()] + ["not_grounded"]
    for title, names in (("text checks", text),
                         ("text + evidence checks", text + ["answer_not_in_evidence", "question_not_in_evidence"])):  # fmt: skip
        precision, good, kept, lost = kept_figures(labels, flagged, names)
        print(f"   kept by the {title}: precision {precision:.2f} ({good}/{kept}), good pairs lost {lost}")
    return figures


def main() -> None:
    results = {}
    for split in SPLITS:
        labels, pages = load_split(split)
        if not labels:
            print(f"{split}: no labelled pairs (benchmarks/data/{SPLITS[split][0][0]} absent)")
            continue
        labels = [x for x in labels if not page_kind(pages[x["page_id"]])]  # those pages are never asked
        results[split] = report(split, labels, pages, split_flags(labels, pages))
    if os.environ.get("CURATE_BENCH_EVIDENCE_VARIANTS"):
        labels, pages = load_split("tuning")
        labels = [x for x in labels if not page_kind(pages[x["page_id"]])]
        print("evidence settings tried on the tuning split (question_not_in_evidence):")
        for keys_only in (False, True):
            for min_named in (1.0, 0.5):
                for before in (0, 1, 3):
                    settings = {"min_named": min_named, "lines_before": before, "keys_only": keys_only}
                    flagged = split_flags(labels, pages, **settings)
                    n, precision, recall = per_check(labels, flagged)["question_not_in_evidence"]
                    shown = "-" if precision is None else f"{precision:.2f}"
                    print(f"   {settings}: flags {n}, precision {shown}, recall {recall:.2f}")


if __name__ == "__main__":
    main()
