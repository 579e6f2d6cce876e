"""Docmatix QA: the checks against pairs labelled by reading the pages, the round-trip check's cost, the
grounding check on real OCR text, and our qa stage vs a plain concurrent client (same prompts, same server,
same run) with the acceptance figures on ../shared/data/pdf/born_digital.

Parts (CURATE_BENCH_DOCMATIX=test,grounding,labels,throughput; default all):
- test: the test split (benchmarks/docmatix_test_split.py): precision of kept pairs and good pairs per
  input page per collection of PDFs no check was tuned on, next to the tuning split's, with LLM seconds and
  generated tokens per kept and per good pair; from the stored pairs of each run and their labels (no LLM).
- grounding: `curate.synth.checks.grounding` on real (OCR text, question, human answer) triples of DocVQA: the
  300-question sample with Tesseract and a second OCR's text in github.com/IriventiBharath/
  High-Level-Computer-Vision-Project (results/OCR_tesseract_results.csv, results/OCR_VRDU_results.csv;
  not committed here). Read from CURATE_DOCVQA_CSV (comma-separated paths) or that repository's mirror
  in /work/.mirror; skipped, saying so, where absent. Baseline: the answer verbatim in the page.
- labels: benchmarks/data/docmatix_labels.jsonl, QA pairs about real pages of ../shared/data/pdf labelled
  keep/reject by reading the page (benchmarks/data/docmatix_pages.jsonl has the text each was written
  from). The checks run on the stored pairs (the model is not asked to write them again); the round
  trip asks the embedded model (or CURATE_BENCH_LLM_URL) to answer them again (CURATE_BENCH_ROUNDTRIP_STORE:
  a JSONL file its answers are kept in and reused from). Figures on two halves split by PDF and on the
  whole; the checks also run on DocVQA's human pairs (of the grounding part), which they were not tuned on.
- CURATE_BENCH_MODEL: the embedded model of labels and throughput (a packaged name or a GGUF path).
- CURATE_BENCH_SECOND_OPINION: the second opinion of labels and generate (default: the recipe's, the
  packaged 0.5B beside the embedded writer, none with CURATE_BENCH_LLM_URL; a name, GGUF path, URL or none).
- `python -m benchmarks.bench_docmatix generate NAME [NAME ...]`: each packaged model writes, answers again
  and checks pairs about the same pages (the labelled set's pages sent to the LLM, or CURATE_BENCH_PAGES),
  one after the other: kept pairs per page, their precision by benchmarks/data/docmatix_generated_labels.jsonl
  and docmatix_heldout_labels.jsonl (pairs labelled by reading the page; unlabelled kept pairs go to
  CURATE_BENCH_UNLABELLED; every rejected pair with its reason and evidence to CURATE_BENCH_REJECTED), s/page,
  and the cost per kept pair (LLM seconds and generated tokens). Held-out pages: CURATE_BENCH_PAGES=benchmarks/data/
  docmatix_heldout_pages.jsonl (public PDFs of pdfplumber, py-pdf/sample-files, camelot and pdfminer.six, each
  row citing its file; CURATE_BENCH_PAGE_SET=heldout1|heldout2 picks one set). `... pages PDF_DIR [N]`
  writes such a file from PDFs, as the recipe reads them.
- throughput: the qa stage vs a plain client on the first CURATE_BENCH_MAX_PAGES (default 1) page(s) of
  each PDF of CURATE_BENCH_PDFS (default ../shared/data/pdf/born_digital), round trip off in both.
"""

from __future__ import annotations

import contextlib
import copy
import csv
import json
import os
import re
import subprocess
import tempfile
import time
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests
from curate.pipelines.docmatix import recipe
from curate.synth import prompts
from curate.synth.checks import (
    PageIndex,
    answers_agree,
    check_pair,
    contained_min_f1,
    content_words,
    grounding,
    is_cover,
    page_kind,
    words,
)
from curate.synth.checks import tokens as answer_tokens
from curate.synth.client import ChatClient
from curate.synth.generate import Chunk, QAGenerator, parse_answer
from curate.synth.qa_config import Endpoint, Generation, LlmServers, RoundTrip
from curate.synth.summary import qa_summary

from curate.io import RecordReader
from curate.run.executors import ExecutorConfig
from curate.run.runner import run_recipe

REPO = Path(__file__).resolve().parent.parent
# the recipe's options, typed, as a run without --set has them (CURATE_BENCH_OPTIONS: a JSON of --set's to try)
DEFAULTS = recipe().resolve(json.loads(os.environ.get("CURATE_BENCH_OPTIONS") or "{}"))
DATA = Path(__file__).resolve().parent / "data"
WORKERS = 2  # tasks at once, each with one request in flight: the same concurrency as the baseline
# the figures measure QA generation on every page with text, and the baseline asks about the same pages;
# one sample per page and no round trip, so both send the same requests
EVERY_PAGE = {
    "dedup": False,
    "language": False,
    "perplexity": False,
    "sample_unit": "page",
    "roundtrip": False,
}
DOCVQA_REPO = "IriventiBharath/High-Level-Computer-Vision-Project"
DOCVQA_FILES = ("results/OCR_tesseract_results.csv", "results/OCR_VRDU_results.csv")


# ---- grounding on real OCR text ------------------------------------------------------------------------


def _squash(text: str) -> str:
    return re.sub(r"[^0-9a-z]", "", text.lower())


