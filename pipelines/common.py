"""Stages shared by recipes."""

from __future__ import annotations

from curate.compact import compact_shards
from curate.options import Option
from curate.shards import DuplicateKeys, WebDatasetWriter, merge_manifests
from curate.stage import Stage, StageContext, StageFailed

SHARD_OPTIONS = (
    Option.arg(WebDatasetWriter, "max_bytes", "shard_bytes", type=int, minimum=1,
               help="target bytes per shard", source="webdataset: shards of ~1 GB stream well"),
    Option.arg(WebDatasetWriter, "max_samples", "shard_samples", type=int, minimum=1,
               help="samples per shard at most"),
    Option.arg(WebDatasetWriter, "resize_max_side", type=int, minimum=1,
               help="downscale images whose longer side exceeds this (none: keep the size)"),
)  # fmt: skip


def shards_dir(ctx: StageContext):
    return ctx.output / "shards"


def _build_shards(ctx: StageContext):
    return [
        ctx.reader(),
        WebDatasetWriter(
            shards_dir(ctx),
            max_bytes=ctx.option("shard_bytes"),
            max_samples=ctx.option("shard_samples"),
            resize_max_side=ctx.option("resize_max_side"),
            error_writer=ctx.error_writer("shards"),
        ),
    ]


def _finish_shards(ctx: StageContext) -> None:
    # at most one partial shard per run, whatever the task count: ranks of a training job get equal work
    compact_shards(
        str(shards_dir(ctx)),
        max_samples=ctx.option("shard_samples"),
        max_bytes=ctx.option("shard_bytes"),
    )
    try:
        merge_manifests(shards_dir(ctx))
    except DuplicateKeys as exc:
        raise StageFailed(f"stage {ctx.name!r}: {exc}") from exc


def _shard_task_bytes(ctx: StageContext) -> int:
    """One task per target-size shard of input (records are about shard-sized once in tar), so small
    runs give few full shards rather than one small shard per upstream file (sizes from the plan's
    one listing)."""
    return ctx.option("shard_bytes")


def shards_stage() -> Stage:
    """Records of the previous stage -> WebDataset shards in OUTPUT/shards with a manifest."""
    return Stage(
        "shards",
        _build_shards,
        finish=_finish_shards,
        task_bytes=_shard_task_bytes,
        description="write WebDataset shards",
        options=SHARD_OPTIONS,
    )
