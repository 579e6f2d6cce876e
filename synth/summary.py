"""The QA pairs of a run in one summary: generated, kept, rejected by reason, requests and tokens, read
from the qa and checks stages' stats; written to OUTPUT/qa_summary.json and printed when checks end."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from datatrove.utils.stats import PipelineStats

from curate.location import write_text_atomic
from curate.recipe import StageContext
from curate.run.ledger import stat_total

# the stats of the qa and checks steps that the summary adds up
COUNTED = ("qa_", "requests", "prompt_tokens", "completion_tokens", "responses_", "roundtrip_",
           "pages_skipped_", "page_chars")  # fmt: skip


def qa_summary(output: Path) -> dict:
    """QA pairs of a run: generated, kept, rejected by reason (from the qa and checks stages' stats)."""
    totals: Counter = Counter()
    for stage in ("qa", "checks"):
        for path in (output / "stages" / stage / "logs" / "stats").glob("*.json"):
            for step in PipelineStats.from_json(json.loads(path.read_text())).stats:
                for key in step.stats:
                    if key.startswith(COUNTED):
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
        # of the text of the pages sent, the share the LLM saw (long pages send their most informative
        # chunks within max_chunks_per_page: the rest is said, not dropped silently)
        "page_text_sent": round(totals["page_chars_sent"] / totals["page_chars"], 3) if totals["page_chars"] else None,
        "roundtrip_requests": totals["roundtrip_requests"],
        "roundtrip_seconds": totals["roundtrip_ms"] / 1000,
    }


def write_qa_summary(ctx: StageContext) -> None:
    """After the checks stage: the run's QA summary to OUTPUT/qa_summary.json, and a line of it printed."""
    summary = qa_summary(ctx.output)
    write_text_atomic(ctx.output / "qa_summary.json", json.dumps(summary, indent=2))
    rejected = ", ".join(f"{k} {v}" for k, v in sorted(summary["rejected"].items(), key=lambda kv: -kv[1]))
    sent = summary["page_text_sent"]
    print(
        f"\nQA pairs: {summary['pairs_generated']} generated ({summary['responses_malformed']} malformed "
        f"responses), {summary['pairs_kept']} kept; rejected: {rejected or 'none'}"
        + (f"; the LLM saw {sent:.0%} of the pages' text" if sent is not None and sent < 1 else "")
    )
