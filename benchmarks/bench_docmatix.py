"""Docmatix QA generation: our qa stage vs a plain concurrent client sending the same prompts to the same
server in the same run; plus the acceptance figures on ../shared/data/pdf/born_digital (kept QA pairs
per page with text, share of kept answers grounded in their page).

Environment: CURATE_BENCH_PDFS (default ../shared/data/pdf/born_digital), CURATE_BENCH_MAX_PAGES
(pages per PDF, default 1: the embedded model on 2 shared cores takes ~30-60 s a page),
CURATE_BENCH_LLM_URL (use a running server instead of starting the embedded one).
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

from curate.io import RecordReader
from curate.stage import ExecutorConfig, run_recipe
from pipelines.docmatix import qa_summary, recipe
from synth.checks import words
from synth.generate import QAGenerator

REPO = Path(__file__).resolve().parent.parent
WORKERS = 2  # tasks at once, each with one request in flight: the same concurrency as the baseline
# the figures measure QA generation on every page with text, and the baseline asks about the same pages
EVERY_PAGE = {"dedup": False, "language": False, "perplexity": False}


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
    generator = QAGenerator(llm_url=url, model=model, response_format=response_format, **_generator_options())
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


def _generator_options() -> dict:
    keys = (
        "styles_per_page",
        "pairs_per_request",
        "n_ctx",
        "max_tokens",
        "max_chunks_per_page",
        "max_chunk_chars",
    )
    resolved = recipe().resolve({})  # the recipe's defaults, typed
    return {k: resolved[k] for k in keys}


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


def main() -> None:
    pdfs = Path(os.environ.get("CURATE_BENCH_PDFS", REPO.parent / "shared" / "data" / "pdf" / "born_digital"))
    if not pdfs.is_dir():
        print(f"skipped: {pdfs} not found (set CURATE_BENCH_PDFS)")
        return
    with tempfile.TemporaryDirectory(prefix="bench-docmatix-") as work:
        url = os.environ.get("CURATE_BENCH_LLM_URL")
        if url:
            models = requests.get(f"{url}/models", timeout=10).json()["data"]
            run(pdfs, url, models[0]["id"] if models else "", Path(work))
            return
        from synth.server import EmbeddedServer

        with EmbeddedServer(n_ctx=recipe().resolve({})["n_ctx"]) as server:
            run(pdfs, server.base_url, server.model_name, Path(work))


if __name__ == "__main__":
    import sys

    if sys.argv[1:2] == ["models"]:  # python -m benchmarks.bench_docmatix models [NAME ...]
        from synth.models import MODELS

        compare_models(
            Path(
                os.environ.get("CURATE_BENCH_PDFS", REPO.parent / "shared" / "data" / "pdf" / "born_digital")
            ),
            sys.argv[2:] or list(MODELS),
        )
    else:
        main()
