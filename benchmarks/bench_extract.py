"""Main-content extraction across public labelled sets of different origin: ours vs trafilatura (the baseline,
and jusText / readability-lxml when installed), quality and speed measured in the same run.

The sets, where they are looked for, and the split are in benchmarks/extract_sets.py: trafilatura's
evaluation set and CleanPortalEval are the tuning sets; every other set is held out and reported on its
own, untouched: the ScrapingHub article-extraction-benchmark, CleanEval dev and final, Dragnet, Google
News (L3S-GN1) and a Chinese set. Goal on each held-out set: F1 >= trafilatura's at >= 3x its speed, and
F1 >= trafilatura's on the held-out non-English pages.

Metrics: on the sets with expected text, the ScrapingHub benchmark's own: 4-token shingles (a token is a
word, or a character in Chinese, Japanese, Thai...), true/false positives and false negatives per page
normalised by their sum, precision and recall averaged over pages, F1 their harmonic mean. On
trafilatura's set, its own: must / must-not snippets found as substrings.

Each set's non-English pages are scored apart too (trafilatura's set has 780 of them, mostly German), and
the held-out sets' non-English pages pooled.

Ours is scored on its article body: its text blocks without the headline (its first block when that is a
heading) and without figure captions; none of the sets' expected texts holds captions, and trafilatura
leaves the title out too.

Speed: documents per second from the raw page bytes (each tool decodes them itself), one core, best of
BENCH_EXTRACT_ROUNDS rounds per set (default 1; sets under 200 pages get enough rounds for 200 pages); the
tools take turns page by page, so every tool sees the same machine load. BENCH_EXTRACT_SETS=name,name
limits the run to sets whose name holds one of the words; BENCH_EXTRACT_OTHERS=1 adds jusText and
readability-lxml.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable

from benchmarks.extract_sets import (
    LabelledPage,
    LabelledSet,
    load_sets,
    set_scores,
    shingle_counts,
    shingle_scores,
)

ROUNDS = int(os.environ.get("BENCH_EXTRACT_ROUNDS", 1))
MIN_TIMED_PAGES = 200  # smaller sets are run several rounds, best of them
SETS = [w.strip().lower() for w in os.environ.get("BENCH_EXTRACT_SETS", "").split(",") if w.strip()]
HEADINGS = ("h1", "h2", "h3")
OURS = "curate extract_page"
BASELINE = "trafilatura"


def _ours(page: LabelledPage) -> str:
    """Our article body: the text blocks without the headline and figure captions (both stay in our
    documents: the headline first, a caption right after its image)."""
    from curate.web.extract import TextBlock, extract_page

    blocks = [i for i in extract_page(page.html, page.url).items if isinstance(i, TextBlock)]
    if blocks and blocks[0].tag in HEADINGS:
        blocks = blocks[1:]
    return "\n".join(b.text for b in blocks if b.tag != "figcaption")


def _trafilatura(page: LabelledPage) -> str:
    import trafilatura

    return trafilatura.extract(page.html, url=page.url or None, include_comments=False) or ""


def _justext(page: LabelledPage) -> str:
    import justext

    paragraphs = justext.justext(page.html, justext.get_stoplist("English"))
    return "\n".join(p.text for p in paragraphs if not p.is_boilerplate)


def _readability(page: LabelledPage) -> str:
    import lxml.html
    from readability import Document

    summary = Document(page.html).summary(html_partial=True)
    return lxml.html.fromstring(summary).text_content() if summary.strip() else ""


def extractors() -> dict[str, Callable[[LabelledPage], str]]:
    import importlib.util

    found = {OURS: _ours, BASELINE: _trafilatura}
    if os.environ.get("BENCH_EXTRACT_OTHERS") and importlib.util.find_spec("justext"):
        found["jusText (English list)"] = _justext
    if os.environ.get("BENCH_EXTRACT_OTHERS") and importlib.util.find_spec("readability"):
        found["readability-lxml"] = _readability
    return found


def run(pages: list[LabelledPage], tools: dict, rounds: int) -> dict[str, tuple[list[str], float]]:
    """Each extractor's outputs and its best docs/s over `rounds` rounds. The tools take turns page by page,
    so a change in machine load (other jobs on a shared machine) falls on all of them alike."""
    outputs: dict[str, list[str]] = {name: [""] * len(pages) for name in tools}
    speed: dict[str, float] = {}
    for _ in range(rounds):
        seconds = dict.fromkeys(tools, 0.0)
        for i, page in enumerate(pages):
            for name, extract in tools.items():
                started = time.perf_counter()
                try:
                    outputs[name][i] = extract(page)
                except Exception:  # a tool that fails on a page scores nothing for it
                    outputs[name][i] = ""
                seconds[name] += time.perf_counter() - started
        for name in tools:
            speed[name] = max(speed.get(name, 0.0), len(pages) / max(seconds[name], 1e-9))
    return {name: (outputs[name], speed[name]) for name in tools}


def _cell(scores: tuple[float, float, float]) -> str:
    return f"{scores[0]:.3f} {scores[1]:.3f} {scores[2]:.3f}"


def report_set(
    labelled: LabelledSet, results: dict[str, tuple[list[str], float]]
) -> tuple[float, float, float]:
    """Print one set's table; return (F1 ours - baseline, speed ratio, pages)."""
    pages = labelled.pages
    role = "TUNING set" if labelled.tuning else "held out"
    non_english = sum(1 for p in pages if p.non_english)
    metric = "snippet" if labelled.metric == "snippets" else "4-token-shingle"
    print(f"\n{labelled.name} ({role}): {len(pages)} pages, {non_english} not English; {labelled.origin}")
    print(f"   {metric} F1 / precision / recall; docs/s")
    base_speed = results[BASELINE][1]
    for name, (texts, rate) in results.items():
        print(
            f"   {name:24} {_cell(set_scores(labelled, pages, texts)):>20} {rate:8.1f}"
            f"  ({rate / base_speed:.2f}x {BASELINE})"
        )
    foreign = [i for i, p in enumerate(pages) if p.non_english]
    if 0 < len(foreign) < len(pages):  # a set's non-English pages apart (the tuning sets' too)
        for name, (texts, _) in results.items():
            sub = [pages[i] for i in foreign]
            scores = set_scores(labelled, sub, [texts[i] for i in foreign])
            print(f"   {name + ', not English':24} {_cell(scores):>20}  ({len(foreign)} pages)")
    if labelled.name.startswith("ScrapingHub"):
        odd = [i for i, p in enumerate(pages) if p.odd]
        for name, (texts, _) in results.items():
            sub = [pages[i] for i in odd]
            print(
                f"   {name + ', odd half':24} {_cell(set_scores(labelled, sub, [texts[i] for i in odd])):>20}"
                f"  ({len(odd)} pages never tuned on)"
            )
    ours = set_scores(labelled, pages, results[OURS][0])[0]
    base = set_scores(labelled, pages, results[BASELINE][0])[0]
    ratio = results[OURS][1] / base_speed
    print(f"   F1 ours - {BASELINE}: {ours - base:+.3f} (goal >= 0); speed {ratio:.2f}x (goal >= 3x)")
    return ours - base, ratio, len(pages)


