"""Stages shared by recipes."""

from __future__ import annotations

from curate.options import LIST, Option
from curate.output.compact import compact_shards
from curate.output.hub_parquet import HubParquetWriter, merge_parquet_manifests
from curate.output.shards import DuplicateKeys, WebDatasetWriter, merge_manifests
from curate.recipe import Stage, StageContext, StageFailed

FORMATS = ("webdataset", "parquet")
SHARD_OPTIONS = (
    Option.arg(WebDatasetWriter, "max_bytes", "shard_bytes", type=int, minimum=1,
               help="target bytes per shard", source="webdataset: shards of ~1 GB stream well"),
    Option.arg(WebDatasetWriter, "max_samples", "shard_samples", type=int, minimum=1,
               help="samples per shard at most"),
    Option.arg(WebDatasetWriter, "resize_max_side", type=int, minimum=1,
               help="downscale images whose longer side exceeds this (none: keep the size)"),
    Option("formats", LIST, ["webdataset"], choices=FORMATS,
           help="sample formats written: WebDataset tar shards and/or Hub-native Parquet (parquet/)"),
)  # fmt: skip


def shards_dir(ctx: StageContext):
    return ctx.output / "shards"


def parquet_dir(ctx: StageContext):
    return ctx.output / "parquet"


def output_formats(ctx: StageContext) -> list[str]:
    """`--set formats=webdataset,parquet`: which sample formats the shards stage writes."""
    return list(ctx.option("formats")) or ["webdataset"]


def _build_shards(ctx: StageContext):
    formats = output_formats(ctx)
    steps = [ctx.reader()]
    if "webdataset" in formats:
        steps.append(
            WebDatasetWriter(
                shards_dir(ctx),
                max_bytes=ctx.option("shard_bytes"),
                max_samples=ctx.option("shard_samples"),
                resize_max_side=ctx.option("resize_max_side"),
                error_writer=ctx.error_writer("shards"),
            )
        )
    if "parquet" in formats:
        steps.append(
            HubParquetWriter(
                parquet_dir(ctx), max_bytes=ctx.option("shard_bytes"), max_samples=ctx.option("shard_samples")
            )
        )
    return steps


def _finish_shards(ctx: StageContext) -> None:
    formats = output_formats(ctx)
    if "webdataset" in formats:
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
    if "parquet" in formats:
        merge_parquet_manifests(parquet_dir(ctx))


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
        description="write WebDataset shards (and Hub-native Parquet: --set formats=webdataset,parquet)",
        options=SHARD_OPTIONS,
    )
