"""Ready-made dedup stages for recipes. Each factory returns stages to append to a recipe's list,
before the shards stage (see the README's "Deduplication" section for where each recipe puts them).

A dedup is three stages, so it runs across tasks (local processes or Ray) with bounded memory:

    NAME-keys    one task per input file: key entries of every record, sharded by (kind, partition);
                 records are not copied (the filter stage rereads the same input)
    NAME-match   one task per partition: duplicate pairs / paragraph groups / frequent keys; then, in
                 the driver (`finish`), clusters -> per-task decisions naming each kept record
    NAME-filter  one task per keys task: drops duplicates (exclusion sink, reason, `duplicate_of`),
                 removes frequent image URLs and repeated paragraphs, writes the kept records

Options (`--set key=value`): `dedup_partitions` (default 8; raise it so that one partition of the key
entries, 24 bytes each, fits a task's memory); `dedup=false` leaves the stages out, so every record is kept.
"""

from __future__ import annotations

from pathlib import Path

from curate.filters.dedup.cross_source import CrossSourceFlag
from curate.filters.dedup.decisions import write_decisions
from curate.filters.dedup.decontaminate import Decontaminate
from curate.filters.dedup.filter_step import DedupFilter
from curate.filters.dedup.keys_step import DedupKeys
from curate.filters.dedup.kinds import (
    DedupKind,
    ExactImage,
    ExactText,
    ImageUrlFrequency,
    MinHashText,
    NearImage,
    Paragraphs,
)
from curate.filters.dedup.match_step import DedupMatch

from curate.io import RecordReader
from curate.options import PATH, Option
from curate.recipe import Stage, StageContext
from curate.run.plan import PLAN_FILE

DEFAULT_PARTITIONS = 8

DEDUP_OPTIONS = (
    Option("dedup", bool, True, help="deduplicate (false: the dedup stages are left out)"),
    Option(
        "dedup_partitions",
        int,
        DEFAULT_PARTITIONS,
        minimum=1,
        help="key partitions; raise it so one partition (24 bytes a key) fits a task's memory",
    ),
)
DECONTAMINATION_OPTIONS = (
    Option.arg(
        Decontaminate, "images", "decontaminate_images", type=PATH, help="folder of evaluation images"
    ),
    Option.arg(Decontaminate, "texts", "decontaminate_texts", type=PATH, help="file of evaluation texts"),
    Option.arg(
        Decontaminate,
        "phash_threshold",
        "decontaminate_phash",
        type=int,
        minimum=0,
        maximum=64,
        help="pHash bits within which an image matches",
    ),
    Option.arg(
        Decontaminate,
        "ngram",
        "decontaminate_ngram",
        type=int,
        minimum=1,
        help="word n-gram shared with an evaluation text",
        source="GPT-3 decontamination: 13-grams",
    ),
)
CROSS_SOURCE = Option("cross_source_records", PATH, None,
                      help="records of another source (a stage's data folder) whose images flag a pair")  # fmt: skip


def _partitions(ctx: StageContext) -> int:
    return ctx.option("dedup_partitions")


def _stage_dir(ctx: StageContext, name: str) -> Path:
    return ctx.output / "stages" / name


def dedup_stages(kinds: list[DedupKind], name: str = "dedup") -> list[Stage]:
    """keys -> match -> filter stages comparing records by every kind in `kinds` (order = reason priority)."""
    keys_name, match_name = f"{name}-keys", f"{name}-match"

    def build_keys(ctx: StageContext):
        ctx.stage_dir.mkdir(parents=True, exist_ok=True)
        (ctx.stage_dir / "input.txt").write_text(str(ctx.input))
        (ctx.stage_dir / "partitions.txt").write_text(str(_partitions(ctx)))
        ctx.data_dir.mkdir(parents=True, exist_ok=True)  # no records here: see the filter stage
        return [
            ctx.reader(),
            DedupKeys(kinds, ctx.stage_dir, _partitions(ctx), error_writer=ctx.error_writer("dedup-keys")),
        ]

    def match_tasks(ctx: StageContext) -> int:
        marker = _stage_dir(ctx, keys_name) / "partitions.txt"
        return int(marker.read_text()) if marker.exists() else _partitions(ctx)

    def build_match(ctx: StageContext):
        ctx.data_dir.mkdir(parents=True, exist_ok=True)
        return [DedupMatch(kinds, _stage_dir(ctx, keys_name), ctx.stage_dir)]

    def finish_match(ctx: StageContext) -> None:
        write_decisions(kinds, _stage_dir(ctx, keys_name), ctx.stage_dir)

    def keys_input(ctx: StageContext) -> str:
        marker = _stage_dir(ctx, keys_name) / "input.txt"
        if not marker.exists():
            raise FileNotFoundError(f"stage {ctx.name!r} needs stage {keys_name!r} to have run first")
        return marker.read_text()

    def filter_tasks(ctx: StageContext) -> int:
        return len(list((_stage_dir(ctx, keys_name) / "ids").glob("*.jsonl")))

    def build_filter(ctx: StageContext):
        # the same share of records per task as the keys stage (its ids files are per task)
        keys_plan = _stage_dir(ctx, keys_name) / PLAN_FILE
        return [
            RecordReader(keys_input(ctx), paths_file=str(keys_plan) if keys_plan.exists() else None),
            DedupFilter(
                kinds,
                _stage_dir(ctx, match_name),
                exclusion_writer=ctx.exclusion_writer("dedup"),
                error_writer=ctx.error_writer("dedup"),
            ),
            ctx.writer(),
        ]

    described = ", ".join(k.name for k in kinds)

    def active(ctx: StageContext) -> bool:
        return ctx.flag("dedup", True)  # --set dedup=false leaves the three stages out

    return [
        Stage(
            keys_name,
            build_keys,
            active=active,
            description=f"dedup keys ({described})",
            options=DEDUP_OPTIONS,
        ),
        Stage(
            match_name,
            build_match,
            active=active,
            task_count=match_tasks,
            max_tasks=1 << 16,
            finish=finish_match,
            description="dedup: match keys per partition, cluster",
            options=DEDUP_OPTIONS,
        ),
        Stage(
            f"{name}-filter",
            build_filter,
            active=active,
            task_count=filter_tasks,
            max_tasks=1 << 16,
            description="dedup: drop duplicates, name the kept record",
            options=DEDUP_OPTIONS,
        ),
    ]


