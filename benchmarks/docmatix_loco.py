"""Leave-one-collection-out for the QA checks on the labelled Docmatix test split, no LLM call.

Every labelled pair of the default writer's runs on the test split (rounds s3/s4, s6-s9: 16 collections,
`benchmarks/data/docmatix_test_*.jsonl`) is checked again under several settings of the checks
(`curate.synth.checks` module flags; the round trip's and second opinion's stored answers reused), on the
documents whose every pair is labelled. All of these pages were read while the checks were written, so a
pooled figure is tuning data; a change is only kept when, with each collection held out in turn, it raises
that collection's precision of kept pairs (or keeps it and raises good pairs a page) on most of the
collections it changes at all. For a setting with a parameter (how much two contained answers must share),
the value is chosen on the other collections (the highest precision there that keeps at least
`MIN_GOOD_KEPT` of their good pairs) and measured on the one held out.

    python -m benchmarks.docmatix_loco        # no LLM; ~3 min of CPU (8 min on 2 shared cores)
"""

from __future__ import annotations

import contextlib
from collections import Counter, defaultdict

from benchmarks import docmatix_test_split as split

# each change of round s9 (branch s9-checks): the module flags that undo it
CHANGES = {
    "title_keys: a key of the question in the page's title or a code heading counts (question_not_in_evidence)":
        {"TITLE_KEYS": False},
    "quote_off_page_located: a quote on no page falls back to the lines that hold the answer":
        {"QUOTE_OFF_PAGE_LOCATED": False},
    "contained_answers_overlap: an answer inside the other agrees only at token F1 >= 0.5 (second opinion)":
        {"CONTAINED_ANSWERS_OVERLAP": False},
}  # fmt: skip
MAIN = {**{k: v for undo in CHANGES.values() for k, v in undo.items()}, "BARE_EVIDENCE_LOCATED": False}  # main before s9
# the parameter chosen leave-one-collection-out: (token F1 a contained answer needs, for which answerers)
OVERLAP_SETTINGS = {
    "off": {"CONTAINED_ANSWERS_OVERLAP": False},
    **{f"second opinion, F1 >= {f1}": {"CONTAINED_MIN_F1": f1, "CONTAINED_OVERLAP_FOR": ("second_opinion",)}
       for f1 in (0.34, 0.5, 0.67)},
    **{f"both answerers, F1 >= {f1}": {"CONTAINED_MIN_F1": f1, "CONTAINED_OVERLAP_FOR": ("roundtrip", "second_opinion")}
       for f1 in (0.34, 0.5, 0.67)},
}  # fmt: skip
MIN_GOOD_KEPT = 0.95
# round s10 (branch s10-checks), on all 16 collections of rounds s3-s9: the change kept, undone (before) against
# the current checks (after); then each variant tried and not kept that a kept flag still expresses: (the checks it
# is compared with, its flags). The other variants' switches were removed from the checks (docs/benchmarks.md)
S10_KEPT = {"bare_evidence_located: evidence that is the answer alone falls back to the lines that hold the answer":
            {"BARE_EVIDENCE_LOCATED": False}}  # fmt: skip
_BEFORE_S10 = {"BARE_EVIDENCE_LOCATED": False}
S10_TRIED = {
    "evidence that is the answer alone kept as the quote (no evidence_is_answer, no fallback; before: main's)":
        (_BEFORE_S10, {**_BEFORE_S10, "BARE_EVIDENCE_REJECTED": False}),
}  # fmt: skip


@contextlib.contextmanager
def flags(settings: dict):
    """The checks' module flags set to `settings` for the block."""
    from curate.synth import checks

    saved = {name: getattr(checks, name) for name in settings}
    try:
        for name, value in settings.items():
            setattr(checks, name, value)
        yield
    finally:
        for name, value in saved.items():
            setattr(checks, name, value)


