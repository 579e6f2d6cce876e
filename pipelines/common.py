"""Stages shared by recipes."""

from __future__ import annotations

import math
from pathlib import Path

from curate.shards import DuplicateKeys, WebDatasetWriter, merge_manifests
from curate.stage import Stage, StageContext, StageFailed


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
            error_writer=ctx.error_writer("shards"),
        ),
    ]


def _finish_shards(ctx: StageContext) -> None:
    try:
        merge_manifests(shards_dir(ctx))
    except DuplicateKeys as exc:
        raise StageFailed(f"stage {ctx.name!r}: {exc}") from exc


def _shard_tasks(ctx: StageContext) -> int:
    """One task per target-size shard of input (records are about shard-sized once in tar), so small
    runs give few full shards rather than one small shard per upstream file."""
    files = list(Path(ctx.input).glob("*.parquet"))
    total = sum(f.stat().st_size for f in files)
    return min(len(files), math.ceil(total / int(ctx.option("shard_bytes", 1 << 30))))


def shards_stage() -> Stage:
    """Records of the previous stage -> WebDataset shards in OUTPUT/shards with a manifest."""
    return Stage(
        "shards",
        _build_shards,
        finish=_finish_shards,
        task_count=_shard_tasks,
        description="write WebDataset shards",
    )
