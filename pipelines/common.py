"""Stages shared by recipes."""

from __future__ import annotations

from curate.shards import WebDatasetWriter, merge_manifests
from curate.stage import Stage, StageContext


def shards_dir(ctx: StageContext):
    return ctx.output / "shards"


def _build_shards(ctx: StageContext):
    return [
        ctx.reader(),
        WebDatasetWriter(
            shards_dir(ctx),
            max_bytes=int(ctx.option("shard_bytes", 1 << 30)),
            max_samples=int(ctx.option("shard_samples", 10_000)),
            resize_max_side=ctx.option("resize_max_side"),
        ),
    ]


def _finish_shards(ctx: StageContext) -> None:
    merge_manifests(shards_dir(ctx))


def _shard_task_bytes(ctx: StageContext) -> int:
    """One task per target-size shard of input (records are about shard-sized once in tar), so small
    runs give few full shards rather than one small shard per upstream file (sizes from the plan's
    one listing)."""
    return int(ctx.option("shard_bytes", 1 << 30))


def shards_stage() -> Stage:
    """Records of the previous stage -> WebDataset shards in OUTPUT/shards with a manifest."""
    return Stage(
        "shards",
        _build_shards,
        finish=_finish_shards,
        task_bytes=_shard_task_bytes,
        description="write WebDataset shards",
    )