def labelled_pairs() -> tuple[list[dict], dict, dict, Counter]:
    """(the default writer's stored pairs on fully labelled documents, page texts per document, labels,
    input pages per collection)."""
    manifest = split._read(split.PAGES)
    pages: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for row in manifest:
        pages[split.doc_of(row["page_id"])].append((int(row["page_id"].rsplit("=", 1)[1]), row["text"]))
    labels = {split.pair_key(x["doc_id"], x["question"], x["answer"]): x for x in split._read(split.LABELS)}
    stored = split._read(split.PAIRS)
    runs: dict[str, dict[str, dict]] = defaultdict(dict)
    for row in split._read(split.RUNS):
        done = runs[row["run"]].setdefault(row["collection"], {"docs": [], "roundtrip_all": True})
        done["docs"] += row.get("docs", [])
        done["roundtrip_all"] &= row.get("note") == "roundtrip_all"
    # the default writer's runs that asked the round trip about every rule-passing pair, not the tuned ones
    names = [run for run in dict.fromkeys(p["run"] for p in stored)
             if run not in split.TUNED_RUNS and all(c["roundtrip_all"] for c in runs[run].values())]  # fmt: skip
    pairs = [p for p in stored if p["run"] in names]
    # the fresh round stays held out: the changes decided here are measured on it afterwards
    fresh = {split.doc_of(row["page_id"]) for row in manifest if row.get("round") == split.FRESH_ROUND}
    given = {doc for run in names for c in runs[run].values() for doc in c["docs"]} - fresh
    docs = split.complete_docs(pairs, labels, given)
    pairs = [p for p in pairs if p["doc_id"] in docs]
    pages_in = Counter(row["collection"] for row in manifest if split.doc_of(row["page_id"]) in docs)
    return pairs, pages, labels, pages_in


def kept_per_collection(pairs, pages, labels, settings: dict, **parts) -> dict[str, tuple[int, int]]:
    """collection -> (kept, good kept) under the checks with `settings` (and `parts` of
    `current_verdicts`: `answerers`, `evidence`, to leave a part out)."""
    with flags(settings):
        verdicts = split.current_verdicts(pairs, pages, **parts)
    out: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for pair, verdict in zip(pairs, verdicts, strict=True):
        if verdict is None and (pair["question"] or pair["answer"]):
            label = labels[split.pair_key(pair["doc_id"], pair["question"], pair["answer"])]
            out[pair["collection"]][0] += 1
            out[pair["collection"]][1] += label["label"] == "good"
    return {name: (kept, good) for name, (kept, good) in out.items()}


def _precision(kept: int, good: int) -> float | None:
    return good / kept if kept else None


def _fmt(kept: int, good: int, pages: int) -> str:
    precision = _precision(kept, good)
    return f"{'-' if precision is None else f'{precision:.2f}':>5} ({good:>3}/{kept:<3}) {good / pages:.2f}"


def better(before: tuple[int, int], after: tuple[int, int]) -> bool | None:
    """Whether `after` is better on one collection: higher precision, or the same with more good pairs;
    None when the kept pairs did not change."""
    if before == after:
        return None
    p0, p1 = _precision(*before) or 0.0, _precision(*after) or 0.0
    return p1 > p0 + 1e-9 or (abs(p1 - p0) <= 1e-9 and after[1] > before[1])


def compare(title: str, before: dict, after: dict, pages_in: Counter) -> tuple[int, int, int]:
    """Print each collection held out (before -> after) and the pooled figures; (better, worse, unchanged)."""
    print(title)
    print(f"   {'collection':<32}{'pages':>6}   {'before: precision (good/kept) good/page':<40}{'after':<26}verdict")
    tally = Counter()
    for name in sorted(pages_in):
        b, a = before.get(name, (0, 0)), after.get(name, (0, 0))
        verdict = better(b, a)
        tally[verdict] += 1
        shown = {None: "unchanged", True: "better", False: "worse"}[verdict]
        print(f"   {name:<32}{pages_in[name]:>6}   {_fmt(*b, pages_in[name]):<40}{_fmt(*a, pages_in[name]):<26}{shown}")
    total = sum(pages_in.values())
    pooled = [tuple(sum(x.get(n, (0, 0))[i] for n in pages_in) for i in (0, 1)) for x in (before, after)]
    print(f"   {'pooled (tuning data)':<32}{total:>6}   {_fmt(*pooled[0], total):<40}{_fmt(*pooled[1], total):<26}"
          f"better on {tally[True]}, worse on {tally[False]}, unchanged on {tally[None]} of {len(pages_in)} held out")  # fmt: skip
    return tally[True], tally[False], tally[None]