def docvqa_tables() -> dict[str, list[dict]]:
    """name -> rows (question, ground_truth "a | b", ocr_content) of each DocVQA CSV found."""
    paths = [p for p in os.environ.get("CURATE_DOCVQA_CSV", "").split(",") if p]
    tables = {
        Path(p).name: list(csv.DictReader(open(p, encoding="utf-8"))) for p in paths if Path(p).is_file()
    }
    mirror = Path("/work/.mirror") / DOCVQA_REPO.replace("/", "+") / "repo"
    if not tables and mirror.is_dir():
        for name in DOCVQA_FILES:
            done = subprocess.run(["git", "-C", str(mirror), "show", f"HEAD:{name}"], capture_output=True)
            if done.returncode == 0:
                tables[Path(name).name] = list(csv.DictReader(done.stdout.decode("utf-8").splitlines(True)))
    return tables


def grounding_on_ocr(rows: list[dict], threshold: float) -> dict:
    """Accept rate of human answers that are on their page (up to spacing and punctuation, or yes/no to a
    yes/no question), and how many of them are accepted on another document's page that lacks them."""
    from curate.synth.checks import is_yes_no_question

    texts = list(dict.fromkeys(r["ocr_content"] for r in rows))
    on_page = accepted = verbatim = moved = moved_checked = moved_any = 0
    for row in rows:
        answers = [a.strip() for a in row["ground_truth"].split(" | ") if a.strip()]
        page, question = row["ocr_content"], row["question"]
        yes_no = is_yes_no_question(question) and any(a.lower() in ("yes", "no") for a in answers)
        if not yes_no and not any(_squash(a) and _squash(a) in _squash(page) for a in answers):
            continue  # OCR lost the answer: no text check can accept it
        on_page += 1
        index = PageIndex(page)
        accepted += max(grounding(a, index, question) for a in answers) >= threshold
        flat = " ".join(page.lower().split())
        verbatim += any(
            re.search(rf"(?<!\w){re.escape(' '.join(a.lower().split()))}(?!\w)", flat) for a in answers
        )
        other = texts[(texts.index(page) + 1) % len(texts)]
        moved_any += max(grounding(a, PageIndex(other), question) for a in answers) >= threshold
        if not any(_squash(a) in _squash(other) for a in answers):
            moved_checked += 1
            moved += max(grounding(a, PageIndex(other), question) for a in answers) >= threshold
    return {"triples": len(rows), "on_page": on_page, "accepted": accepted / max(1, on_page),
            "verbatim": verbatim / max(1, on_page), "moved": moved / max(1, moved_checked),
            "moved_checked": moved_checked, "moved_any": moved_any / max(1, on_page)}  # fmt: skip


def bench_grounding() -> None:
    tables = docvqa_tables()
    if not tables:
        print(
            f"grounding on OCR text: skipped (no DocVQA CSV: set CURATE_DOCVQA_CSV, or mirror {DOCVQA_REPO})"
        )
        return
    threshold = DEFAULTS["min_grounding"]
    for name, rows in tables.items():
        f = grounding_on_ocr(rows, threshold)
        print(
            f"grounding >= {threshold} on DocVQA {name}: {f['on_page']} of {f['triples']} human answers are on "
            f"their OCR page; accepted {f['accepted']:.1%} (goal >= 95%; verbatim-match baseline "
            f"{f['verbatim']:.1%}, {f['accepted'] / max(f['verbatim'], 1e-9):.2f}x); accepted on another "
            f"document's page that lacks them: {f['moved']:.1%} of {f['moved_checked']} (goal <= 5%); on the next document's page "
            f"whatever it holds: {f['moved_any']:.1%} (short numbers and words are on many pages)"
        )


# ---- the labelled set ------------------------------------------------------------------------------------


def load_labels() -> tuple[list[dict], dict[str, str]]:
    labels = [
        json.loads(line) for line in open(DATA / "docmatix_labels.jsonl", encoding="utf-8") if line.strip()
    ]
    pages = {}
    for line in open(DATA / "docmatix_pages.jsonl", encoding="utf-8"):
        if line.strip():
            page = json.loads(line)
            pages[page["page_id"]] = page["text"]
    return labels, pages


def language_dropped(pages: dict[str, str]) -> set[str]:
    """Pages the recipe's language filter drops before the LLM (English >= language_min_score)."""
    from curate.filters.language import LanguageFilter

    lid = LanguageFilter(languages=["en"])
    dropped = set()
    for page_id, text in pages.items():
        lang, score = lid.identify(text)
        if lang != "en" or score < DEFAULTS["language_min_score"]:
            dropped.add(page_id)
    return dropped


def label_verdicts(
    labels: list[dict],
    pages: dict[str, str],
    min_grounding: float,
    answers=None,
    dropped_pages=frozenset(),
    second=None,
) -> list[str | None]:
    """Each labelled pair's rejection reason (None: kept), as the checks stage decides: the pairs of a page
    in order, a page a reader would not ask about rejected whole, and, given the round-trip `answers` (by
    label index), a pair kept only when they agree; only kept pairs count for near-duplicates."""
    verdicts: list[str | None] = []
    state: dict[str, tuple[set, list]] = defaultdict(lambda: (set(), []))
    for i, label in enumerate(labels):
        seen, kept = state[label["page_id"]]
        kind = "language" if label["page_id"] in dropped_pages else page_kind(pages[label["page_id"]])
        if kind:  # the page is not sent to the LLM at all (dropped by the language filter, or a ToC...)
            verdicts.append(kind)
            continue
        cover = is_cover(1 if label["page_id"].endswith("#page=1") else 2, pages[label["page_id"]])
        reason, _ = check_pair(label["question"], label["answer"], PageIndex(pages[label["page_id"]]), seen,
                               min_grounding, cover=cover, kept=kept)  # fmt: skip
        for key, asked in (("roundtrip", answers), ("second_opinion", second)):
            if reason is None and asked is not None:
                other = asked.get(i)
                if not other or not answers_agree(label["answer"], other, DEFAULTS["roundtrip_min_f1"],
                                                  contained_min_f1(key)):
                    reason = key
        if reason is None:
            kept.append((content_words(label["question"]), " ".join(answer_tokens(label["answer"]))))
        verdicts.append(reason)
    return verdicts


