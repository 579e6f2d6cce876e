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

The LLM: `--set llm_url=http://HOST:PORT/v1` uses a running server (e.g. `curate serve-llm`; its API
key, if any, in the environment variable LLM_API_KEY); without it an embedded llama.cpp server with the
packaged model is started for the qa stage and stopped when the run ends, also on failure.
Options: `curate recipes docmatix --options`.
"""

from __future__ import annotations

import contextlib
import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from datatrove.utils.stats import PipelineStats

from curate.documents import PagesToDocuments, check_documents_unique
from curate.location import write_text_atomic
from curate.options import LIST, PATH, Option
from curate.report import stat_total
from curate.secrets import redact_text
from curate.stage import Recipe, Stage, StageContext, StageFailed
from filters.dedup.stages import page_dedup_stages
from pipelines.common import shards_stage
from pipelines.pdf_pages import page_filter_stages, pages_stage
from synth import prompts
from synth.checks import QAChecks
from synth.client import ChatClient, ServerUnavailable
from synth.generate import QAGenerator
from synth.models import ModelNotAvailable
from synth.server import EmbeddedServer, ServerStartError

DEFAULTS = {
    # filtered before the LLM sees a page, so no request is spent on a duplicate or a garbage page
    "dedup": True,
    "language": True,
    "perplexity": True,
    # pages are forms, tables and transcripts, not web prose: OBELICS's 0.8 dropped English pages of
    # the shared set (a bulletin table at 0.71, a Redbooks cover at 0.78); other languages still go
    "language_min_score": 0.5,
    "max_pages": 4,  # Docmatix kept PDFs of at most 4 pages; longer ones are skipped (long_pdfs)
    "sample_unit": "document",  # Docmatix's sample: a whole PDF, its page images in order
    "formats": ["webdataset", "parquet"],  # tar shards for training, Parquet for the Hub's viewer
    # the model answers its own questions again from the page; a pair is kept when both answers agree
    "roundtrip": True,
    "pairs_per_request": 5,  # half or more fail the checks and the round trip: 3 left ~0.6 kept a page
    "embedded_model": "qwen2.5-coder-1.5b",  # 2.8 kept pairs a page at 0.67 precision vs 0.5B's 1.7 at 0.21
}

# With a GPU server, give each page more text and more requests in flight:
# --set max_chunk_chars=0 --set max_chunks_per_page=4 --set n_ctx=8192 --set llm_concurrency=64
QA_OPTIONS = (
    Option(
        "llm_url", PATH, None, help="OpenAI-compatible server (ending in /v1); none: start the embedded one"
    ),
    Option(
        "llm_api_key",
        str,
        secret=True,
        env="LLM_API_KEY",
        help="API key sent on every request to llm_url (from the environment only)",
    ),
    Option("llm_model", str, None, help="model name sent with requests (default: the server's first)"),
    Option("embedded_model", PATH, None, help="embedded server's model: a packaged name or a GGUF path"),
    Option("llm_threads", int, None, minimum=1, help="embedded server's threads (default: up to 4 cores)"),
    Option.arg(QAGenerator, "styles", type=LIST, choices=tuple(prompts.STYLES), help="prompt styles"),
    Option.arg(
        QAGenerator, "styles_per_page", type=int, minimum=1, help="styles asked per chunk (1: rotated)"
    ),
    Option.arg(QAGenerator, "pairs_per_request", type=int, minimum=1, help="QA pairs asked per request"),
    Option.arg(
        QAGenerator,
        "n_ctx",
        type=int,
        minimum=512,
        help="the model's context, tokens (sizes chunks)",
        source="fits a 2,500-character chunk, the prompt and the answer; GPU: 8192",
    ),
    Option.arg(QAGenerator, "max_tokens", type=int, minimum=16, help="completion budget per request"),
    Option.arg(QAGenerator, "max_chunks_per_page", type=int, minimum=1, help="chunks of a page sent"),
    Option.arg(
        QAGenerator,
        "max_chunk_chars",
        type=int,
        minimum=0,
        help="cap on a chunk's characters (0: what the context allows)",
        source="measured: one request of 30-60 s on 2 CPU cores",
    ),
    Option(
        "llm_concurrency",
        int,
        None,
        minimum=1,
        help="requests in flight for the whole run, divided among the running tasks (default: 64 for a "
        "server at llm_url; the embedded llama.cpp server: 1 per task)",
    ),
    Option.arg(
        QAGenerator, "timeout", "llm_timeout", type=float, minimum=1, help="seconds to wait for one answer"
    ),
    Option.arg(
        QAGenerator, "retries", "llm_retries", type=int, minimum=0, help="retries of a failed request"
    ),
    Option(
        "llm_deadline",
        float,
        None,
        minimum=1,
        help="seconds one request may take in all, retries included, then the page is an error (default: "
        "120 for a server at llm_url; 600 for the embedded CPU server, which answers one request at a time)",
        source="measured: 10-60 s a request on 2 idle cores, minutes when they are shared",
    ),
    Option(
        "response_format",
        str,
        None,
        choices=("llama", "openai", "none"),
        help="how to ask for schema-constrained JSON (default: openai for llm_url, llama embedded)",
    ),
)
DOCUMENT_OPTIONS = (
    Option("sample_unit", str, "page", choices=("document", "page"),
           help="a sample per PDF (its pages in order, questions about all of it) or per page",
           source="Docmatix: a whole PDF of at most 4 pages"),
    Option.arg(PagesToDocuments, "incomplete", "incomplete_documents", type=str, choices=("keep", "drop"),
               help="a document some of whose pages dedup or the filters dropped: keep the rest, or drop it"),
)  # fmt: skip
QA_OPTIONS += (
    Option.arg(
        QAGenerator,
        "skip_page_kinds",
        "skip_toc_pages",
        type=bool,
        help="tables of contents, indexes and reference lists are not sent to the LLM",
    ),
    Option.arg(
        QAGenerator,
        "roundtrip",
        type=bool,
        help="the model answers each question again from the page; kept only when the answers agree",
        source="round-trip consistency, Alberti et al. 2019",
    ),
    Option.arg(
        QAGenerator,
        "roundtrip_url",
        "roundtrip_llm_url",
        type=PATH,
        help="a second server for the round trip (default: the same)",
    ),
    Option.arg(
        QAGenerator,
        "roundtrip_model",
        "roundtrip_llm_model",
        type=str,
        help="model name for the round-trip server",
    ),
)
CHECK_OPTIONS = (
    Option.arg(QAChecks, "roundtrip_min_f1", type=float, minimum=0, maximum=1,
               help="token F1 at least, between an answer and its round-trip answer (numbers must match)",
               source="SQuAD's token F1"),
    Option.arg(QAChecks, "min_grounding", type=float, minimum=0, maximum=1,
               help="share of an answer's content words found in the page, at least",
               source="measured on shared born-digital pages: 92% of kept answers from the page"),
    Option.arg(QAChecks, "min_pairs", type=int, minimum=1, help="pages with fewer kept pairs dropped"),
)  # fmt: skip


def build_documents(ctx: StageContext):
    return [
        ctx.reader(),
        PagesToDocuments(
            incomplete=ctx.option("incomplete_documents"),
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
        active=lambda ctx: ctx.option("sample_unit") == "document",
        description="the pages of each PDF joined into one document sample (--set sample_unit=page: off)",
        options=DOCUMENT_OPTIONS,
    )


def build_qa(ctx: StageContext):
    llm = ctx.services  # the server llm_service checked or started
    external = bool(llm.get("llm_external"))
    return [
        ctx.reader(),
        QAGenerator(
            llm_url=llm.get("llm_url") or ctx.option("llm_url"),
            model=llm.get("llm_model") or ctx.option("llm_model") or "",
            styles=tuple(ctx.option("styles")),
            styles_per_page=ctx.option("styles_per_page"),
            pairs_per_request=ctx.option("pairs_per_request"),
            n_ctx=ctx.option("n_ctx"),
            max_tokens=ctx.option("max_tokens"),
            max_chunks_per_page=ctx.option("max_chunks_per_page"),
            max_chunk_chars=ctx.option("max_chunk_chars") or None,
            # llm_concurrency is the total in flight for the run, divided among the tasks running at
            # once. llama.cpp answers one request at a time: one queued per task keeps it busy;
            # vLLM batches many, so keep many in flight (64 in all by default)
            concurrency=1,
            total_concurrency=ctx.option("llm_concurrency") or (64 if external else None),
            timeout=ctx.option("llm_timeout"),
            retries=ctx.option("llm_retries"),
            deadline=ctx.option("llm_deadline") or (120 if external else 600),
            response_format=ctx.option("response_format") or ("openai" if external else "llama"),
            cache_dir=str(ctx.stage_dir / "requests"),
            api_key=ctx.option("llm_api_key") if external else None,
            skip_page_kinds=ctx.option("skip_toc_pages"),
            roundtrip=ctx.option("roundtrip"),
            roundtrip_url=ctx.option("roundtrip_llm_url"),
            roundtrip_model=ctx.option("roundtrip_llm_model"),
            min_grounding=ctx.option("min_grounding"),
            error_writer=ctx.error_writer("qa"),
        ),
        ctx.writer(),
    ]


def qa_tasks(ctx: StageContext) -> int:
    """The embedded llama.cpp server answers one request at a time and keeps only the last prompt in its
    cache: one task sends a page's round trip right after its generation request, so the page is read
    once; tasks interleaving their requests would evict each other's page. A server of your own
    (`llm_url`, e.g. vLLM batching many requests) gets one task per input file."""
    return None if ctx.services.get("llm_external") else 1  # None: tasks from the input plan


def build_checks(ctx: StageContext):
    return [
        ctx.reader(),
        QAChecks(
            min_grounding=ctx.option("min_grounding"),
            min_pairs=ctx.option("min_pairs"),
            roundtrip_min_f1=ctx.option("roundtrip_min_f1"),
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
    write_text_atomic(ctx.output / "qa_summary.json", json.dumps(summary, indent=2))
    rejected = ", ".join(f"{k} {v}" for k, v in sorted(summary["rejected"].items(), key=lambda kv: -kv[1]))
    print(
        f"\nQA pairs: {summary['pairs_generated']} generated ({summary['responses_malformed']} malformed "
        f"responses), {summary['pairs_kept']} kept; rejected: {rejected or 'none'}"
    )


@contextlib.contextmanager
def llm_service(options: dict[str, Any], stages: list[str]) -> Iterator[dict[str, Any]]:
    """The LLM for the qa stage: the server at `llm_url` (checked before any work), or an embedded one.

    The embedded server listens on the driver's 127.0.0.1, which tasks on other nodes cannot reach: a
    run on a Ray cluster (`--ray-address`) without `llm_url` is refused before any work."""
    if "qa" not in stages:
        yield {}
        return
    key = options.get("llm_api_key")
    second = options.get("roundtrip_llm_url")
    if second and options.get("roundtrip"):
        try:
            ChatClient(second, api_key=key.get() if key else None).check()
        except ServerUnavailable as exc:
            raise StageFailed(f"roundtrip_llm_url: {exc}") from exc
    url = options.get("llm_url")
    if not url and options.get("ray_address"):
        raise StageFailed(
            f"the qa stage on a Ray cluster ({options['ray_address']}) needs an LLM server every node "
            "can reach: pass --set llm_url=http://HOST:PORT/v1 (e.g. vLLM started with `curate serve-llm` "
            "on a GPU node). The embedded llama.cpp server only serves tasks on this machine."
        )
    if url:
        client = ChatClient(url, api_key=key.get() if key else None)
        try:
            served = client.check()
        except ServerUnavailable as exc:
            raise StageFailed(str(exc)) from exc
        model = options.get("llm_model") or (served[0] if served else "")
        yield {"llm_external": True, "llm_url": url, "llm_model": model}
        return
    try:
        server = EmbeddedServer(
            model=options.get("embedded_model"),
            n_ctx=options.get("n_ctx"),
            threads=options.get("llm_threads"),
        )
        server.start()
    # what a user can fix (model missing, server exits, port or binary problem, a bad n_ctx), in one line
    except (ServerStartError, ModelNotAvailable, OSError, ValueError) as exc:
        raise StageFailed(f"could not start the embedded LLM server: {redact_text(str(exc))}") from exc
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
                options=QA_OPTIONS,
            ),
            Stage(
                "checks",
                build_checks,
                finish=finish_checks,
                description="QA checks; samples without a kept pair are dropped",
                options=CHECK_OPTIONS,
            ),
            shards_stage(),
        ],
        description=__doc__,
        defaults=DEFAULTS,
        services=llm_service,
    )
