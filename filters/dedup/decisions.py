"""Dedup driver step (the match stage's `finish`): clusters duplicate pairs and writes, per input task,
which records to drop and which paragraphs to remove, each naming the record it duplicates.

Clusters join the pairs of every cluster kind (exact text, exact image, MinHash, pHash), so a record
is never dropped in favour of a record that is itself dropped: each cluster keeps its first record
(lowest task rank, then reading order) and every other member names that one. Memory here is
O(records that have a duplicate), not O(records): unique records never reach this step.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import numpy as np
from curate.filters.dedup.index import (
    COUNT,
    GROUP,
    PAIR,
    decisions_path,
    read_ids,
    save_atomic,
    split_node,
    write_json_atomic,
)
from curate.filters.dedup.kinds import DedupKind

from curate.location import load_npy, location

FREQUENT_FILE = "frequent_{kind}.npy"


def _load(match_dir: Path, kind: str, dtype: np.dtype) -> np.ndarray:
    folder = location(match_dir) / "matches" / kind
    files = sorted(folder.glob("p*.npy"), key=str) if folder.exists() else []
    arrays = [load_npy(f) for f in files if not f.name.endswith(".tmp")]
    return np.concatenate(arrays) if arrays else np.empty(0, dtype=dtype)


def cluster(pairs_by_kind: list[tuple[DedupKind, np.ndarray]]) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """(dropped nodes, the kept node each duplicates, the reason of each) from pairs of every kind."""
    all_pairs = [p for _, p in pairs_by_kind if len(p)]
    if not all_pairs:
        return np.empty(0, np.uint64), np.empty(0, np.uint64), []
    pairs = np.concatenate(all_pairs)
    nodes, inverse = np.unique(np.r_[pairs["a"], pairs["b"]], return_inverse=True)
    n = len(nodes)
    # scipy here, not at the top: every recipe imports this module, few runs cluster duplicates
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    graph = coo_matrix((np.ones(len(pairs)), (inverse[: len(pairs)], inverse[len(pairs) :])), shape=(n, n))
    _, component = connected_components(graph, directed=False)
    keep = np.full(component.max() + 1, np.iinfo(np.uint64).max, dtype=np.uint64)
    np.minimum.at(keep, component, nodes)  # nodes are sorted addresses: the first read record wins
    kept_of = keep[component]
    dropped_mask = kept_of != nodes
    # the reason is the first kind (in the recipe's order) that paired the record with another
    reason = {}
    for kind, kind_pairs in pairs_by_kind:
        for value in np.r_[kind_pairs["b"], kind_pairs["a"]].tolist():
            reason.setdefault(value, kind.reason)
    dropped = nodes[dropped_mask]
    return dropped, kept_of[dropped_mask], [reason[int(v)] for v in dropped]


def paragraph_removals(groups: np.ndarray, dropped: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(removed members, the member kept for each): per group, the first occurrence in a kept record."""
    groups = groups[~np.isin(groups["node"], dropped)]
    if not len(groups):
        return np.empty(0, dtype=GROUP), np.empty(0, np.uint64)
    groups = groups[np.lexsort((groups["aux"], groups["node"], groups["group"]))]
    new_run = np.r_[True, groups["group"][1:] != groups["group"][:-1]]
    head = np.flatnonzero(new_run)[np.cumsum(new_run) - 1]
    removed = ~new_run
    return groups[removed], groups["node"][head][removed]


def write_decisions(kinds: list[DedupKind], keys_dir: Path, match_dir: Path) -> dict[str, int]:
    """Resolve every kind's matches into per-task decision files; returns counts for the log."""
    cluster_kinds = [(k, _load(match_dir, k.name, PAIR)) for k in kinds if k.mode in ("cluster", "near")]
    dropped, kept, reasons = cluster(cluster_kinds)
    drops: dict[int, dict[int, list]] = defaultdict(dict)
    paragraphs: dict[int, dict[int, list]] = defaultdict(lambda: defaultdict(list))
    wanted: dict[int, set[int]] = defaultdict(set)  # ids to look up, per task
    for value, kept_value, reason in zip(dropped.tolist(), kept.tolist(), reasons, strict=True):
        rank, idx = split_node(value)
        drops[rank][idx] = [reason, kept_value]
        wanted[split_node(kept_value)[0]].add(split_node(kept_value)[1])
    counts = {"dropped": len(dropped), "paragraphs": 0}
    for kind in kinds:
        if kind.mode == "paragraph":
            removed, kept_nodes = paragraph_removals(_load(match_dir, kind.name, GROUP), dropped)
            counts["paragraphs"] += len(removed)
            for member, kept_value in zip(removed.tolist(), kept_nodes.tolist(), strict=True):
                rank, idx = split_node(member[1])
                paragraphs[rank][idx].append([int(member[2]), kept_value])
                wanted[split_node(kept_value)[0]].add(split_node(kept_value)[1])
        elif kind.mode == "frequency":
            frequent = _load(match_dir, kind.name, COUNT)
            save_atomic(location(match_dir) / FREQUENT_FILE.format(kind=kind.name), frequent)
            counts[f"frequent_{kind.name}"] = len(frequent)
    names = {}
    for rank, indices in wanted.items():
        for idx, record_id in read_ids(keys_dir, rank, indices).items():
            names[(rank << 32) | idx] = record_id
    ranks = len(list((location(keys_dir) / "ids").glob("*.jsonl")))
    for rank in range(ranks):
        write_json_atomic(
            decisions_path(match_dir, rank),
            {
                "drop": {str(i): [r, names[k]] for i, (r, k) in drops.get(rank, {}).items()},
                "paragraphs": {
                    str(i): [[p, names[k]] for p, k in removed]
                    for i, removed in paragraphs.get(rank, {}).items()
                },
            },
        )
    return counts