def roundtrip_answers(
    client: ChatClient, labels, pages, verdicts, kind: str, store: Path | None = None
) -> tuple[dict[int, str | None], list]:
    """The round trip for the pairs that passed the cheap checks, one request per question, the pairs of
    a page one after another (as the qa stage sends them); (answers by label index, seconds per page).
    With `store` (a JSONL file), answers the same model gave before to the same question about the same
    page are read from it (temperature 0), and new ones appended, so changes to the checks are measured
    again without asking again; seconds are those of the pages asked in this run."""
    stored = {}
    if store and store.is_file():
        for line in open(store, encoding="utf-8"):
            row = json.loads(line)
            stored[(row["model"], row["page_id"], row["question"])] = row["answer"]
    by_page: dict[str, list[int]] = defaultdict(list)
    for i, (label, verdict) in enumerate(zip(labels, verdicts, strict=True)):
        if verdict is None:
            by_page[label["page_id"]].append(i)
    fmt = prompts.response_format(kind, schema=prompts.ROUNDTRIP_SCHEMA, name="answer")
    answers, seconds = {}, []
    for page_id, indices in by_page.items():
        started, all_asked = time.monotonic(), True
        for i in indices:
            key = (client.model, page_id, labels[i]["question"])
            if key not in stored:
                result = client.chat(prompts.roundtrip_messages(pages[page_id], labels[i]["question"]),
                                     max_tokens=64, temperature=0.0, response_format=fmt)  # fmt: skip
                stored[key] = parse_answer(result.text)
                if store:
                    with open(store, "a", encoding="utf-8") as f:
                        row = {"model": key[0], "page_id": page_id, "question": key[2], "answer": stored[key]}
                        f.write(json.dumps(row, ensure_ascii=False) + "\n")
            else:
                all_asked = False
            answers[i] = stored[key]
        if all_asked:
            seconds.append(time.monotonic() - started)
    return answers, seconds


def roundtrip_cost(
    client: ChatClient, pages: dict[str, str], kind: str, n: int, second: ChatClient | None = None
) -> dict:
    """Seconds per page of the generation request and of the round trip sent right after it about the
    same text (as the qa stage does: the server's prompt cache holds the page), and of the same round
    trip after a request about another page (nothing cached)."""
    generator = QAGenerator(
        LlmServers(Endpoint(client.base_url, response_format=kind)), recipe_generation(), RoundTrip(True)
    )
    ids = [p for p in pages if not page_kind(pages[p])][:n]
    gen, warm, cold, questions, opinion = [], [], [], [], []
    for i, page_id in enumerate(ids):
        chunk = Chunk(0, pages[page_id], [2])
        started = time.monotonic()
        answer = generator.ask(
            client, chunk, "lookup", prompts.messages(chunk.text, "lookup", 3), None, second
        )
        opinion.append(answer["second_opinion"]["seconds"] if answer.get("second_opinion") else 0.0)
        gen.append(time.monotonic() - started - answer["roundtrip"]["seconds"] - opinion[-1])
        warm.append(answer["roundtrip"]["seconds"])
        other = Chunk(0, pages[ids[(i + 1) % len(ids)]], [2])  # evicts this page from the cache
        generator.ask(client, other, "numbers", prompts.messages(other.text, "numbers", 3)) if len(
            ids
        ) > 1 else None
        pairs = [{k: p[k] for k in ("question", "answer")} for p in answer["pairs"]]
        fresh = ChatClient(
            client.base_url, client.model, timeout=900, deadline=900
        )  # no memo of the warm answers
        cold.append(generator.ask_roundtrip(fresh, chunk, pairs)["seconds"] if pairs else 0.0)
        questions.append(answer["roundtrip"]["questions"])
    return {"pages": len(ids), "generation": sum(gen) / len(ids), "warm": sum(warm) / len(ids),
            "cold": sum(cold) / len(ids), "questions": sum(questions) / len(ids),
            "second": sum(opinion) / len(ids)}  # fmt: skip


def precision_figures(labels, kept_flags) -> tuple[float, int, int]:
    kept = [label for label, k in zip(labels, kept_flags, strict=True) if k]
    good = sum(label["label"] == "keep" for label in kept)
    return good / max(1, len(kept)), good, len(kept)


def label_halves(labels: list[dict]) -> list[str]:
    """ "tune" or "held-out" for each labelled pair, by PDF (all pages of a PDF on one side, so a check
    tuned on one half is measured on documents it has not seen): the PDFs by pair count, each to the half
    with fewer pairs so far. A check tuned from now on should be tuned on "tune" only (the checks up to
    copies_page were designed from the failures of the whole set, within what DocVQA's human pairs allow,
    so neither half is unseen by them)."""
    pdf = [label["page_id"].split("#")[0] for label in labels]
    sizes, halves = Counter(pdf), {"tune": 0, "held-out": 0}
    side = {}
    for name, n in sorted(sizes.items(), key=lambda item: (-item[1], item[0])):
        side[name] = min(halves, key=lambda h: (halves[h], h != "tune"))
        halves[side[name]] += n
    return [side[name] for name in pdf]


