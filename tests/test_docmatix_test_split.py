"""The docmatix test split: its pages come from collections the checks were not tuned on, each page cites
its file, every stored pair is labelled, and the figures count what the labels say."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pytest

from benchmarks import docmatix_test_pdfs as sources
from benchmarks import docmatix_test_split as split

DATA = Path(split.__file__).resolve().parent / "data"


def manifest() -> list[dict]:
    return split._read(split.PAGES)


def test_every_page_cites_its_file_at_a_commit_with_its_licence():
    rows = manifest()
    assert len(rows) >= 60 and len({r["collection"] for r in rows}) >= 3
    by_name = {doc.name: doc for doc in sources.DOCS}
    for row in rows:
        doc = by_name[split.doc_of(row["page_id"])]
        assert row["collection"] == doc.collection and row["path"] == doc.path
        assert doc.first <= row["page"] <= doc.last
        assert row["commit"] in row["origin"] and row["licence"]
        if row["origin"].startswith("https://github.com/"):
            assert re.fullmatch(r"[0-9a-f]{40}", row["commit"])
    # every page of every test document is there, those the reader could not make with no text
    assert Counter(split.doc_of(r["page_id"]) for r in rows) == {
        d.name: d.last - d.first + 1 for d in sources.DOCS
    }


def test_no_test_collection_is_one_the_checks_were_tuned_on():
    tuning = [json.loads(x)["source"] for x in open(DATA / "docmatix_heldout_pages.jsonl") if x.strip()]
    tuning_repos = {re.match(r"https://github.com/([^/]+/[^/]+)/", url).group(1).lower() for url in tuning}
    # ../shared/data/pdf (the labelled set's pages) comes from these (its SOURCES.md)
    tuning_repos |= {"jsvine/pdfplumber", "docling-project/docling", "mozilla/pdf.js", "ocrmypdf/ocrmypdf"}
    test_repos = {c["repo"].lower() for c in sources.COLLECTIONS.values() if "repo" in c}
    assert test_repos and not test_repos & tuning_repos
    reserved = {"texlive-science-doc", "r-doc-pdf"}  # kept for an outside check
    assert not reserved & {c.get("deb") for c in sources.COLLECTIONS.values()}


def test_every_stored_pair_is_labelled_and_every_label_is_a_stored_pair():
    pairs = [p for p in split._read(split.PAIRS) if p["question"] or p["answer"]]
    labels = split._read(split.LABELS)
    if not pairs:
        pytest.skip("no stored pairs yet")
    keys = {split.pair_key(p["doc_id"], p["question"], p["answer"]) for p in pairs}
    labelled = {split.pair_key(x["doc_id"], x["question"], x["answer"]) for x in labels}
    assert keys == labelled
    assert all(x["label"] in ("good", "bad") and x["reason"].strip() for x in labels)
    pages = {split.doc_of(r["page_id"]) for r in manifest()}
    assert {p["doc_id"] for p in pairs} <= pages


def test_figures_count_what_the_labels_say():
    pairs = split._read(split.PAIRS)
    if not pairs:
        pytest.skip("no stored pairs yet")
    labels = {split.pair_key(x["doc_id"], x["question"], x["answer"]): x for x in split._read(split.LABELS)}
    kept = [p for p in pairs if p["verdict"] is None]
    good = sum(
        labels[split.pair_key(p["doc_id"], p["question"], p["answer"])]["label"] == "good" for p in kept
    )
    pages_in = Counter({"all": 10})
    table = split.figures(pairs, [p["verdict"] for p in pairs], labels, pages_in, None)
    assert table["all"]["kept"] == len(kept) and table["all"]["good"] == good
    assert table["all"]["precision"] == pytest.approx(good / len(kept))
    assert table["all"]["good_per_page"] == pytest.approx(good / 10)
    # a check set that rejects everything keeps nothing: no precision, no good pair
    none = split.figures(pairs, ["all"] * len(pairs), labels, pages_in, None)
    assert none["all"]["kept"] == 0 and none["all"]["precision"] is None and none["all"]["good_per_page"] == 0


def test_stored_page_text_is_what_the_reader_writes(tmp_path):
    doc = next(d for d in sources.DOCS if d.name == "unstructured/fake-memo.p1-1.pdf")
    if not sources.original_path(doc).is_file():
        pytest.skip(
            f"SKIPPED: {sources.original_path(doc)} not in the cache (python -m benchmarks.docmatix_test_pdfs fetch)"
        )
    folder = tmp_path / "pdfs"
    sources.DOCS, saved = [doc], sources.DOCS
    try:
        sources.write_excerpts(folder)
        rows = sources.manifest_rows(folder)
    finally:
        sources.DOCS = saved
    stored = {r["page_id"]: r for r in manifest()}
    assert [r["text"] for r in rows] == [stored[r["page_id"]]["text"] for r in rows]
    assert "20,000 bottles of water" in rows[0]["text"]


def test_remaining_documents_alternate_between_collections():
    """A session that cannot generate on every test page still covers each collection about evenly."""
    done = {doc for row in split._read(split.RUNS) for doc in row.get("docs", [])}
    order = split.remaining_docs()
    assert not set(order) & done and len(order) == len(set(order))
    assert set(order) | done == {split.doc_of(r["page_id"]) for r in manifest()}
    collections = [doc.split("/")[0] for doc in order]
    left = Counter(collections)
    for a, b in zip(collections, collections[1:], strict=False):
        left[a] -= 1
        assert a != b or sum(n > 0 for n in left.values()) == 1  # repeats only once the others ran out


def test_modelled_cost_keeps_generation_and_scales_the_round_trip():
    """A run that asked the round trip about every rule-passing pair costs, for checks that ask about all of
    them, what it measured; for checks that ask about none, its generation alone."""
    runs = [r for r in split._read(split.RUNS) if r.get("note") == "roundtrip_all"]
    if not runs:
        pytest.skip("no roundtrip_all run stored yet")
    run = runs[0]["run"]
    pairs = [p for p in split._read(split.PAIRS) if p["run"] == run]
    cost: dict[str, dict] = {}
    for row in (r for r in runs if r["run"] == run):
        c = cost.setdefault(row["collection"], Counter())
        for key in ("llm_seconds", "completion_tokens", "roundtrip_completion_tokens", "roundtrip_ms"):
            c[key] += row.get(key) or 0
    was_asked = [p.get("roundtrip") is not None or p.get("second_opinion") is not None for p in pairs]
    every = split.modelled_cost(pairs, was_asked, cost)
    none = split.modelled_cost(pairs, [False] * len(pairs), cost)
    for name, c in cost.items():
        asked_here = any(a for p, a in zip(pairs, was_asked, strict=True) if p["collection"] == name)
        assert every[name]["llm_seconds"] == pytest.approx(
            c["llm_seconds"] if asked_here else c["llm_seconds"] - c["roundtrip_ms"] / 1000
        )
        assert none[name]["llm_seconds"] == pytest.approx(c["llm_seconds"] - c["roundtrip_ms"] / 1000)
        assert none[name]["roundtrip_completion_tokens"] == 0
        assert none[name]["completion_tokens"] == every[name]["completion_tokens"] == c["completion_tokens"]


def test_untouched_runs_add_up_per_collection():
    """The untouched test pages are reported together over every run of the default writer after the tuned
    ones: each collection's seconds, tokens and documents are the sum of its runs' rows."""
    rows = [
        r for r in split._read(split.RUNS) if r["run"] not in split.TUNED_RUNS and r.get("note") == "roundtrip_all"
    ]
    names = tuple(dict.fromkeys(r["run"] for r in rows))
    if not names:
        pytest.skip("no untouched run stored yet")
    runs: dict[str, dict[str, dict]] = {}
    for row in rows:  # as bench_test_split reads them: one entry per run and collection
        done = runs.setdefault(row["run"], {}).setdefault(row["collection"], {"docs": []})
        done["llm_seconds"] = done.get("llm_seconds", 0) + row["llm_seconds"]
        done["docs"] += row["docs"]
        done["roundtrip_all"] = row.get("note") == "roundtrip_all"
    merged = split.merge_runs(runs, names)
    for collection, c in merged.items():
        mine = [r for r in rows if r["collection"] == collection]
        assert c["llm_seconds"] == pytest.approx(sum(r["llm_seconds"] for r in mine))
        assert sorted(c["docs"]) == sorted(d for r in mine for d in r["docs"])
        assert c["roundtrip_all"] == all(r.get("note") == "roundtrip_all" for r in mine)
    assert not {d for c in merged.values() for d in c["docs"]} & split.tuned_docs()


def test_the_fresh_round_is_new_collections_alternating():
    """Round s6 (the fresh split) adds pages of collections no earlier test page comes from, each row marked
    with its round, and `generate-fresh` takes its documents one collection after the other."""
    rows = manifest()
    fresh = [r for r in rows if r.get("round") == split.FRESH_ROUND]
    earlier = {r["collection"] for r in rows if r.get("round") != split.FRESH_ROUND}
    # round s10 is a short round (~25 pages, what a session can run and label); earlier rounds had >= 30
    assert len(fresh) >= 20 and not {r["collection"] for r in fresh} & earlier
    order = split.fresh_docs()
    assert set(order) == {split.doc_of(r["page_id"]) for r in fresh} and len(order) == len(set(order))
    collections = [doc.split("/")[0] for doc in order]
    left = Counter(collections)
    for a, b in zip(collections, collections[1:], strict=False):
        left[a] -= 1
        assert a != b or sum(n > 0 for n in left.values()) == 1


def test_a_fresh_page_text_is_what_the_reader_writes(tmp_path):
    doc = next(d for d in sources.DOCS if d.name == "pdf-lib/receipt.p1-1.pdf")
    if not sources.original_path(doc).is_file():
        pytest.skip(
            f"SKIPPED: {sources.original_path(doc)} not in the cache (python -m benchmarks.docmatix_test_pdfs fetch)"
        )
    folder = tmp_path / "pdfs"
    sources.write_excerpts(folder, [doc])
    rows = sources.manifest_rows(folder, [doc])
    stored = {r["page_id"]: r for r in manifest()}
    assert [(r["text"], r["round"]) for r in rows] == [(stored[r["page_id"]]["text"], "s6") for r in rows]
    assert "WaveOC USA" in rows[0]["text"]


def test_round_s6_reproduces_its_figures_under_the_checks_it_was_measured_with():
    """Round s6 is tuning data for round s7's change, reported on its own line: under the current checks
    with round s7's and round s9's changes undone (the checks s6 was measured with) its kept pairs are 38 good of 54 on 63
    pages as measured, as docs/benchmarks.md reports, and 36 of 51 with the page texts the reader now
    writes (the receipt's text under white boxes is left out, so three pairs quoting it lose their
    evidence); the current checks are computed on the same pairs."""
    stored, rows = split._read(split.PAIRS), split._read(split.RUNS)
    names = tuple(dict.fromkeys(r["run"] for r in rows if r["run"].startswith("s6-qa-fresh")))
    if len(names) != 3:
        pytest.skip("round s6's three runs are not stored")
    runs: dict[str, dict[str, dict]] = {}
    for row in rows:  # as bench_test_split reads them
        done = runs.setdefault(row["run"], {}).setdefault(row["collection"], {"docs": []})
        for key in ("llm_seconds", "completion_tokens", "roundtrip_completion_tokens", "roundtrip_ms"):
            done[key] = done.get(key, 0) + (row.get(key) or 0)
        done["docs"] += row["docs"]
    pages: dict[str, list] = {}
    for row in manifest():
        pages.setdefault(split.doc_of(row["page_id"]), []).append((int(row["page_id"].rsplit("=", 1)[1]), row["text"]))
    labels = {split.pair_key(x["doc_id"], x["question"], x["answer"]): x for x in split._read(split.LABELS)}
    # the checks s6 was measured with: round s7's change and round s9's undone
    undo = ("QUOTE_MISSES_LOCATED", *split.ROUND_FIXES["s9"][-1][1])
    before = split.round_figures(names, stored, runs, manifest(), pages, labels, undo=undo)
    assert (before["all"]["pages"], before["all"]["kept"], before["all"]["good"]) == (63, 51, 36)
    now = split.round_figures(names, stored, runs, manifest(), pages, labels)
    assert now["all"]["pages"] == 63 and now["all"]["kept_labelled"] == now["all"]["kept"]
    assert now["all"]["s_per_kept"] is not None and now["all"]["tok_per_good"] is not None


def test_leave_one_collection_out_reads_every_labelled_pair_and_reproduces_a_collection():
    """benchmarks/docmatix_loco.py: the default writer's labelled pairs of rounds s3-s9 (1178 on 271 pages of 16
    collections); pdf-lib held out keeps 9 good of 11 under main's checks before round s9, 10 of 11 under round
    s9's and 11 of 12 under round s10's, as docs/benchmarks.md reports; a collection is better with higher
    precision, or the same and more good pairs."""
    from benchmarks import docmatix_loco as loco

    pairs, pages, labels, pages_in = loco.labelled_pairs()
    if len(pages_in) < 16:
        pytest.skip("the labelled test split of rounds s3-s9 is not stored")
    assert sum(1 for p in pairs if p["question"] or p["answer"]) == 1178 and sum(pages_in.values()) == 271
    mine = [p for p in pairs if p["collection"] == "pdf-lib"]
    assert loco.kept_per_collection(mine, pages, labels, loco.MAIN) == {"pdf-lib": (11, 9)}
    assert loco.kept_per_collection(mine, pages, labels, {"BARE_EVIDENCE_LOCATED": False}) == {"pdf-lib": (11, 10)}
    assert loco.kept_per_collection(mine, pages, labels, {}) == {"pdf-lib": (12, 11)}
    assert loco.better((11, 9), (11, 10)) and loco.better((10, 5), (8, 5)) and not loco.better((8, 5), (10, 5))
    assert loco.better((7, 4), (7, 4)) is None
