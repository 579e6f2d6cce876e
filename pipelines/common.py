"""Stages shared by recipes."""

from __future__ import annotations

import math
from pathlib import Path

from curate.hub_parquet import HubParquetWriter, merge_parquet_manifests
from curate.shards import WebDatasetWriter, merge_manifests
from curate.stage import Stage, StageContext

FORMATS = ("webdataset", "parquet")


def shards_dir(ctx: StageContext):
    return ctx.output / "shards"


def parquet_dir(ctx: StageContext):
    return ctx.output / "parquet"


def output_formats(ctx: StageContext) -> list[str]:
    """`--set formats=webdataset,parquet`: which sample formats the shards stage writes."""
    value = ctx.option("formats", "webdataset")
    wanted = [f.strip() for f in (value.split(",") if isinstance(value, str) else value) if f.strip()]
    unknown = set(wanted) - set(FORMATS)
    if unknown or not wanted:
        raise ValueError(f"formats={value!r}: choose from {', '.join(FORMATS)} (comma-separated)")
    return wanted


def _build_shards(ctx: StageContext):
    max_bytes = int(ctx.option("shard_bytes", 1 << 30))
    max_samples = int(ctx.option("shard_samples", 10_000))
    formats = output_formats(ctx)
    steps = [ctx.reader()]
    if "webdataset" in formats:
        steps.append(
            WebDatasetWriter(
                shards_dir(ctx),
                max_bytes=max_bytes,
                max_samples=max_samples,
                resize_max_side=ctx.option("resize_max_side"),
            )
        )
    if "parquet" in formats:
        steps.append(HubParquetWriter(parquet_dir(ctx), max_bytes=max_bytes, max_samples=max_samples))
    return steps


def _finish_shards(ctx: StageContext) -> None:
    formats = output_formats(ctx)
    if "webdataset" in formats:
        merge_manifests(shards_dir(ctx))
    if "parquet" in formats:
        merge_parquet_manifests(parquet_dir(ctx))


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
        description="write WebDataset shards (and Hub-native Parquet: --set formats=webdataset,parquet)",
    )