def split_figures(labels, kept_flags, asked_pages) -> str:
    """Precision of kept pairs, recall of the pairs labelled keep and kept pairs per page sent to the LLM,
    on each half of the labelled set and on the whole."""
    halves = label_halves(labels)
    parts = []
    for name in ("tune", "held-out", "all"):
        idx = [i for i, h in enumerate(halves) if name in (h, "all")]
        precision, good, kept = precision_figures([labels[i] for i in idx], [kept_flags[i] for i in idx])
        keeps = sum(labels[i]["label"] == "keep" for i in idx)
        n_pages = len({labels[i]["page_id"] for i in idx} & set(asked_pages))
        parts.append(f"{name}: precision {precision:.2f} ({good}/{kept}), recall of keeps {good}/{keeps} = "
                     f"{good / max(1, keeps):.2f}, {kept / max(1, n_pages):.2f} kept/page ({n_pages} pages)")  # fmt: skip
    return "; ".join(parts)


def checks_on_human_pairs() -> str | None:
    """What the checks (the round trip aside) do to real questions with human answers about real OCR text
    (the DocVQA triples of the grounding part): the rejects by reason, so a check that would drop good
    pairs shows here, on pairs the checks were not tuned on."""
    tables = docvqa_tables()
    if not tables:
        return None
    rows = [row for table in tables.values() for row in table]
    reasons = Counter()
    for row in rows:
        answer = row["ground_truth"].split(" | ")[0].strip()
        reason, _ = check_pair(row["question"], answer, PageIndex(row["ocr_content"]), set(),
                               DEFAULTS["min_grounding"])  # fmt: skip
        reasons[reason or "kept"] += 1
    return (f"checks on {len(rows)} DocVQA human pairs ({', '.join(tables)}): {dict(reasons.most_common())} "
            "(DocVQA asks about titles and page numbers, which about_document rejects by design)")  # fmt: skip


def bench_labels(client: ChatClient | None, kind: str, second: ChatClient | None = None) -> None:
    labels, pages = load_labels()
    threshold = DEFAULTS["min_grounding"]
    page_ids = sorted({label["page_id"] for label in labels})
    print(
        f"labelled set: {len(labels)} pairs ({sum(x['label'] == 'keep' for x in labels)} keep) about "
        f"{len(page_ids)} pages: {dict(Counter(x['kind'] for x in labels))} pairs by page kind"
    )
    toc = [p for p in pages if page_kind(pages[p])]
    print(f"pages a reader would not ask about, found from text and not sent to the LLM: {toc}")
    dropped = language_dropped(pages)
    asked_pages = [p for p in page_ids if p not in dropped and not page_kind(pages[p])]
    print(
        f"pages the language filter drops before the LLM (pairs about them count as rejected): {sorted(dropped)}"
    )
    verdicts = label_verdicts(labels, pages, threshold, dropped_pages=dropped)
    agree = sum((v is None) == (label["label"] == "keep") for v, label in zip(verdicts, labels, strict=True))
    precision, good, kept = precision_figures(labels, [v is None for v in verdicts])
    print(f"checks without the round trip: {kept} kept, precision {precision:.2f} ({good}/{kept}); "
          f"agreement with the labels {agree / len(labels):.1%}; rejected by reason "
          f"{dict(Counter(v for v in verdicts if v))}")  # fmt: skip
    real = [label for label in labels if label["label"] == "keep"]
    grounded = sum(
        grounding(x["answer"], PageIndex(pages[x["page_id"]]), x["question"]) >= threshold for x in real
    )
    print(f"grounding >= {threshold} accepts {grounded}/{len(real)} = {grounded / max(1, len(real)):.1%} of the "
          "answers labelled keep (real answers on real pages)")  # fmt: skip
    print(
        f"   without the round trip, by half: {split_figures(labels, [v is None for v in verdicts], asked_pages)}"
    )
    if human := checks_on_human_pairs():
        print(human)
    missed = [(x["question"], x["answer"], v) for x, v in zip(labels, verdicts, strict=True)
              if x["label"] == "keep" and v]  # fmt: skip
    for question, answer, reason in missed:
        print(f"   labelled keep, rejected ({reason}): {question} -> {answer}")
    if client is None:
        return
    store = os.environ.get("CURATE_BENCH_ROUNDTRIP_STORE")
    answers, seconds = roundtrip_answers(
        client, labels, pages, verdicts, kind, Path(store) if store else None
    )
    final = [v is None for v in label_verdicts(labels, pages, threshold, answers, dropped)]
    precision, good, kept = precision_figures(labels, final)
    model = [i for i, x in enumerate(labels) if x["origin"] == "model"]
    model_precision, model_good, model_kept = precision_figures(
        [labels[i] for i in model], [final[i] for i in model]
    )
    print(f"with the round trip ({client.model}): {kept} kept, precision {precision:.2f} ({good}/{kept}, goal >= 0.85); "
          f"of the model's own pairs: {model_kept} kept of {len(model)}, precision {model_precision:.2f} "
          f"({model_good}/{model_kept}); {kept / len(asked_pages):.2f} kept pairs per page sent to the LLM (goal >= 1.5; "
          f"model's pairs only: {model_kept / len(asked_pages):.2f}; {len(asked_pages)} of {len(page_ids)} pages); round trip rejected "
          f"{sum(v is None for v in verdicts) - kept}; {len(seconds)} requests, "
          f"{sum(seconds) / max(1, len(seconds)):.1f} s per page (the page read once per page, cached for its later questions)")  # fmt: skip
    print(f"   with the round trip, by half: {split_figures(labels, final, asked_pages)}")
    for i, label in enumerate(labels):
        if final[i] and label["label"] == "reject":
            print(f"   labelled reject, kept: {label['question']} -> {label['answer']} ({label['reason']})")
    for i, label in enumerate(labels):
        if verdicts[i] is None and not final[i] and label["label"] == "keep":
            print(
                f"   labelled keep, round trip disagreed: {label['question']} -> {label['answer']} / {answers.get(i)}"
            )
    if second is not None:
        # the second model is asked what passed the checks (as the qa stage asks it); the pairs the writer's
        # round trip rejected are rejected either way
        seconds_answers, _ = roundtrip_answers(
            second, labels, pages, verdicts, kind, Path(store) if store else None
        )
        both = [
            v is None for v in label_verdicts(labels, pages, threshold, answers, dropped, seconds_answers)
        ]
        precision, good, kept = precision_figures(labels, both)
        model_precision, model_good, model_kept = precision_figures(
            [labels[i] for i in model], [both[i] for i in model]
        )
        print(f"with the second opinion ({second.model}) agreeing too (the recipe's default): {kept} kept, "
              f"precision {precision:.2f} ({good}/{kept}, goal >= 0.85); of the model's own pairs: {model_kept} kept, "
              f"precision {model_precision:.2f} ({model_good}/{model_kept}); {kept / len(asked_pages):.2f} kept pairs "
              f"per page sent to the LLM (goal >= 1.5)")  # fmt: skip
        print(f"   with the second opinion, by half: {split_figures(labels, both, asked_pages)}")
        for i, label in enumerate(labels):
            if final[i] and not both[i]:
                print(f"   second opinion rejected [{label['label']}]: {label['question']} -> {label['answer']} "
                      f"/ {seconds_answers.get(i)}")  # fmt: skip
    cost = roundtrip_cost(
        client, pages, kind, int(os.environ.get("CURATE_BENCH_ROUNDTRIP_PAGES", "3")), second
    )
    print(f"round-trip cost on {cost['pages']} pages ({cost['questions']:.1f} questions asked again per page): "
          f"generation {cost['generation']:.1f} s/page; round trip right "
          f"after it (page in the prompt cache) {cost['warm']:.1f} s/page = {cost['warm'] / cost['generation']:.2f}x "
          f"of generation; about a page not in the cache {cost['cold']:.1f} s/page "
          f"(cache saves {1 - cost['warm'] / max(cost['cold'], 1e-9):.0%})")  # fmt: skip
    if second is not None:
        print(f"second opinion ({second.model}): {cost['second']:.1f} s/page = "
              f"{cost['second'] / cost['generation']:.2f}x of generation")  # fmt: skip


