"""Docmatix: PDFs -> documents (page images in order) + question/answer conversations written by an LLM.

Stages: pages (PDF -> page records, Docmatix limits: 150 dpi, longest side 2940 px, PDFs of at most 4
pages; longer ones are skipped and counted as `too_many_pages`) -> dedup (identical renders, same or
near-duplicate text; `--set dedup=false`) -> filter (English by fastText lid.176 >= 0.5, n-gram
perplexity scored; `--set language=false`, `--set perplexity=false`) -> perplexity_cut (the 5%
highest-perplexity pages over the whole run, Idefics2) -> documents (the pages of each PDF joined into
one sample, as Docmatix; `--set sample_unit=page` keeps one sample per page) -> qa (an OpenAI-compatible
LLM writes QA pairs about the text, then answers them again from the page: the round trip) -> checks
(QA rules, each rejection counted with its reason) -> shards (WebDataset and Hub-native Parquet; both
have Docmatix's `texts` turns).

The LLM: `--set llm_url=http://HOST:PORT/v1` uses a running server (e.g. `curate serve-llm`);
without it an embedded llama.cpp server with the packaged model is started for the qa stage and
stopped when the run ends, also on failure.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from datatrove.utils.stats import PipelineStats

from curate.documents import PagesToDocuments, check_documents_unique
from curate.report import stat_total
from curate.stage import Recipe, Stage, StageContext, StageFailed, count_input_files
from filters.dedup.stages import page_dedup_stages
from pipelines.common import shards_stage
from pipelines.pdf_pages import page_filter_stages, pages_stage
from synth.checks import QAChecks
from synth.client import ChatClient, ServerUnavailable
from synth.generate import QAGenerator

DEFAULTS = {
    # filtered before the LLM sees a page, so no request is spent on a duplicate or a garbage page
    "dedup": True,
    "language": True,
    "perplexity": True,
    # pages are forms, tables and transcripts, not web prose: OBELICS's 0.8 dropped English pages of
    # the shared set (a bulletin table at 0.71, a Redbooks cover at 0.78); other languages still go
    "language_min_score": 0.5,
    "dpi": 150,
    "max_side": 2940,
    "max_pages": 4,  # Docmatix kept PDFs of at most 4 pages
    # Docmatix's sample: a whole PDF (its page images in order, questions about all of it);
    # "page": one sample per page. Longer PDFs: `--set long_pdfs=first` takes their first max_pages
    "sample_unit": "document",
    # a page dropped by dedup or the filters leaves its document with the other pages ("drop": drop it)
    "incomplete_documents": "keep",
    "formats": "webdataset,parquet",
    "n_ctx": 2048,
    "max_tokens": 384,
    "styles": "lookup,numbers,reasoning",
    "styles_per_page": 1,
    "pairs_per_request": 3,
    # on a CPU, prompt processing is most of the time: the first ~2,500 characters of a page (about
    # 700 tokens) make one request of 30-60 s on 2 cores. With a GPU server raise both:
    # --set max_chunk_chars=0 --set max_chunks_per_page=4 --set n_ctx=8192
    "max_chunks_per_page": 1,
    "max_chunk_chars": 2500,
    # share of an answer's content words that must be in the page. Measured on the first pages of
    # born_digital/ with the packaged model: at 0.6, 81% of kept answers were in the page verbatim or
    # by >= 80% of all their words; at 0.8, 92% (paraphrases such as "The page discusses ..." go)
    "min_grounding": 0.8,
    "min_pairs": 1,
    # the model answers its own questions again from the page; a pair is kept when both answers agree
    # (same after normalising, one inside the other, or token F1 >= roundtrip_min_f1; numbers equal)
    "roundtrip": True,
    "roundtrip_min_f1": 0.5,
    # tables of contents, indexes and reference lists are not sent to the LLM
    "skip_toc_pages": True,
}


def build_documents(ctx: StageContext):
    return [
        ctx.reader(),
        PagesToDocuments(
            incomplete=str(ctx.option("incomplete_documents", "keep")),
            exclusion_writer=ctx.exclusion_writer("documents"),
            error_writer=ctx.error_writer("documents"),
        ),
        ctx.writer(),
    ]


def finish_documents(ctx: StageContext) -> None:
    try:
        check_documents_unique(ctx.data_dir)
    except RuntimeError as exc:
        raise StageFailed(f"stage 'documents': {exc}") from exc


def documents_stage() -> Stage:
    return Stage(
        "documents",
        build_documents,
        finish=finish_documents,
        active=lambda ctx: ctx.option("sample_unit", "document") == "document",
        description="the pages of each PDF joined into one document sample (--set sample_unit=page: off)",
    )


def build_qa(ctx: StageContext):
    external = bool(ctx.option("llm_external"))
    return [
        ctx.reader(),
        QAGenerator(
            llm_url=ctx.option("llm_url"),
            model=ctx.option("llm_model", ""),
            styles=tuple(str(ctx.option("styles")).split(",")),
            styles_per_page=int(ctx.option("styles_per_page")),
            pairs_per_request=int(ctx.option("pairs_per_request")),
            n_ctx=int(ctx.option("n_ctx")),
            max_tokens=int(ctx.option("max_tokens")),
            max_chunks_per_page=int(ctx.option("max_chunks_per_page")),
            max_chunk_chars=int(ctx.option("max_chunk_chars")) or None,
            # llama.cpp answers one request at a time: one queued per task keeps it busy;
            # vLLM batches many, so keep many in flight
            concurrency=int(ctx.option("llm_concurrency", 32 if external else 1)),
            timeout=float(ctx.option("llm_timeout", 900)),
            retries=int(ctx.option("llm_retries", 4)),
            response_format=ctx.option("response_format", "openai" if external else "llama"),
            cache_dir=str(ctx.stage_dir / "requests"),
            skip_page_kinds=ctx.flag("skip_toc_pages", True),
            roundtrip=ctx.flag("roundtrip", True),
            roundtrip_url=ctx.option("roundtrip_llm_url"),
            roundtrip_model=ctx.option("roundtrip_llm_model"),
            min_grounding=float(ctx.option("min_grounding")),
            error_writer=ctx.error_writer("qa"),
        ),
        ctx.writer(),
    ]


def qa_tasks(ctx: StageContext) -> int:
    """The embedded llama.cpp server answers one request at a time and keeps only the last prompt in its
    cache: one task sends a page's round trip right after its generation request, so the page is read
    once; tasks interleaving their requests would evict each other's page. A server of your own
    (`llm_url`, e.g. vLLM batching many requests) gets one task per input file."""
    if ctx.option("llm_external"):
        return count_input_files(ctx.input, (".parquet",))
    return 1


def build_checks(ctx: StageContext):
    return [
        ctx.reader(),
        QAChecks(
            min_grounding=float(ctx.option("min_grounding")),
            min_pairs=int(ctx.option("min_pairs")),
            roundtrip_min_f1=float(ctx.option("roundtrip_min_f1", 0.5)),
            exclusion_writer=ctx.exclusion_writer("checks"),
            error_writer=ctx.error_writer("checks"),
        ),
        ctx.writer(),
    ]


def qa_summary(output: Path) -> dict:
    """QA pairs of a run: generated, kept, rejected by reason (from the qa and checks stages' stats)."""
    totals: Counter = Counter()
    for stage in ("qa", "checks"):
        for path in (output / "stages" / stage / "logs" / "stats").glob("*.json"):
            for step in PipelineStats.from_json(json.loads(path.read_text())).stats:
                for key in step.stats:
                    if key.startswith(
                        ("qa_", "requests", "prompt_tokens", "completion_tokens", "responses_", "roundtrip_",
                         "pages_skipped_")
                    ):  # fmt: skip
                        totals[key] += stat_total(step, key)
    return {
        "pairs_generated": totals["qa_pairs_generated"],
        "responses_malformed": totals["responses_malformed"],
        "pairs_checked": totals["qa_pairs"],
        "pairs_kept": totals["qa_kept"],
        "rejected": {
            k.removeprefix("qa_rejected_"): v for k, v in totals.items() if k.startswith("qa_rejected_")
        },
        "requests": totals["requests"],
        "requests_from_checkpoint": totals["requests_cached"],
        "prompt_tokens": totals["prompt_tokens"],
        "completion_tokens": totals["completion_tokens"],
        "pages_not_sent": {
            k.removeprefix("pages_skipped_"): v for k, v in totals.items() if k.startswith("pages_skipped_")
        },
        "roundtrip_requests": totals["roundtrip_requests"],
        "roundtrip_seconds": totals["roundtrip_ms"] / 1000,
    }


def finish_checks(ctx: StageContext) -> None:
    summary = qa_summary(ctx.output)
    (ctx.output / "qa_summary.json").write_text(json.dumps(summary, indent=2))
    rejected = ", ".join(f"{k} {v}" for k, v in sorted(summary["rejected"].items(), key=lambda kv: -kv[1]))
    print(
        f"\nQA pairs: {summary['pairs_generated']} generated ({summary['responses_malformed']} malformed "
        f"responses), {summary['pairs_kept']} kept; rejected: {rejected or 'none'}"
    )


@contextlib.contextmanager
def llm_service(options: dict[str, Any], stages: list[str]) -> Iterator[dict[str, Any]]:
    """The LLM for the qa stage: the server at `llm_url` (checked before any work), or an embedded one."""
    if "qa" not in stages:
        yield {}
        return
    second = options.get("roundtrip_llm_url")
    if second and str(options.get("roundtrip", True)).lower() not in ("false", "0", "no", "off"):
        try:
            ChatClient(second, api_key=os.environ.get("LLM_API_KEY")).check()
        except ServerUnavailable as exc:
            raise StageFailed(f"roundtrip_llm_url: {exc}") from exc
    url = options.get("llm_url")
    if url:
        client = ChatClient(url, api_key=os.environ.get("LLM_API_KEY"))
        try:
            served = client.check()
        except ServerUnavailable as exc:
            raise StageFailed(str(exc)) from exc
        yield {"llm_external": True, "llm_model": options.get("llm_model") or (served[0] if served else "")}
        return
    from synth.server import EmbeddedServer

    try:
        server = EmbeddedServer(
            model=options.get("embedded_model"),
            n_ctx=int(options["n_ctx"]),
            threads=options.get("llm_threads"),
        )
        server.start()
    except Exception as exc:
        raise StageFailed(f"could not start the embedded LLM server: {exc}") from exc
    try:
        yield {"llm_url": server.base_url, "llm_model": server.model_name}
    finally:
        server.stop()


def recipe() -> Recipe:
    return Recipe(
        "docmatix",
        [
            pages_stage(),
            *page_dedup_stages(),
            *page_filter_stages(),
            documents_stage(),
            Stage(
                "qa",
                build_qa,
                task_count=qa_tasks,
                description="LLM writes question/answer pairs, then answers them again",
            ),
            Stage(
                "checks",
                build_checks,
                finish=finish_checks,
                description="QA checks; samples without a kept pair are dropped",
            ),
            shards_stage(),
        ],
        description=__doc__,
        defaults=DEFAULTS,
        services=llm_service,
    )
