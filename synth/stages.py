"""The synth steps as recipes use them: the qa stage (QAGenerator, against the server `curate.synth.service`
provides) and the checks stage (QAChecks, then the run's QA summary), each with the options it reads."""

from __future__ import annotations

from dataclasses import fields
from typing import Any

from curate.synth import prompts
from curate.synth.checks import QAChecks
from curate.synth.generate import QAGenerator
from curate.synth.qa_config import Generation, Requests, RoundTrip
from curate.synth.service import LLM_OPTIONS, qa_tasks, request_policy
from curate.synth.summary import write_qa_summary

from curate.options import LIST
from curate.recipe import Stage, StageContext
from curate.wiring import StepSpec, arg, records_stage

MIN_GROUNDING = arg(QAChecks, "min_grounding", type=float, minimum=0, maximum=1,
                    help="share of an answer's content words found in the page, at least",
                    source="measured on shared born-digital pages: 92% of kept answers from the page")  # fmt: skip


def _qa_generator_args(kwargs: dict[str, Any], ctx: StageContext) -> dict[str, Any]:
    """The options read for the qa stage, grouped as QAGenerator takes them, with the servers the
    recipe's services found or started (`ctx.services`)."""
    generation = {f.name: kwargs[f.name] for f in fields(Generation) if f.name in kwargs}
    return {
        "servers": ctx.services,
        "generation": Generation(**{**generation, "max_chunk_chars": generation["max_chunk_chars"] or None}),
        "roundtrip": RoundTrip(kwargs["enabled"], kwargs["min_grounding"]),
        "requests": request_policy(ctx, kwargs["timeout"], kwargs["retries"]),
        "cache_dir": str(ctx.stage_dir / "requests"),  # finished requests: a rerun does not ask them again
    }


QA = StepSpec(
    QAGenerator,
    args=(
        arg(Generation, "styles", type=LIST, choices=tuple(prompts.STYLES), help="prompt styles"),
        arg(Generation, "styles_per_page", type=int, minimum=1, help="styles asked per chunk (1: rotated)"),
        arg(Generation, "pairs_per_request", type=int, minimum=1, help="QA pairs asked per request"),
        arg(Generation, "n_ctx", type=int, minimum=512, help="the model's context, tokens (sizes chunks)",
            source="fits a 2,500-character chunk, the prompt and the answer; GPU: 8192"),
        arg(Generation, "max_tokens", type=int, minimum=16, help="completion budget per request"),
        arg(Generation, "max_chunks_per_page", type=int, minimum=1, help="chunks of a page sent"),
        arg(Generation, "max_chunk_chars", type=int, minimum=0,
            help="cap on a chunk's characters (0: what the context allows)",
            source="measured: one request of 30-60 s on 2 CPU cores"),
        arg(Generation, "prompt", "qa_prompt", type=str, choices=prompts.PROMPTS,
            help="pairs: the model picks facts, quotes evidence after; evidence_first: quotes first; "
                 "lines: the code picks informative lines, the model asks one question per line",
            source="lines: answer-aware question generation, Alberti et al. 2019; docs/docmatix.md"),
        arg(Requests, "timeout", "llm_timeout", type=float, minimum=1, help="seconds to wait for one answer"),
        arg(Requests, "retries", "llm_retries", type=int, minimum=0, help="retries of a failed request"),
        arg(Generation, "skip_page_kinds", "skip_toc_pages", type=bool,
            help="tables of contents, indexes and reference lists are not sent to the LLM"),
        arg(RoundTrip, "enabled", "roundtrip", type=bool,
            help="the model answers each question again from the page; kept only when the answers agree",
            source="round-trip consistency, Alberti et al. 2019"),
        MIN_GROUNDING,  # the cheap checks before the round trip: the checks stage's threshold
    ),
    options=LLM_OPTIONS,
    prepare=_qa_generator_args,
    errors="qa",
)  # fmt: skip
CHECKS = StepSpec(
    QAChecks,
    args=(
        arg(QAChecks, "roundtrip_min_f1", type=float, minimum=0, maximum=1,
            help="token F1 at least, between an answer and its round-trip answer (numbers must match)",
            source="SQuAD's token F1"),
        MIN_GROUNDING,
        arg(QAChecks, "evidence", "qa_evidence_checks", type=bool,
            help="each pair's evidence must be on its page and hold the answer and the question's keys",
            source="issue 23; figures in synth/checks.py"),
        arg(QAChecks, "min_pairs", type=int, minimum=1, help="pages with fewer kept pairs dropped"),
    ),
    exclusions="checks",
    errors="checks",
)  # fmt: skip


def qa_stage() -> Stage:
    """An LLM writes QA pairs about each record's text, then answers them again (the round trip); the
    server comes from the recipe's services (`curate.synth.service.llm_service`)."""
    return records_stage(
        "qa",
        [QA],
        task_count=qa_tasks,
        description="LLM writes question/answer pairs, then answers them again",
    )


def checks_stage() -> Stage:
    """QA rules on the generated pairs, each rejection counted with its reason; then the run's QA summary."""
    return records_stage(
        "checks",
        [CHECKS],
        finish=write_qa_summary,
        description="QA checks; samples without a kept pair are dropped",
    )