def records(folder: Path):
    return list(RecordReader(str(folder)).run())


def strictly_grounded(answer: str, page: str) -> bool:
    """An independent, stricter test than the filter's: the answer appears verbatim in the page (case and
    spacing ignored), or at least 80% of its words do."""
    flat = " ".join(page.lower().split())
    if " ".join(answer.lower().split()) in flat:
        return True
    tokens = words(answer)
    page_words = set(words(page))
    return bool(tokens) and sum(t in page_words for t in tokens) / len(tokens) >= 0.8


def acceptance(output: Path) -> dict:
    pages = records(output / "stages" / "pages" / "data")
    with_text = [p for p in pages if len(p.text.strip()) >= 50]
    kept = records(output / "stages" / "checks" / "data")
    turns = [(t, doc.text) for doc in kept for t in doc.metadata["qa"]]
    grounded = sum(strictly_grounded(t["assistant"], text) for t, text in turns)
    return {
        "pages": len(pages),
        "pages_with_text": len(with_text),
        "kept_pairs": len(turns),
        "kept_pairs_per_page_with_text": len(turns) / max(1, len(with_text)),
        "kept_answers_grounded": grounded / max(1, len(turns)),
    }


def baseline(url: str, model: str, pages_dir: Path, concurrency: int, response_format: str = "llama") -> dict:
    """The same requests as the qa stage, sent with requests + a thread pool, answers parsed with json.loads."""
    generator = QAGenerator(LlmServers(Endpoint(url, model, response_format)), recipe_generation())
    payloads = [
        {"model": model, "messages": messages, **generator.request_params()}
        for doc in records(pages_dir)
        if len(doc.text.strip()) >= generator.min_text_chars
        for _, _, messages in generator.requests_for(doc)
    ]

    def send(payload):
        body = requests.post(f"{url}/chat/completions", json=payload, timeout=900).json()
        if "choices" not in body:  # refused (e.g. context exceeded): counted, like the stage's errors
            return 0, 0, 0
        try:
            pairs = len(json.loads(body["choices"][0]["message"]["content"]).get("pairs", []))
        except (ValueError, AttributeError):
            pairs = 0
        return pairs, body["usage"]["prompt_tokens"], body["usage"]["completion_tokens"]

    started = time.monotonic()
    with ThreadPoolExecutor(concurrency) as pool:
        results = list(pool.map(send, payloads))
    seconds = time.monotonic() - started
    return {
        "requests": len(payloads),
        "seconds": seconds,
        "pairs": sum(r[0] for r in results),
        "prompt_tokens": sum(r[1] for r in results),
        "completion_tokens": sum(r[2] for r in results),
    }


def recipe_generation() -> Generation:
    """The recipe's generation settings, as a run without --set has them."""
    keys = ("styles_per_page", "pairs_per_request", "n_ctx", "max_tokens", "max_chunks_per_page")
    return Generation(**{k: DEFAULTS[k] for k in keys}, max_chunk_chars=DEFAULTS["max_chunk_chars"] or None)