def exact_dedup_stages(text: bool = True, images: bool = True, name: str = "exact-dedup") -> list[Stage]:
    """Exact duplicates: normalised text hash and/or decoded-pixel hash."""
    kinds: list[DedupKind] = ([ExactImage()] if images else []) + ([ExactText()] if text else [])
    return dedup_stages(kinds, name)


def minhash_dedup_stages(
    bands: int = 14, rows: int = 8, ngram: int = 5, exact_text: bool = True, name: str = "text-dedup"
) -> list[Stage]:
    """Near-duplicate text (MinHash LSH), with exact text dedup in the same pass by default."""
    kinds: list[DedupKind] = [ExactText()] if exact_text else []
    return dedup_stages([*kinds, MinHashText(bands=bands, rows=rows, ngram=ngram)], name)


def image_phash_dedup_stages(
    threshold: int = 6, exact: bool = True, name: str = "image-dedup"
) -> list[Stage]:
    """Near-duplicate images (pHash within `threshold` bits) across the whole dataset, exact pixels first."""
    kinds: list[DedupKind] = [ExactImage()] if exact else []
    return dedup_stages([*kinds, NearImage(threshold=threshold)], name)


def page_dedup_stages(name: str = "dedup") -> list[Stage]:
    """PDF pages: identical renders (blank or repeated pages), same text, near-duplicate text (MinHash).
    No pHash here: renders of different text pages look alike at pHash's 32x32 scale."""
    return dedup_stages([ExactImage(), ExactText(), MinHashText()], name)


def interleaved_dedup_stages(max_url_count: int = 10, name: str = "dedup") -> list[Stage]:
    """Web documents, one pass: frequent image URLs and repeated paragraphs removed (OBELICS), then
    same and near-duplicate documents (exact text, MinHash) dropped."""
    kinds = [ImageUrlFrequency(max_count=max_url_count), Paragraphs(), ExactText(), MinHashText()]
    return dedup_stages(kinds, name)


def url_frequency_stages(
    max_count: int = 10, paragraphs: bool = True, name: str = "obelics-dedup"
) -> list[Stage]:
    """OBELICS: image URLs seen more than `max_count` times removed; repeated paragraphs removed."""
    kinds: list[DedupKind] = [ImageUrlFrequency(max_count=max_count)]
    return dedup_stages([*kinds, Paragraphs()] if paragraphs else kinds, name)


def decontamination_stage(name: str = "decontaminate") -> Stage:
    """Drops samples matching an evaluation set given by options `decontaminate_images` (a folder)
    and/or `decontaminate_texts` (a file); `decontaminate_phash` and `decontaminate_ngram` tune it.
    Without either option the stage is left out of the run, so recipes can always include it."""

    def build(ctx: StageContext):
        if not ctx.option("decontaminate_images") and not ctx.option("decontaminate_texts"):
            return [ctx.reader(), ctx.writer()]  # no evaluation set given: records pass unchanged
        return [
            ctx.reader(),
            Decontaminate(
                images=ctx.option("decontaminate_images"),
                texts=ctx.option("decontaminate_texts"),
                phash_threshold=ctx.option("decontaminate_phash"),
                ngram=ctx.option("decontaminate_ngram"),
                exclusion_writer=ctx.exclusion_writer("decontaminate"),
                error_writer=ctx.error_writer("decontaminate"),
            ),
            ctx.writer(),
        ]

    def active(ctx: StageContext) -> bool:
        return bool(ctx.option("decontaminate_images") or ctx.option("decontaminate_texts"))

    return Stage(
        name,
        build,
        active=active,
        description="drop samples matching the evaluation set",
        options=DECONTAMINATION_OPTIONS,
    )


def cross_source_stage(name: str = "cross-source") -> Stage:
    """Flags pairs whose image is also in another source's records (option `cross_source_records`:
    a folder of records, e.g. an interleaved run's OUTPUT/stages/<last stage>/data); without it the
    stage is left out of the run."""

    def build(ctx: StageContext):
        other = ctx.option("cross_source_records")
        if not other:
            return [ctx.reader(), ctx.writer()]  # no other source given: records pass unchanged
        return [
            ctx.reader(),
            CrossSourceFlag(other, error_writer=ctx.error_writer("cross-source")),
            ctx.writer(),
        ]

    return Stage(
        name,
        build,
        active=lambda ctx: bool(ctx.option("cross_source_records")),
        description="flag pair images also found in another source",
        options=(CROSS_SOURCE,),
    )
