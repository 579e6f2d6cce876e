"""Shard compaction: many tasks' partial shards become shards of the target size, nothing lost or doubled."""

from __future__ import annotations

import hashlib
import json

from curate.io import RecordReader
from curate.output.compact import compact_shards
from curate.output.loader import iter_shard
from curate.output.shards import WebDatasetWriter, merge_manifests, shard_paths


def _write_tasks(pdf_run, folder, tasks: int, max_samples: int) -> list[str]:
    """The run's page records written by `tasks` shard-writer tasks, as the shards stage would."""
    records = list(RecordReader(str(pdf_run / "stages" / "pages" / "data")).run())
    writer = WebDatasetWriter(folder, max_samples=max_samples)
    for rank in range(tasks):
        list(writer.run(iter(records[rank::tasks]), rank=rank, world_size=tasks))
    return sorted(r.id for r in records)


def _keys(folder) -> list[str]:
    return sorted(s["__key__"] for url in shard_paths(folder) for s in iter_shard(url))


def test_partial_shards_of_many_tasks_are_merged(pdf_run, tmp_path):
    folder = tmp_path / "shards"
    _write_tasks(pdf_run, folder, tasks=5, max_samples=7)
    before = _keys_of_parts(folder)
    result = compact_shards(str(folder), max_samples=7)
    manifest = merge_manifests(folder)
    counts = [s["samples"] for s in manifest["shards"]]
    assert sum(counts) == len(before)
    assert sum(1 for n in counts if n < 7) <= 1, counts
    assert len(result["sources"]) == 5  # every task had a partial last shard
    assert _keys(folder) == before  # every sample once
    for shard in manifest["shards"]:
        data = (folder / shard["name"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == shard["sha256"] and len(data) == shard["bytes"]
    assert not list(folder.glob("*.tmp"))


def test_compaction_is_idempotent_and_survives_a_crash_before_the_deletes(pdf_run, tmp_path):
    folder = tmp_path / "shards"
    _write_tasks(pdf_run, folder, tasks=3, max_samples=9)
    before = _keys_of_parts(folder)
    parts = [s for p in sorted((folder / "manifests").glob("[0-9]*.json")) for s in json.loads(p.read_text())]
    source = next(s["name"] for s in parts if s["samples"] < 9)
    saved = (folder / source).read_bytes()
    first = compact_shards(str(folder), max_samples=9)
    # a crash after merged.json was written but before the partial shards were deleted: one is back
    (folder / source).write_bytes(saved)
    again = compact_shards(str(folder), max_samples=9)
    assert again == first
    assert not (folder / source).exists()
    merge_manifests(folder)
    assert _keys(folder) == before


def _keys_of_parts(folder) -> list[str]:
    names = [
        s["name"]
        for part in sorted((folder / "manifests").glob("[0-9]*.json"))
        for s in json.loads(part.read_text())
    ]
    return sorted(s["__key__"] for name in names for s in iter_shard(str(folder / name)))