def run(pdfs: Path, url: str, model: str, work: Path) -> None:
    max_pages = int(os.environ.get("CURATE_BENCH_MAX_PAGES", "1"))
    options = {"llm_url": url, "llm_model": model, "response_format": "llama", "max_pages": max_pages}
    options.update(EVERY_PAGE)
    output = work / "run"
    run_recipe(recipe(), str(pdfs), output, ExecutorConfig(workers=WORKERS), options=options)
    ours = qa_summary(output)
    ours_seconds = float((output / "stages" / "qa" / "elapsed.txt").read_text())
    base = baseline(url, model, output / "stages" / "pages" / "data", WORKERS)

    figures = acceptance(output)
    print(
        f"input: {pdfs} (first {max_pages} page(s) of each PDF; dedup and filters off, so every page goes"
        f" to the LLM), model {model}"
    )
    print(
        f"acceptance: {figures['pages']} pages, {figures['pages_with_text']} with text, "
        f"{figures['kept_pairs']} kept QA pairs = {figures['kept_pairs_per_page_with_text']:.2f} per page "
        f"with text (goal >= 1); kept answers grounded (verbatim or >= 80% of words in the page): "
        f"{figures['kept_answers_grounded']:.1%} (goal >= 90%)"
    )
    print(f"QA funnel: {json.dumps(ours)}")
    ours_tokens = ours["prompt_tokens"] + ours["completion_tokens"]
    base_tokens = base["prompt_tokens"] + base["completion_tokens"]
    rows = [
        ("qa stage (ours)", ours["requests"], ours_seconds, ours["pairs_generated"], ours_tokens,
         ours["completion_tokens"]),
        ("plain client", base["requests"], base["seconds"], base["pairs"], base_tokens, base["completion_tokens"]),
    ]  # fmt: skip
    print(f"{'':<18}{'requests':>9}{'seconds':>9}{'pairs/s':>9}{'tok/s':>9}{'gen tok/s':>10}")
    for name, n, seconds, pairs, tokens, generated in rows:
        print(
            f"{name:<18}{n:>9}{seconds:>9.1f}{pairs / seconds:>9.3f}{tokens / seconds:>9.1f}"
            f"{generated / seconds:>10.2f}"
        )
    print(
        f"ratio ours/plain: pairs/s {(ours['pairs_generated'] / ours_seconds) / (base['pairs'] / base['seconds']):.2f}x,"
        f" tokens/s {(ours_tokens / ours_seconds) / (base_tokens / base['seconds']):.2f}x (goal >= 0.95x)"
    )


def compare_models(pdfs: Path, names: list[str]) -> None:
    """QA quality of each packaged model on the same pages (the model is chosen on these figures)."""
    max_pages = int(os.environ.get("CURATE_BENCH_MAX_PAGES", "1"))
    for name in names:
        with tempfile.TemporaryDirectory(prefix="bench-docmatix-model-") as work:
            output = Path(work) / "run"
            started = time.monotonic()
            options = {"embedded_model": name, "max_pages": max_pages, **EVERY_PAGE}
            run_recipe(recipe(), str(pdfs), output, ExecutorConfig(workers=WORKERS), options=options)
            figures, summary = acceptance(output), qa_summary(output)
            print(
                f"model {name}: {figures['kept_pairs_per_page_with_text']:.2f} kept pairs per page with text, "
                f"{figures['kept_answers_grounded']:.1%} grounded, {summary['pairs_generated']} generated, "
                f"{summary['responses_malformed']} malformed responses, rejected {summary['rejected']}, "
                f"{time.monotonic() - started:.0f}s"
            )


# ---- generation on the labelled set's pages --------------------------------------------------------------


def _pair_key(page_id: str, question: str, answer: str) -> tuple[str, str, str]:
    return page_id, " ".join(words(question)), " ".join(words(answer))


def load_generated_labels() -> dict[tuple[str, str, str], dict]:
    """Labels (keep/reject with the reason, by reading the page) of pairs the models wrote during the
    generation bench, keyed by page, question, answer: on the labelled set's pages
    (docmatix_generated_labels.jsonl) and on held-out public pages (docmatix_heldout_labels.jsonl)."""
    labels = [
        json.loads(line)
        for name in ("docmatix_generated_labels.jsonl", "docmatix_heldout_labels.jsonl")
        for line in open(DATA / name, encoding="utf-8")
        if line.strip()
    ]
    labels += [x for x in load_labels()[0] if x["origin"] == "model"]
    return {_pair_key(x["page_id"], x["question"], x["answer"]): x for x in labels}


def pages_for_generation() -> dict[str, str]:
    """page_id -> text of the pages the generation bench asks about: the labelled set's pages that the
    recipe sends to the LLM, or those of CURATE_BENCH_PAGES (a JSONL of page_id/text, e.g. tuning pages)."""
    source = os.environ.get("CURATE_BENCH_PAGES")
    if source:
        rows = [json.loads(line) for line in open(source, encoding="utf-8") if line.strip()]
        wanted = os.environ.get("CURATE_BENCH_PAGE_SET")  # e.g. heldout2 of docmatix_heldout_pages.jsonl
        rows = [r for r in rows if not wanted or r.get("set") == wanted]
        return {r["page_id"]: r["text"] for r in rows if not page_kind(r["text"])}
    labels, pages = load_labels()
    dropped = language_dropped(pages)
    ids = sorted({x["page_id"] for x in labels})
    return {p: pages[p] for p in ids if p not in dropped and not page_kind(pages[p])}


def write_pages(pdfs: Path, max_pages: int, out) -> None:
    """A JSONL of page_id/text (for CURATE_BENCH_PAGES) of the first `max_pages` pages of every PDF under
    `pdfs`, read as the recipe reads them, without the pages its language filter drops."""
    from curate.pdf.reader import PdfPageReader

    reader = PdfPageReader(str(pdfs), max_pages=max_pages, glob_pattern="**/*.pdf")  # the recipe's dpi
    pages = {doc.id: doc.text for doc in reader.run() if doc.text.strip()}
    dropped = language_dropped(pages)
    for page_id, text in pages.items():
        if page_id not in dropped:
            out.write(json.dumps({"page_id": page_id, "text": text}, ensure_ascii=False) + "\n")


