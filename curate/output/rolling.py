"""The files one task of a writer step writes into an output folder (a local folder or an fsspec URL).

Files are named `{stem}-{rank:05d}-{n:05d}.{ext}` and rolled over at `max_samples` samples or `max_bytes`
bytes. A reader never sees a partial file: each is written to a local temporary file and, once complete,
renamed into a local folder or uploaded to an object store (an object appears only when its upload
finishes). The task's files, with sample counts, sizes and sha256, go to `manifests/{rank:05d}.json`; a
task that restarts deletes its own earlier files first, so a crash and a rerun never lose or duplicate a
sample. Used by the WebDataset shards (curate/output/shards.py) and the Hub Parquet files (curate/output/hub_parquet.py).
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from datatrove.pipeline.base import PipelineStep

from curate.location import datafolder, is_url, location, write_text_atomic

MAX_BYTES = 1 << 30  # webdataset: shards of ~1 GB stream well
MAX_SAMPLES = 10_000


class Writer(Protocol):
    """What writes one file's samples (webdataset's TarWriter, a Parquet writer)."""

    def write(self, item) -> None: ...

    def close(self) -> None: ...


class OutputFile:
    """One file being written: its final name, the local file written meanwhile, what it holds so far."""

    def __init__(self, name: str, tmp: str, writer: Writer, fields: dict):
        self.name, self.tmp, self.writer, self.fields = name, tmp, writer, fields
        self.samples = self.bytes = 0

    def write(self, item, size: int) -> None:
        self.writer.write(item)
        self.samples += 1
        self.bytes += size


class RollingFiles:
    """The files of task `rank` in `output_folder`: `file_for(stem, size, ...)` gives the file of `stem`
    that a sample of `size` bytes goes to, closing a full one and opening the next; `close()` publishes
    the open files and writes the task's manifest."""

    def __init__(
        self, output_folder: str | os.PathLike, rank: int, ext: str, max_bytes: int, max_samples: int
    ):
        self.output_folder = str(output_folder)
        self.remote = is_url(self.output_folder)
        self.folder = datafolder(self.output_folder)
        if not self.remote:
            Path(self.output_folder).mkdir(parents=True, exist_ok=True)
        self.rank, self.ext = rank, ext
        self.max_bytes, self.max_samples = max_bytes, max_samples
        self.manifests = location(self.output_folder) / "manifests"
        self.published: list[dict] = []
        self.current: dict[str, OutputFile] = {}
        self.numbers: Counter[str] = Counter()  # files opened so far, by stem

    def clear_previous_attempt(self, stem: str = "*", parts: tuple[str, ...] = ("json",)) -> None:
        """Delete this task's files of `stem` and its `manifests/{rank}.{part}` from an earlier attempt."""
        for stale in self.folder.glob(f"{stem}-{self.rank:05d}-*.{self.ext}*"):
            self.folder.rm(stale)
        for part in parts:
            name = f"manifests/{self.rank:05d}.{part}"
            if self.folder.exists(name):
                self.folder.rm(name)

    def file_for(self, stem: str, size: int, make_writer: Callable[[str], Writer], **fields) -> OutputFile:
        """The open file of `stem` with room for `size` more bytes and one more sample (a new one when
        the current is full; a sample larger than `max_bytes` gets a file of its own). `fields` are
        recorded in the manifest entry of a file opened here."""
        current = self.current.get(stem)
        if current is not None and (
            current.samples >= self.max_samples or current.bytes + size > self.max_bytes
        ):
            self._publish(self.current.pop(stem))
            current = None
        if current is None:
            name = f"{stem}-{self.rank:05d}-{self.numbers[stem]:05d}.{self.ext}"
            self.numbers[stem] += 1
            tmp = _local_tmp(name) if self.remote else os.path.join(self.output_folder, name + ".tmp")
            current = self.current[stem] = OutputFile(name, tmp, make_writer(tmp), fields)
        return current

    def _publish(self, file: OutputFile) -> None:
        file.writer.close()
        with open(file.tmp, "rb") as f:
            digest = hashlib.file_digest(f, "sha256").hexdigest()
        size = os.path.getsize(file.tmp)
        if self.remote:
            self.folder.put_file(file.tmp, file.name)  # the object exists only once the upload completed
            os.unlink(file.tmp)
        else:
            os.replace(file.tmp, os.path.join(self.output_folder, file.name))
        self.published.append(
            {"name": file.name, **file.fields, "samples": file.samples, "bytes": size, "sha256": digest}
        )

    def write_part(self, part: str, text: str) -> None:
        """Write `manifests/{rank}.{part}` atomically."""
        if not self.remote:
            self.manifests.mkdir(exist_ok=True)
        write_text_atomic(self.manifests / f"{self.rank:05d}.{part}", text)

    def close(self) -> list[dict]:
        """Publish the open files; write and return the task's file list (`manifests/{rank}.json`)."""
        for file in self.current.values():
            self._publish(file)
        self.current.clear()
        self.write_part("json", json.dumps(self.published))
        return self.published


class RollingWriter(PipelineStep):
    """A writer step whose files (`.{ext}`) roll over at `max_bytes` and `max_samples` each."""

    ext: str

    def __init__(
        self, output_folder: str | os.PathLike, max_bytes: int = MAX_BYTES, max_samples: int = MAX_SAMPLES
    ):
        super().__init__()
        self.output_folder = str(output_folder)
        self.max_bytes, self.max_samples = max_bytes, max_samples

    def task_files(self, rank: int) -> RollingFiles:
        return RollingFiles(self.output_folder, rank, self.ext, self.max_bytes, self.max_samples)


def _local_tmp(name: str) -> str:
    handle, path = tempfile.mkstemp(prefix=f"{name}.", suffix=".tmp")
    os.close(handle)
    return path


def task_files(output_folder: str | os.PathLike) -> list[dict]:
    """The files every task listed in `manifests/{rank}.json`, in task order."""
    parts = location(output_folder) / "manifests"
    files: list[dict] = []
    for part in sorted(parts.glob("[0-9]*.json"), key=lambda p: p.name) if parts.exists() else []:
        files.extend(json.loads(part.read_text()))
    return files
