"""Ready-made filter stages and steps for the recipes, each switchable with `--set NAME=false`.

Recipes use either one stage per filter (`nsfw_stage()`, `language_stage()`, `clip_stage()`,
`perplexity_score_stage()` + `perplexity_cut_stage()`), or one stage running several filters in a row
(`filters_stage("filter", ["language", "nsfw"])`). A disabled filter's stage passes its records through
unchanged, so the stage list (and `--stage NAME`) is the same whatever the options.

Options (recipe defaults or `--set key=value`), with the anchors' values as defaults:
    nsfw=true  nsfw_max_score=0.5  nsfw_batch_size=8  nsfw_classifier=nudenet (or package.module:Class)
    language=true  languages=en (comma-separated, or "any")  language_min_score=0.8  (OBELICS)
    perplexity=true  perplexity_backend=ngram|kenlm|causal|hf  perplexity_model=PATH (or hub name for hf)
    perplexity_max=none (absolute cut; OBELICS used 1500 with its KenLM)
    perplexity_drop_fraction=0.05  (Idefics2: drop the 5% highest, over the whole dataset)
    clip=true  clip_model=ViT-B-32  clip_pretrained=openai  clip_weights=PATH  clip_hub_cache=DIR
    clip_batch_size=32  clip_device=cuda|cpu  clip_random_seed=N (random weights: tests and benchmarks only)
    clip_min_score=0.25  (DataComp ViT-B/32)  clip_keep_fraction=none (DataComp ViT-L/14: 0.3)

Each stage writes the thresholds it applied to `stages/NAME/thresholds.json`, for the HTML report.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence

from datatrove.pipeline.base import PipelineStep
from loguru import logger

from curate.stage import Stage, StageContext
from filters.threshold import ScoreThresholdFilter, percentile_threshold, stored_scores

THRESHOLDS_FILE = "thresholds.json"


def enabled(ctx: StageContext, name: str, default: bool = True) -> bool:
    return ctx.flag(name, default)


def _optional_float(ctx: StageContext, key: str, default: float | None) -> float | None:
    value = ctx.option(key, default)
    if value is None or (isinstance(value, str) and value.lower() in ("none", "null", "")):
        return None
    return float(value)


def write_thresholds(ctx: StageContext, thresholds: dict[str, dict]) -> None:
    """Record, per score name, the cut this stage applies (`min`/`max`) and the rule behind it."""
    ctx.stage_dir.mkdir(parents=True, exist_ok=True)
    (ctx.stage_dir / THRESHOLDS_FILE).write_text(json.dumps(thresholds, indent=2))


# ---- steps: (step or None when disabled, its thresholds) -----------------------------------------


def nsfw_step(ctx: StageContext) -> tuple[PipelineStep | None, dict]:
    if not enabled(ctx, "nsfw"):
        return None, {}
    from filters.nsfw import NsfwFilter, make_nsfw_classifier

    max_score = float(ctx.option("nsfw_max_score", 0.5))
    batch_size = int(ctx.option("nsfw_batch_size", 8))
    step = NsfwFilter(
        max_score=max_score,
        classifier=make_nsfw_classifier(str(ctx.option("nsfw_classifier", "nudenet")), batch_size=batch_size),
        batch_size=batch_size,
        exclusion_writer=ctx.exclusion_writer("nsfw"),
        error_writer=ctx.error_writer("nsfw"),
    )
    return step, {"nsfw": {"max": max_score, "rule": f"drop records with an image scoring >= {max_score}"}}


def language_step(ctx: StageContext) -> tuple[PipelineStep | None, dict]:
    if not enabled(ctx, "language"):
        return None, {}
    from filters.language import LanguageFilter

    languages = ctx.option("languages", "en")
    if isinstance(languages, str):
        languages = None if languages == "any" else [x.strip() for x in languages.split(",") if x.strip()]
    min_score = float(ctx.option("language_min_score", 0.8))
    step = LanguageFilter(
        languages=languages,
        min_score=min_score,
        exclusion_writer=ctx.exclusion_writer("language"),
        error_writer=ctx.error_writer("language"),
    )
    wanted = ",".join(languages) if languages else "any language"
    return step, {"language": {"min": min_score, "rule": f"{wanted}, fastText lid.176 score >= {min_score}"}}


def perplexity_score_step(ctx: StageContext) -> tuple[PipelineStep | None, dict]:
    if not enabled(ctx, "perplexity"):
        return None, {}
    from filters.perplexity import PerplexityFilter

    backend = str(ctx.option("perplexity_backend", "ngram"))
    max_perplexity = _optional_float(ctx, "perplexity_max", None)
    step = PerplexityFilter(
        backend=backend,
        model_path=ctx.option("perplexity_model"),
        max_perplexity=max_perplexity,
        exclusion_writer=ctx.exclusion_writer("perplexity"),
        error_writer=ctx.error_writer("perplexity"),
    )
    rule = f"{backend} LM" + (
        f", drop above {max_perplexity}" if max_perplexity is not None else ", score only"
    )
    return step, {"perplexity": {"max": max_perplexity, "rule": rule}}


def clip_step(ctx: StageContext) -> tuple[PipelineStep | None, dict]:
    if not enabled(ctx, "clip"):
        return None, {}
    from filters.clip_score import ClipScoreFilter

    keep_fraction = _optional_float(ctx, "clip_keep_fraction", None)
    # with a top-k% rule this stage only scores; clip_cut_stage applies the dataset-wide cut
    min_score = None if keep_fraction is not None else _optional_float(ctx, "clip_min_score", 0.25)
    seed = ctx.option("clip_random_seed")
    step = ClipScoreFilter(
        min_score=min_score,
        model=str(ctx.option("clip_model", "ViT-B-32")),
        pretrained=str(ctx.option("clip_pretrained", "openai")),
        weights_path=ctx.option("clip_weights"),
        batch_size=int(ctx.option("clip_batch_size", 32)),
        device=ctx.option("clip_device"),
        random_init_seed=int(seed) if seed is not None else None,
        hub_cache=ctx.option("clip_hub_cache"),
        exclusion_writer=ctx.exclusion_writer("clip"),
        error_writer=ctx.error_writer("clip"),
    )
    step.check_weights()  # fail in the driver, before any task, with how to provide the weights
    rule = f"{step.model_name} ({step.pretrained})" + (
        f", drop below {min_score}" if min_score is not None else ", score only"
    )
    return step, {"clip": {"min": min_score, "rule": rule}}


STEPS: dict[str, Callable[[StageContext], tuple[PipelineStep | None, dict]]] = {
    "nsfw": nsfw_step,
    "language": language_step,
    "perplexity": perplexity_score_step,
    "clip": clip_step,
}


# ---- stages --------------------------------------------------------------------------------------


def filters_stage(name: str, filters: Sequence[str], description: str = "") -> Stage:
    """One stage applying the enabled `filters` (keys of STEPS) in order; disabled ones are left out."""
    unknown = [f for f in filters if f not in STEPS]
    if unknown:
        raise ValueError(f"unknown filters {unknown}; known: {', '.join(STEPS)}")

    def build(ctx: StageContext) -> list[PipelineStep]:
        steps, thresholds = [], {}
        for key in filters:
            step, applied = STEPS[key](ctx)
            if step is not None:
                steps.append(step)
                thresholds.update(applied)
        write_thresholds(ctx, thresholds)
        return [ctx.reader(), *steps, ctx.writer()]

    def preflight(ctx: StageContext) -> None:
        if "clip" in filters:
            clip_step(ctx)  # raises ClipWeightsMissing, saying how to provide weights, before any work

    return Stage(
        name,
        build,
        preflight=preflight,
        active=lambda ctx: any(enabled(ctx, key) for key in filters),
        description=description or f"score and filter: {', '.join(filters)}",
    )


def nsfw_stage(name: str = "nsfw") -> Stage:
    return filters_stage(name, ["nsfw"], "NSFW score (NudeNet), drop explicit images")


def language_stage(name: str = "language") -> Stage:
    return filters_stage(name, ["language"], "language ID (fastText lid.176), keep wanted languages")


def clip_stage(name: str = "clip") -> Stage:
    return filters_stage(name, ["clip"], "CLIP image-text score (open_clip)")


def perplexity_score_stage(name: str = "perplexity") -> Stage:
    return filters_stage(name, ["perplexity"], "perplexity score (n-gram or causal LM)")


def percentile_cut_stage(
    name: str,
    score_name: str,
    switch: str,
    fraction_of: Callable[[StageContext], float | None],
    highest: bool,
    description: str,
) -> Stage:
    """Drop a fraction (`fraction_of(ctx)`) of the whole dataset by a stored score. The threshold is
    computed in the driver (Stage.build runs there) from every score the previous stage stored, so it is
    the same for all tasks and shards. Disabled, or with no fraction, the stage passes records through."""

    def build(ctx: StageContext) -> list[PipelineStep]:
        fraction = fraction_of(ctx) if enabled(ctx, switch) else None
        values = stored_scores(ctx.input, score_name) if fraction else None
        threshold = percentile_threshold(values, fraction, highest) if fraction and len(values) else None
        if fraction and not len(values):
            logger.warning(f"{name}: no record in {ctx.input} has a {score_name!r} score; nothing to cut")
        steps: list[PipelineStep] = []
        thresholds: dict = {}
        if threshold is not None:
            side = "highest" if highest else "lowest"
            logger.info(f"{name}: dropping the {fraction:.0%} {side} {score_name}: threshold {threshold:.4g}")
            bound = {"max_value": threshold} if highest else {"min_value": threshold}
            steps.append(
                ScoreThresholdFilter(
                    score_name,
                    **bound,
                    exclusion_writer=ctx.exclusion_writer(f"{score_name}_cut"),
                    error_writer=ctx.error_writer(f"{score_name}_cut"),
                )
            )
            thresholds[score_name] = {
                "max" if highest else "min": threshold,
                "rule": f"drop the {fraction:.0%} {side} of {len(values)} scored records",
            }
        write_thresholds(ctx, thresholds)
        return [ctx.reader(), *steps, ctx.writer()]

    def active(ctx: StageContext) -> bool:
        return enabled(ctx, switch) and bool(fraction_of(ctx))

    return Stage(name, build, active=active, description=description)


def perplexity_cut_stage(name: str = "perplexity_cut") -> Stage:
    """Idefics2: drop the 5% highest-perplexity records of the dataset (`perplexity_drop_fraction`)."""
    return percentile_cut_stage(
        name,
        "perplexity",
        "perplexity",
        lambda ctx: _optional_float(ctx, "perplexity_drop_fraction", 0.05),
        highest=True,
        description="drop the highest-perplexity fraction of the dataset",
    )


def _clip_drop_fraction(ctx: StageContext) -> float | None:
    keep = _optional_float(ctx, "clip_keep_fraction", None)
    return None if keep is None else 1 - keep


def clip_cut_stage(name: str = "clip_cut") -> Stage:
    """DataComp ViT-L/14: keep the top 30% CLIP scores (`clip_keep_fraction=0.3`); passes through unless set."""
    return percentile_cut_stage(
        name,
        "clip",
        "clip",
        _clip_drop_fraction,
        highest=False,
        description="keep the top CLIP-score fraction",
    )