def generate_on_pages(name: str, pages: dict[str, str], labels: dict, out: Path) -> dict:
    """The qa stage's generation, round trip and checks, as the recipe runs them (one sample per page),
    with packaged model `name` on the embedded server; kept pairs matched against the labels."""
    from curate.synth.checks import QAChecks
    from curate.synth.server import EmbeddedServer
    from datatrove.data import Document

    kept, unlabelled, rejected, seconds, tokens, without = [], [], Counter(), [], [], []
    with EmbeddedServer(model=name, n_ctx=DEFAULTS["n_ctx"]) as server, _second_opinion(False) as second:
        second_opinion = Endpoint(second.base_url, second.model, "llama") if second else None
        servers = LlmServers(Endpoint(server.base_url, server.model_name, "llama"), second_opinion=second_opinion)
        generator = QAGenerator(servers, recipe_generation(), RoundTrip(True, DEFAULTS["min_grounding"]))
        checks = QAChecks(
            min_grounding=DEFAULTS["min_grounding"], roundtrip_min_f1=DEFAULTS["roundtrip_min_f1"]
        )
        client = ChatClient(server.base_url, server.model_name, timeout=900, deadline=900)
        for page_id, text in pages.items():
            number = int(page_id.rsplit("=", 1)[-1]) if "#page=" in page_id else 1
            doc = Document(text=text, id=page_id, metadata={"page": number})
            started = time.monotonic()
            answers = [
                generator.ask(client, *request, None, second) for request in generator.requests_for(doc)
            ]
            seconds.append(time.monotonic() - started)
            tokens.append(sum(a["completion_tokens"] + sum((a.get(k) or {}).get("completion_tokens", 0)
                                                           for k in ("roundtrip", "second_opinion"))
                              for a in answers))  # fmt: skip
            print(f"   {name} {page_id}: {seconds[-1]:.0f} s, {tokens[-1]} generated tokens", flush=True)
            checks.score(generator.finish_page(doc, answers))
            # the same pairs checked without the round trip and the second opinion: what they add
            alone = Document(text=doc.text, id=doc.id, metadata=copy.deepcopy(doc.metadata))
            alone.metadata["qa_generation"].update(roundtrip=False, second_opinion_model=None)
            checks.score(alone)
            kept_here = {(t["user"], t["assistant"]) for t in doc.metadata["qa"]}
            for turn, evidence in zip(alone.metadata["qa"], alone.metadata["qa_evidence"], strict=True):
                label = labels.get(_pair_key(page_id, turn["user"], turn["assistant"]))
                without.append(label)
                if label is None and (turn["user"], turn["assistant"]) not in kept_here:
                    with open(out, "a", encoding="utf-8") as file:  # to label: what the round trip rejected
                        file.write(json.dumps({"page_id": page_id, "question": turn["user"],
                                               "answer": turn["assistant"], "evidence": evidence["evidence"],
                                               "model": name, "rejected_by": "roundtrip/second_opinion"},
                                              ensure_ascii=False) + "\n")  # fmt: skip
            rejected.update(r["reason"] for r in doc.metadata["qa_rejected"])
            if os.environ.get("CURATE_BENCH_REJECTED"):  # every rejected pair with its reason and evidence
                with open(os.environ["CURATE_BENCH_REJECTED"], "a", encoding="utf-8") as file:
                    for r in doc.metadata["qa_rejected"]:
                        row = {"page_id": page_id, "model": name, **{k: r.get(k) for k in (
                            "question", "answer", "reason", "evidence", "roundtrip", "second_opinion")}}  # fmt: skip
                        file.write(json.dumps(row, ensure_ascii=False) + "\n")
            rejected.update(r["reason"] for r in doc.metadata["qa_rejects"])
            for turn, prov, evidence in zip(doc.metadata["qa"], doc.metadata["qa_provenance"],
                                            doc.metadata["qa_evidence"], strict=True):  # fmt: skip
                pair = {"page_id": page_id, "question": turn["user"], "answer": turn["assistant"],
                        "roundtrip": prov["roundtrip"], "second_opinion": prov["second_opinion"],
                        "style": prov["style"], "model": name, "evidence": evidence["evidence"],
                        "evidence_pages": evidence["pages"]}  # fmt: skip
                label = labels.get(_pair_key(page_id, turn["user"], turn["assistant"]))
                kept.append((pair, label))
                if label is None:
                    unlabelled.append(pair)
                    with open(
                        out, "a", encoding="utf-8"
                    ) as file:  # as it goes: labelled while the run goes on
                        file.write(json.dumps(pair, ensure_ascii=False) + "\n")
    labelled = [label for _, label in kept if label]
    good = sum(label["label"] == "keep" for label in labelled)
    generated = sum(rejected.values()) + len(kept)
    without_labelled = [label for label in without if label]
    return {"pages": len(pages), "kept": len(kept), "generated": generated, "rejected": rejected,
            "seconds": sum(seconds) / max(1, len(seconds)), "labelled": len(labelled), "good": good,
            "unlabelled": unlabelled, "pairs": kept, "llm_seconds": sum(seconds), "tokens": sum(tokens),
            "kept_without": len(without), "labelled_without": len(without_labelled),
            "good_without": sum(label["label"] == "keep" for label in without_labelled)}  # fmt: skip


