"""Shards sized for training: after every task wrote its shards, the partial ones are merged.

Each task of the shards stage closes its shards at the target size, so all of a task's shards are full
but its last. With many tasks that is many small shards (a task that had 288 records left writes a
288-sample shard next to 10,000-sample ones). `compact_shards` rewrites the partial shards, in task
order, into shards of the target size (the last one may stay partial) and deletes them, so a run has
at most one partial shard whatever its task count.

Crash-safe and idempotent: the merged shards are written as `.tmp` and renamed, then
`manifests/merged.json` records which partial shards they replace (with their sha256), and only then
are those deleted. A rerun that finds `merged.json` matching the tasks' manifests has nothing to do.
The work is one pass over the partial shards (at most one shard per task) in the driver.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator

import fsspec

from curate.output.rolling import task_files
from curate.output.shards import read_samples, tar_writer

MERGED = "merged.json"


def compact_shards(folder: str, max_samples: int, max_bytes: int = 1 << 30, prefix: str = "shard") -> dict:
    """Merge the partial shards of `folder` (a local path or fsspec URL); returns `merged.json`'s content."""
    fs, root = fsspec.core.url_to_fs(str(folder))
    shards = task_files(folder)
    partial = [s for s in shards if s["samples"] < max_samples]
    sources = [{"name": s["name"], "sha256": s["sha256"]} for s in partial]
    merged_path = f"{root}/manifests/{MERGED}"
    if fs.exists(merged_path):
        with fs.open(merged_path) as f:
            done = json.load(f)
        if done["sources"] == sources:
            _delete(fs, root, sources)  # a crash may have come between the record and the deletes
            return done
        missing = [s["name"] for s in sources if not fs.exists(f"{root}/{s['name']}")]
        if missing:
            raise RuntimeError(
                f"{folder}: shards {missing[:3]} were merged before and a task has written its shards again "
                "since; delete the shards folder and rerun the shards stage"
            )
    if len(partial) <= 1:
        result = {"sources": [], "shards": []}
    else:
        result = {"sources": sources, "shards": _rewrite(fs, root, partial, max_samples, max_bytes, prefix)}
    with fs.open(merged_path + ".tmp", "w") as f:
        json.dump(result, f)
    fs.mv(merged_path + ".tmp", merged_path)
    _delete(fs, root, result["sources"])
    return result


def _delete(fs, root: str, sources: list[dict]) -> None:
    for source in sources:
        path = f"{root}/{source['name']}"
        if fs.exists(path):
            fs.rm(path)


def _rewrite(fs, root: str, partial: list[dict], max_samples: int, max_bytes: int, prefix: str) -> list[dict]:
    """The samples of `partial`, in order, as new shards `{prefix}-merged-NNNNN.tar`."""
    written: list[dict] = []
    out = tar = None
    count = size = 0

    def close():
        tar.close()
        out.close()
        final = f"{root}/{prefix}-merged-{len(written):05d}.tar"
        fs.mv(final + ".tmp", final)
        with fs.open(final, "rb") as f:
            digest = hashlib.file_digest(f, "sha256").hexdigest()
        written.append(
            {"name": final.rsplit("/", 1)[-1], "samples": count, "bytes": fs.size(final), "sha256": digest}
        )

    for sample in _samples(fs, root, partial):
        sample_bytes = sum(len(data) for name, data in sample.items() if name != "__key__")
        if tar is not None and (count >= max_samples or size + sample_bytes > max_bytes):
            close()
            tar = None
        if tar is None:
            out = fs.open(f"{root}/{prefix}-merged-{len(written):05d}.tar.tmp", "wb")
            tar = tar_writer(out)
            count = size = 0
        tar.write(sample)
        count += 1
        size += sample_bytes
    if tar is not None:
        close()
    return written


def _samples(fs, root: str, shards: list[dict]) -> Iterator[dict]:
    """Each sample of `shards`, in order (`read_samples`: keys never split)."""
    for shard in shards:
        with fs.open(f"{root}/{shard['name']}", "rb") as f:
            yield from read_samples(f)
