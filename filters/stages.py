"""Filter stages for the recipes, built from the filters' own declarations (`FILTER` in each module, see
`curate.filters.registry`), each filter switchable with `--set NAME=false`.

`filters_stage("filter", ["language", "nsfw"])` runs the enabled filters in a row in one stage; a
disabled filter is left out of it, and a stage whose filters are all disabled is left out of the run.
`cut_stage("perplexity")` cuts a fraction of the whole dataset by a score the filter stored.

Each stage writes the thresholds it applied to `stages/NAME/thresholds.json`, for the HTML report.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from curate.filters.registry import filter_spec
from curate.filters.threshold import ScoreThresholdFilter, percentile_threshold, stored_scores
from datatrove.pipeline.base import PipelineStep
from loguru import logger

from curate.recipe import Stage, StageContext

THRESHOLDS_FILE = "thresholds.json"


def write_thresholds(ctx: StageContext, thresholds: dict[str, dict]) -> None:
    """Record, per score name, the cut this stage applies (`min`/`max`) and the rule behind it."""
    ctx.stage_dir.mkdir(parents=True, exist_ok=True)
    (ctx.stage_dir / THRESHOLDS_FILE).write_text(json.dumps(thresholds, indent=2))


def filters_stage(name: str, filters: Sequence[str], description: str = "") -> Stage:
    """One stage applying the enabled `filters` (registered names) in order; disabled ones are left out."""
    specs = [filter_spec(key) for key in filters]

    def enabled_steps(ctx: StageContext) -> list[PipelineStep]:
        steps = [spec.build(ctx) for spec in specs if spec.enabled(ctx)]
        for step in steps:
            step.preflight()  # e.g. missing CLIP weights: raised before any work, saying how to provide them
        return steps

    def build(ctx: StageContext) -> list[PipelineStep]:
        steps = enabled_steps(ctx)
        thresholds: dict[str, dict] = {}
        for step in steps:
            thresholds.update(step.thresholds())
        write_thresholds(ctx, thresholds)
        return [ctx.reader(), *steps, ctx.writer()]

    return Stage(
        name,
        build,
        preflight=enabled_steps,
        active=lambda ctx: any(spec.enabled(ctx) for spec in specs),
        description=description
        or (specs[0].description if len(specs) == 1 else f"score and filter: {', '.join(filters)}"),
        options=tuple(option for spec in specs for option in spec.all_options),
    )


def cut_stage(filter_name: str, name: str | None = None) -> Stage:
    """Drop a fraction of the whole dataset by the score `filter_name` stored (its `cut`). The threshold
    is computed in the driver (Stage.build runs there) from every score the previous stage stored, so
    it is the same for all tasks and shards. Left out of the run when the filter is disabled or the
    fraction is unset."""
    spec = filter_spec(filter_name)
    cut = spec.cut
    if cut is None:
        raise ValueError(f"filter {filter_name!r} declares no dataset-wide cut")
    name = name or f"{filter_name}_cut"

    def build(ctx: StageContext) -> list[PipelineStep]:
        fraction = cut.drop_fraction(ctx) if spec.enabled(ctx) else None
        values = stored_scores(ctx.input, cut.score) if fraction else None
        threshold = percentile_threshold(values, fraction, cut.highest) if fraction and len(values) else None
        if fraction and not len(values):
            logger.warning(f"{name}: no record in {ctx.input} has a {cut.score!r} score; nothing to cut")
        steps: list[PipelineStep] = []
        thresholds: dict = {}
        if threshold is not None:
            side = "highest" if cut.highest else "lowest"
            logger.info(f"{name}: dropping the {fraction:.0%} {side} {cut.score}: threshold {threshold:.4g}")
            bound = {"max_value": threshold} if cut.highest else {"min_value": threshold}
            steps.append(
                ScoreThresholdFilter(
                    cut.score,
                    **bound,
                    exclusion_writer=ctx.exclusion_writer(f"{cut.score}_cut"),
                    error_writer=ctx.error_writer(f"{cut.score}_cut"),
                )
            )
            thresholds[cut.score] = {
                "max" if cut.highest else "min": threshold,
                "rule": f"drop the {fraction:.0%} {side} of {len(values)} scored records",
            }
        write_thresholds(ctx, thresholds)
        return [ctx.reader(), *steps, ctx.writer()]

    def active(ctx: StageContext) -> bool:
        return spec.enabled(ctx) and bool(cut.drop_fraction(ctx))

    return Stage(
        name,
        build,
        active=active,
        description=cut.description,
        options=(spec.switch_option, cut.fraction),
    )


# ---- the names recipes and tests use -------------------------------------------------------------


def nsfw_stage(name: str = "nsfw") -> Stage:
    return filters_stage(name, ["nsfw"])


def clip_stage(name: str = "clip") -> Stage:
    return filters_stage(name, ["clip"])


def perplexity_score_stage(name: str = "perplexity") -> Stage:
    return filters_stage(name, ["perplexity"])


def perplexity_cut_stage(name: str = "perplexity_cut") -> Stage:
    """Idefics2: drop the 5% highest-perplexity records of the dataset (`perplexity_drop_fraction`)."""
    return cut_stage("perplexity", name)


def clip_cut_stage(name: str = "clip_cut") -> Stage:
    """DataComp ViT-L/14: keep the top 30% CLIP scores (`clip_keep_fraction=0.3`); left out unless set."""
    return cut_stage("clip", name)