def choose_left_out(results: dict[str, dict], baseline: str, pages_in: Counter) -> None:
    """For each collection held out, the setting of `results` chosen on the others (highest precision keeping
    MIN_GOOD_KEPT of their good pairs under `baseline`), and its figures on the one held out."""
    print(f"the contained-answer overlap chosen on the other collections (precision there, keeping >= "
          f"{MIN_GOOD_KEPT:.0%} of their good pairs), measured on the one held out:")  # fmt: skip
    chosen_total, base_total, tally = [0, 0], [0, 0], Counter()
    for held in sorted(pages_in):
        others = [n for n in pages_in if n != held]
        good0 = sum(results[baseline].get(n, (0, 0))[1] for n in others)
        best = None
        for name, table in results.items():
            kept = sum(table.get(n, (0, 0))[0] for n in others)
            good = sum(table.get(n, (0, 0))[1] for n in others)
            if good < MIN_GOOD_KEPT * good0:
                continue
            score = (round(_precision(kept, good) or 0.0, 6), good)
            if best is None or score > best[0]:
                best = (score, name)
        b, a = results[baseline].get(held, (0, 0)), results[best[1]].get(held, (0, 0))
        verdict = better(b, a)
        tally[verdict] += 1
        for i in (0, 1):
            chosen_total[i] += a[i]
            base_total[i] += b[i]
        print(f"   {held:<32} chosen: {best[1]:<28} {_fmt(*b, pages_in[held])} -> {_fmt(*a, pages_in[held])}  "
              f"{ {None: 'unchanged', True: 'better', False: 'worse'}[verdict]}")  # fmt: skip
    total = sum(pages_in.values())
    print(f"   {'held-out collections summed':<32} {'':<36} {_fmt(*base_total, total)} -> {_fmt(*chosen_total, total)}  "
          f"better on {tally[True]}, worse on {tally[False]}, unchanged on {tally[None]}")  # fmt: skip


def per_check(pairs, pages, labels) -> None:
    """Each evidence check and answerer on its own (`docmatix_test_split.check_figures`: pairs it flags,
    precision, recall) with main's checks and with the current ones, on every collection (no parameter of
    the evidence changes is fitted, so each collection is measured as it would be held out)."""
    print("each evidence check and answerer on its own, on every labelled pair with the model's evidence "
          "(flagged, precision = share of them wrong, recall = share of the wrong pairs flagged):")  # fmt: skip
    tables = {}
    for name, settings in (("main", MAIN), ("current", {})):
        with flags(settings):
            tables[name] = split.check_figures(pairs, pages, labels)
    for check in tables["main"]:
        shown = []
        for name in ("main", "current"):
            n, precision, recall = tables[name][check]
            shown.append(f"{n:>4} {'-' if precision is None else f'{precision:.2f}':>5} "
                         f"{'-' if recall is None else f'{recall:.2f}':>5}")  # fmt: skip
        print(f"   {check:<26} main {shown[0]}   current {shown[1]}")


def round_s10(pairs, pages, labels, pages_in) -> None:
    """Round s10's change (taken out: before) and the variants tried (after), each collection held out."""
    current = kept_per_collection(pairs, pages, labels, {})
    for title, undo in S10_KEPT.items():
        compare(f"round s10, {title}: without it (before) -> the current checks (after):",
                kept_per_collection(pairs, pages, labels, undo), current, pages_in)  # fmt: skip
    for title, (base, settings) in S10_TRIED.items():
        compare(f"round s10, tried: {title}:", kept_per_collection(pairs, pages, labels, base),
                kept_per_collection(pairs, pages, labels, settings), pages_in)  # fmt: skip


def main() -> None:
    pairs, pages, labels, pages_in = labelled_pairs()
    n = sum(1 for p in pairs if p["question"] or p["answer"])
    print(f"leave-one-collection-out on the test split's labelled pairs (default writer, rounds s3-s9: {n} pairs on "
          f"{sum(pages_in.values())} pages of {len(pages_in)} collections; all read while tuning: tuning data)")  # fmt: skip
    round_s10(pairs, pages, labels, pages_in)
    main_checks = kept_per_collection(pairs, pages, labels, MAIN)
    current = kept_per_collection(pairs, pages, labels, {})
    compare("all round-s9 changes: main's checks (before) -> the current checks (after), each collection held out:",
            main_checks, current, pages_in)  # fmt: skip
    for title, undo in CHANGES.items():
        alone = {k: v for k, v in MAIN.items() if k not in undo}
        compare(f"{title}, alone on main's checks:", main_checks,
                kept_per_collection(pairs, pages, labels, alone), pages_in)  # fmt: skip
        compare(f"{title}, taken out of the current checks (before: without it):",
                kept_per_collection(pairs, pages, labels, undo), current, pages_in)  # fmt: skip
    # what each part of the current checks buys, each collection held out (before: without it)
    for title, parts in (("the evidence checks", {"evidence": False}), ("the second opinion", {"answerers": ("roundtrip",)}),
                         ("the round trip", {"answerers": ("second_opinion",)}), ("both answerers", {"answerers": ()})):
        compare(f"{title}, taken out of the current checks (before: without them):",
                kept_per_collection(pairs, pages, labels, {}, **parts), current, pages_in)  # fmt: skip
    per_check(pairs, pages, labels)
    overlap = {name: kept_per_collection(pairs, pages, labels, settings)
               for name, settings in OVERLAP_SETTINGS.items()}  # fmt: skip
    choose_left_out(overlap, "off", pages_in)


if __name__ == "__main__":
    main()
