"""Dedup stage 2 (one task per partition): load one partition of every kind's entries, sort them,
and write what equal keys mean: duplicate pairs, paragraph groups or frequent keys.

Memory per task is one partition: (entries of the dataset) x 24 bytes / partitions."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from curate.filters.dedup.image_keys import hamming
from curate.filters.dedup.index import COUNT, GROUP, PAIR, matches_path, node, read_partition, save_atomic
from curate.filters.dedup.kinds import DedupKind
from datatrove.pipeline.base import PipelineStep

from curate.location import location

MATRIX_ROWS = 1024  # rows of a pHash bucket's distance matrix computed at once (1024 x bucket size)


def _groups(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For sorted keys: (start of each run of equal keys, run id of each element)."""
    new_run = np.r_[True, keys[1:] != keys[:-1]]
    return np.flatnonzero(new_run), np.cumsum(new_run) - 1


def _sorted(entries: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    order = np.lexsort((entries["aux"], entries["idx"], entries["rank"], entries["key"]))
    entries = entries[order]
    return entries, node(entries["rank"], entries["idx"])


def cluster_pairs(entries: np.ndarray) -> np.ndarray:
    """Each record sharing a key with an earlier one is paired with the first record of that key."""
    if not len(entries):
        return np.empty(0, dtype=PAIR)
    entries, nodes = _sorted(entries)
    starts, run = _groups(entries["key"])
    heads = nodes[starts[run]]
    pairs = np.empty(len(nodes), dtype=PAIR)
    pairs["a"], pairs["b"] = heads, nodes
    return np.unique(pairs[heads != nodes])


def near_pairs(entries: np.ndarray, threshold: int) -> np.ndarray:
    """Candidates share a chunk (key); a pair is kept where the full hashes (aux) are within threshold."""
    if not len(entries):
        return np.empty(0, dtype=PAIR)
    entries, nodes = _sorted(entries)
    starts, run = _groups(entries["key"])
    sizes = np.diff(np.r_[starts, len(entries)])
    found = []
    for start, size in zip(starts[sizes > 1], sizes[sizes > 1], strict=True):
        members, hashes = nodes[start : start + size], entries["aux"][start : start + size]
        for first in range(0, size, MATRIX_ROWS):  # a bucket against itself, MATRIX_ROWS rows at a time
            rows = slice(first, min(first + MATRIX_ROWS, size))
            close = hamming(hashes[rows, None], hashes[None, :]) <= threshold
            i, j = np.nonzero(close)
            i = i + first
            later = j > i
            pair = np.empty(int(later.sum()), dtype=PAIR)
            pair["a"] = np.minimum(members[i[later]], members[j[later]])
            pair["b"] = np.maximum(members[i[later]], members[j[later]])
            found.append(pair)
    pairs = np.unique(np.concatenate(found)) if found else np.empty(0, dtype=PAIR)
    return pairs[pairs["a"] != pairs["b"]]


def frequent_keys(entries: np.ndarray, max_count: int) -> np.ndarray:
    keys, counts = np.unique(entries["key"], return_counts=True)
    frequent = np.empty(int((counts > max_count).sum()), dtype=COUNT)
    frequent["key"], frequent["count"] = keys[counts > max_count], counts[counts > max_count]
    return frequent


def repeated_groups(entries: np.ndarray) -> np.ndarray:
    """Every member of a key seen more than once, with its group (the key)."""
    if not len(entries):
        return np.empty(0, dtype=GROUP)
    entries, nodes = _sorted(entries)
    starts, run = _groups(entries["key"])
    sizes = np.diff(np.r_[starts, len(entries)])
    repeated = sizes[run] > 1
    groups = np.empty(int(repeated.sum()), dtype=GROUP)
    groups["group"], groups["node"], groups["aux"] = (
        entries["key"][repeated],
        nodes[repeated],
        entries["aux"][repeated],
    )
    return groups


class DedupMatch(PipelineStep):
    type = "🫂 - DEDUP"
    name = "🧮 Dedup match"

    def __init__(self, kinds: list[DedupKind], keys_dir: str | Path, match_dir: str | Path):
        super().__init__()
        self.kinds, self.keys_dir, self.match_dir = kinds, location(keys_dir), location(match_dir)

    def run(self, data=None, rank: int = 0, world_size: int = 1):
        partition = rank
        for kind in self.kinds:
            with self.track_time():
                entries = read_partition(self.keys_dir, kind.name, partition)
                self.stat_update(f"entries_{kind.name}", value=len(entries))
                if kind.mode == "cluster":
                    result = cluster_pairs(entries)
                elif kind.mode == "near":
                    result = near_pairs(entries, kind.threshold)
                elif kind.mode == "frequency":
                    result = frequent_keys(entries, kind.max_count)
                elif kind.mode == "paragraph":
                    result = repeated_groups(entries)
                else:
                    raise ValueError(f"dedup kind {kind.name}: unknown mode {kind.mode!r}")
                self.stat_update(f"matches_{kind.name}", value=len(result))
                save_atomic(matches_path(self.match_dir, kind.name, partition), result)
        return
        yield  # an index step: it reads key files, not records