def main() -> None:
    import logging

    logging.getLogger("trafilatura").setLevel(logging.CRITICAL)
    logging.getLogger("readability").setLevel(logging.CRITICAL)
    sets, skipped = load_sets()
    for reason in skipped:
        print(f"skipped: {reason}")
    if SETS:
        sets = [s for s in sets if any(w in s.name.lower() for w in SETS)]
    tools = extractors()
    non_english: dict[str, list[tuple[float, float, float]]] = {name: [] for name in tools}
    summary = []
    for labelled in sets:
        # a small set is over in seconds: best of more rounds, so one busy moment does not decide its speed
        results = run(labelled.pages, tools, max(ROUNDS, -(-MIN_TIMED_PAGES // len(labelled.pages))))
        summary.append((labelled, *report_set(labelled, results)))
        if labelled.tuning or labelled.metric != "shingles":
            continue
        for name, (texts, _) in results.items():
            non_english[name] += [
                shingle_counts(p.truth, t)
                for p, t in zip(labelled.pages, texts, strict=True)
                if p.non_english
            ]
    pooled = len(non_english[OURS])
    if pooled:
        print(f"\nNon-English pages of the held-out sets, pooled: {pooled} pages")
        for name, counts in non_english.items():
            print(f"   {name:24} {_cell(shingle_scores(counts)):>20}")
    if summary:
        print(f"\nSummary: F1 ours - {BASELINE} (speed ratio) per set")
        for labelled, delta, ratio, n in summary:
            role = "tuning" if labelled.tuning else "held out"
            print(f"   {labelled.name:42} {n:5} pages  {role:8}  {delta:+.3f}  ({ratio:.1f}x)")


if __name__ == "__main__":
    main()
