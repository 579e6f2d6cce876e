"""On-disk layout of a dedup run: key entries sharded by kind and partition, ids, match results.

    KEYS_STAGE/index/KIND/pPPPP/RRRRR.bin   entries of input task RRRRR for partition PPPP
    KEYS_STAGE/ids/RRRRR.jsonl              record ids of input task RRRRR, in reading order
    KEYS_STAGE/input.txt                    the folder the keys stage read (the filter stage rereads it)
    MATCH_STAGE/matches/KIND/pPPPP.npy      pairs / paragraph groups / frequent keys of one partition
    MATCH_STAGE/decisions/RRRRR.json        per input task: records to drop and paragraphs to remove

A record is addressed by (task rank, index in the task's reading order): the filter stage reads the
same folder with the same number of tasks, so it sees every record at the same address. A node packs
the address in one uint64 (rank << 32 | index) so joins and sorts are numpy operations.
"""

from __future__ import annotations

import io
import json
import os
from collections import defaultdict
from pathlib import Path

import numpy as np

from curate.location import is_url, location, write_bytes_atomic

ENTRY = np.dtype([("key", "<u8"), ("rank", "<u4"), ("idx", "<u4"), ("aux", "<u8")])
PAIR = np.dtype([("a", "<u8"), ("b", "<u8")])  # b duplicates a (a is the smaller address)
GROUP = np.dtype([("group", "<u8"), ("node", "<u8"), ("aux", "<u8")])  # members of a repeated key
COUNT = np.dtype([("key", "<u8"), ("count", "<u8")])
FLUSH_ENTRIES = 65_536  # buffered per keys task (~7 MB as Python tuples), whatever its input size


def node(rank: int | np.ndarray, idx: int | np.ndarray) -> np.ndarray:
    return (np.asarray(rank, dtype=np.uint64) << np.uint64(32)) | np.asarray(idx, dtype=np.uint64)


def split_node(value: int) -> tuple[int, int]:
    return int(value) >> 32, int(value) & 0xFFFFFFFF


def partition_dir(keys_dir: Path, kind: str, partition: int) -> Path:
    return keys_dir / "index" / kind / f"p{partition:04d}"


def ids_path(keys_dir: Path, rank: int) -> Path:
    return keys_dir / "ids" / f"{rank:05d}.jsonl"


def matches_path(match_dir: Path, kind: str, partition: int) -> Path:
    return match_dir / "matches" / kind / f"p{partition:04d}.npy"


def decisions_path(match_dir: Path, rank: int) -> Path:
    return match_dir / "decisions" / f"{rank:05d}.json"


def save_atomic(path: Path, array: np.ndarray) -> None:
    buffer = io.BytesIO()
    np.save(buffer, array)
    write_bytes_atomic(path, buffer.getvalue())


def write_json_atomic(path: Path, value) -> None:
    write_bytes_atomic(path, json.dumps(value, ensure_ascii=False).encode())


class EntryWriter:
    """Appends one task's key entries to one file per (kind, partition), flushing a bounded buffer.

    Files are written under a temporary name and renamed on `close`, so a crashed task leaves no
    half file that a rerun or the match stage would read; on an object store a file is one upload,
    completed on `close`.
    """

    def __init__(self, keys_dir: Path, rank: int, partitions: int):
        self.keys_dir, self.rank, self.partitions = location(keys_dir), rank, partitions
        self.buffers: dict[tuple[str, int], list[tuple[int, int, int, int]]] = defaultdict(list)
        self.files: dict[tuple[str, int], object] = {}
        self.buffered = 0

    def add(self, kind: str, idx: int, key: int, aux: int = 0) -> None:
        self.buffers[(kind, key % self.partitions)].append((key, self.rank, idx, aux))
        self.buffered += 1
        if self.buffered >= FLUSH_ENTRIES:
            for slot in list(self.buffers):
                self._flush(slot)
            self.buffered = 0

    def _flush(self, slot: tuple[str, int]) -> None:
        buffer = self.buffers.pop(slot, None)
        if not buffer:
            return
        handle = self.files.get(slot)
        if handle is None:
            path = partition_dir(self.keys_dir, *slot) / f"{self.rank:05d}.bin"
            if not is_url(path):
                path.parent.mkdir(parents=True, exist_ok=True)
                path = path.with_name(path.name + ".tmp")
            handle = self.files[slot] = path.open("wb")  # closed in close()
        handle.write(np.array(buffer, dtype=ENTRY).tobytes())

    def close(self) -> None:
        for slot in list(self.buffers):
            self._flush(slot)
        for slot, handle in self.files.items():
            handle.close()
            final = partition_dir(self.keys_dir, *slot) / f"{self.rank:05d}.bin"
            if not is_url(final):
                os.replace(final.with_name(final.name + ".tmp"), final)
        self.files.clear()


def read_partition(keys_dir: Path, kind: str, partition: int) -> np.ndarray:
    folder = partition_dir(location(keys_dir), kind, partition)
    files = sorted(folder.glob("*.bin"), key=str) if folder.exists() else []
    if not files:
        return np.empty(0, dtype=ENTRY)
    return np.concatenate([np.frombuffer(f.read_bytes(), dtype=ENTRY) for f in files])


def read_ids(keys_dir: Path, rank: int, wanted: set[int]) -> dict[int, str]:
    """The ids at the wanted indices of one task (streams the file: memory ~ len(wanted))."""
    found = {}
    with ids_path(location(keys_dir), rank).open("r", encoding="utf-8") as lines:
        for idx, line in enumerate(lines):
            if idx in wanted:
                found[idx] = json.loads(line)
    return found