def compare_generation(names: list[str]) -> None:
    """Kept pairs per page, their precision (by the labels) and seconds per page of each packaged model on
    the same pages in the same run; kept pairs without a label are written to CURATE_BENCH_UNLABELLED
    (default /tmp/docmatix-unlabelled.jsonl) to be labelled by reading the page."""
    pages, labels = pages_for_generation(), load_generated_labels()
    out = Path(os.environ.get("CURATE_BENCH_UNLABELLED", "/tmp/docmatix-unlabelled.jsonl"))
    results = {}
    for name in names:
        f = results[name] = generate_on_pages(name, pages, labels, out)
        precision = (
            f"{f['good'] / f['labelled']:.2f} ({f['good']}/{f['labelled']} labelled)"
            if f["labelled"]
            else "-"
        )
        print(f"model {name} on {f['pages']} pages: {f['kept'] / f['pages']:.2f} kept pairs per page (goal >= 1.5), "
              f"precision of kept pairs {precision}, {len(f['unlabelled'])} kept pairs unlabelled; "
              f"{f['generated']} generated, rejected {dict(f['rejected'].most_common())}; "
              f"{f['seconds']:.1f} s/page (generation and round trip)", flush=True)  # fmt: skip
        per_kept = max(1, f["kept"])
        print(f"   cost per kept pair: {f['llm_seconds'] / per_kept:.1f} LLM seconds, "
              f"{f['tokens'] / per_kept:.0f} generated tokens (generation, round trip and second opinion); "
              f"without the round trip and the second opinion {f['kept_without']} kept, precision "
              f"{f['good_without'] / max(1, f['labelled_without']):.2f} "
              f"({f['good_without']}/{f['labelled_without']} labelled)", flush=True)  # fmt: skip
        for pair, label in f["pairs"]:
            verdict = label["label"] if label else "?"
            print(f"   [{verdict}] {pair['page_id']}: {pair['question']} -> {pair['answer']} "
                  f"(evidence p{pair['evidence_pages']}: {pair['evidence']!r})")
    base = results[names[0]]
    for name in names[1:]:
        print(f"{name} vs {names[0]}: kept pairs {results[name]['kept'] / max(1, base['kept']):.2f}x, "
              f"seconds per page {results[name]['seconds'] / max(1e-9, base['seconds']):.2f}x")  # fmt: skip


def main() -> None:
    parts = os.environ.get("CURATE_BENCH_DOCMATIX", "test,grounding,labels,throughput").split(",")
    if "test" in parts:
        from benchmarks.docmatix_test_split import bench_test_split

        bench_test_split()
    if "grounding" in parts:
        bench_grounding()
    pdfs = Path(os.environ.get("CURATE_BENCH_PDFS", REPO.parent / "shared" / "data" / "pdf" / "born_digital"))
    if "throughput" in parts and not pdfs.is_dir():
        print(f"throughput: skipped: {pdfs} not found (set CURATE_BENCH_PDFS)")
        parts.remove("throughput")
    if not {"labels", "throughput"} & set(parts):
        return
    with (
        tempfile.TemporaryDirectory(prefix="bench-docmatix-") as work,
        _llm() as (url, model, kind),
        _second_opinion(external=bool(os.environ.get("CURATE_BENCH_LLM_URL"))) as second,
    ):
        if "labels" in parts:
            bench_labels(ChatClient(url, model, timeout=900, deadline=900), kind, second)
        if "throughput" in parts:
            run(pdfs, url, model, Path(work))


@contextlib.contextmanager
def _llm():
    """(base URL, model, response format kind) of CURATE_BENCH_LLM_URL, or of the embedded server."""
    url = os.environ.get("CURATE_BENCH_LLM_URL")
    if url:
        models = requests.get(f"{url}/models", timeout=10).json()["data"]
        yield url, models[0]["id"] if models else "", "openai"
        return
    from curate.synth.server import EmbeddedServer

    # CURATE_BENCH_MODEL: a packaged model name (synth.models.MODELS) or a GGUF path; default: the recipe's
    model = os.environ.get("CURATE_BENCH_MODEL") or DEFAULTS["embedded_model"]
    with EmbeddedServer(model=model, n_ctx=DEFAULTS["n_ctx"]) as server:
        yield server.base_url, server.model_name, "llama"


@contextlib.contextmanager
def _second_opinion(external: bool):
    """A client of the second opinion the recipe would ask (CURATE_BENCH_SECOND_OPINION: a packaged name, a
    GGUF path, a URL or none; default: the recipe's), started as the recipe starts it; None when off."""
    from curate.synth.service import second_opinion, second_opinion_server

    options = {**DEFAULTS, "second_opinion": os.environ.get("CURATE_BENCH_SECOND_OPINION") or "auto"}
    chosen = second_opinion(options, external)
    if chosen is None:
        yield None
        return
    with second_opinion_server(chosen, options) as server:
        yield ChatClient(server.url, server.model, timeout=900, deadline=900, cache_scope="second_opinion")


if __name__ == "__main__":
    import sys

    if sys.argv[1:2] == ["generate"]:  # python -m benchmarks.bench_docmatix generate NAME [NAME ...]
        from curate.synth.models import MODELS

        compare_generation(sys.argv[2:] or list(MODELS))
    elif sys.argv[1:2] == [
        "pages"
    ]:  # python -m benchmarks.bench_docmatix pages PDF_DIR [MAX_PAGES] > X.jsonl
        write_pages(Path(sys.argv[2]), int(sys.argv[3]) if sys.argv[3:] else 2, sys.stdout)
    elif sys.argv[1:2] == ["models"]:  # python -m benchmarks.bench_docmatix models [NAME ...]
        from curate.synth.models import MODELS

        compare_models(
            Path(
                os.environ.get("CURATE_BENCH_PDFS", REPO.parent / "shared" / "data" / "pdf" / "born_digital")
            ),
            sys.argv[2:] or list(MODELS),
        )
    else:
        main()
