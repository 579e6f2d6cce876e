"""Ready-made filter stages and steps for the recipes, each switchable with `--set NAME=false`.

Recipes use either one stage per filter (`nsfw_stage()`, `language_stage()`, `clip_stage()`,
`perplexity_score_stage()` + `perplexity_cut_stage()`), or one stage running several filters in a row
(`filters_stage("filter", ["language", "nsfw"])`). A disabled filter's stage passes its records through
unchanged, so the stage list (and `--stage NAME`) is the same whatever the options.

Options (recipe defaults or `--set key=value`), with the anchors' values as defaults, are declared
below (FILTER_OPTIONS), each default taken from the filter class's own argument where it has one.

Each stage writes the thresholds it applied to `stages/NAME/thresholds.json`, for the HTML report.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence

from datatrove.pipeline.base import PipelineStep
from loguru import logger

from curate.options import LIST, PATH, Option
from curate.stage import Stage, StageContext
from filters.clip_score import ClipScoreFilter
from filters.language import LanguageFilter
from filters.nsfw import NsfwFilter, make_nsfw_classifier
from filters.perplexity import PerplexityFilter
from filters.threshold import ScoreThresholdFilter, percentile_threshold, stored_scores

THRESHOLDS_FILE = "thresholds.json"


def _switch(name: str, what: str) -> Option:
    return Option(name, bool, True, help=f"{what} (false: the filter is left out)")


PERPLEXITY_DROP = Option(
    "perplexity_drop_fraction",
    float,
    0.05,
    minimum=0,
    maximum=0.99,
    help="drop this fraction of highest-perplexity records, dataset-wide (none: no cut)",
    source="Idefics2",
)
CLIP_KEEP = Option(
    "clip_keep_fraction",
    float,
    None,
    minimum=0.01,
    maximum=1,
    help="keep the top fraction by CLIP score, dataset-wide, instead of clip_min_score",
    source="DataComp ViT-L/14: 0.3",
)
FILTER_OPTIONS: dict[str, tuple[Option, ...]] = {
    "nsfw": (
        _switch("nsfw", "NSFW filter"),
        Option.arg(NsfwFilter, "max_score", "nsfw_max_score", type=float, minimum=0, maximum=1,
                   help="drop records with an image scoring at least this"),
        Option.arg(NsfwFilter, "batch_size", "nsfw_batch_size", type=int, minimum=1, help="images per batch"),
        Option.arg(make_nsfw_classifier, "name", "nsfw_classifier", type=str,
                   help="nudenet, or package.module:Class of your own NsfwClassifier"),
    ),
    "language": (
        _switch("language", "language filter"),
        Option.arg(LanguageFilter, "languages", type=LIST,
                   help="languages kept, comma-separated ISO codes, or any"),
        Option.arg(LanguageFilter, "min_score", "language_min_score", type=float, minimum=0, maximum=1,
                   help="fastText lid.176 score of a kept language at least", source="OBELICS"),
    ),
    "perplexity": (
        _switch("perplexity", "perplexity score and cut"),
        Option.arg(PerplexityFilter, "backend", "perplexity_backend", type=str,
                   choices=("ngram", "kenlm", "causal", "hf"), help="language model scoring perplexity"),
        Option.arg(PerplexityFilter, "model_path", "perplexity_model", type=PATH,
                   help="model file (kenlm, causal) or hub name (hf); default: the packaged one"),
        Option.arg(PerplexityFilter, "max_perplexity", "perplexity_max", type=float, minimum=0,
                   help="absolute cut (none: score only)", source="OBELICS used 1500 with its KenLM"),
    ),
    "clip": (
        _switch("clip", "CLIP-score filter"),
        Option.arg(ClipScoreFilter, "model", "clip_model", type=str, help="open_clip model name"),
        Option.arg(ClipScoreFilter, "pretrained", "clip_pretrained", type=str, help="open_clip weights tag"),
        Option.arg(ClipScoreFilter, "weights_path", "clip_weights", type=PATH, help="local checkpoint file"),
        Option.arg(ClipScoreFilter, "hub_cache", "clip_hub_cache", type=PATH,
                   help="Hugging Face hub cache holding the weights"),
        Option.arg(ClipScoreFilter, "batch_size", "clip_batch_size", type=int, minimum=1, help="images per batch"),
        Option.arg(ClipScoreFilter, "device", "clip_device", type=str, help="cuda or cpu (default: cuda if present)"),
        Option.arg(ClipScoreFilter, "random_init_seed", "clip_random_seed", type=int,
                   help="random weights with this seed: tests and benchmarks only"),
        Option.arg(ClipScoreFilter, "min_score", "clip_min_score", type=float,
                   help="drop pairs with a lower image-text cosine (none: score only)", source="DataComp ViT-B/32"),
        CLIP_KEEP,
    ),
}  # fmt: skip


def enabled(ctx: StageContext, name: str, default: bool = True) -> bool:
    return ctx.flag(name, default)


def write_thresholds(ctx: StageContext, thresholds: dict[str, dict]) -> None:
    """Record, per score name, the cut this stage applies (`min`/`max`) and the rule behind it."""
    ctx.stage_dir.mkdir(parents=True, exist_ok=True)
    (ctx.stage_dir / THRESHOLDS_FILE).write_text(json.dumps(thresholds, indent=2))


# ---- steps: (step or None when disabled, its thresholds) -----------------------------------------


def nsfw_step(ctx: StageContext) -> tuple[PipelineStep | None, dict]:
    if not enabled(ctx, "nsfw"):
        return None, {}
    max_score = ctx.option("nsfw_max_score")
    batch_size = ctx.option("nsfw_batch_size")
    step = NsfwFilter(
        max_score=max_score,
        classifier=make_nsfw_classifier(ctx.option("nsfw_classifier"), batch_size=batch_size),
        batch_size=batch_size,
        exclusion_writer=ctx.exclusion_writer("nsfw"),
        error_writer=ctx.error_writer("nsfw"),
    )
    return step, {"nsfw": {"max": max_score, "rule": f"drop records with an image scoring >= {max_score}"}}


def language_step(ctx: StageContext) -> tuple[PipelineStep | None, dict]:
    if not enabled(ctx, "language"):
        return None, {}
    languages = ctx.option("languages")
    languages = None if not languages or languages == ["any"] else languages
    min_score = ctx.option("language_min_score")
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
    backend = ctx.option("perplexity_backend")
    max_perplexity = ctx.option("perplexity_max")
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
    keep_fraction = ctx.option("clip_keep_fraction")
    # with a top-k% rule this stage only scores; clip_cut_stage applies the dataset-wide cut
    min_score = None if keep_fraction is not None else ctx.option("clip_min_score")
    step = ClipScoreFilter(
        min_score=min_score,
        model=ctx.option("clip_model"),
        pretrained=ctx.option("clip_pretrained"),
        weights_path=ctx.option("clip_weights"),
        batch_size=ctx.option("clip_batch_size"),
        device=ctx.option("clip_device"),
        random_init_seed=ctx.option("clip_random_seed"),
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
        options=tuple(option for key in filters for option in FILTER_OPTIONS[key]),
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
    options: Sequence[Option] = (),
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

    return Stage(
        name,
        build,
        active=active,
        description=description,
        options=(FILTER_OPTIONS[switch][0], *options),  # the filter's switch, e.g. `perplexity`
    )


def perplexity_cut_stage(name: str = "perplexity_cut") -> Stage:
    """Idefics2: drop the 5% highest-perplexity records of the dataset (`perplexity_drop_fraction`)."""
    return percentile_cut_stage(
        name,
        "perplexity",
        "perplexity",
        lambda ctx: ctx.option("perplexity_drop_fraction"),
        highest=True,
        description="drop the highest-perplexity fraction of the dataset",
        options=(PERPLEXITY_DROP,),
    )


def _clip_drop_fraction(ctx: StageContext) -> float | None:
    keep = ctx.option("clip_keep_fraction")
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
        options=(CLIP_KEEP,),
    )
