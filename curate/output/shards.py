"""WebDataset output: records -> tar shards of a target size, written atomically, plus a manifest.

A sample is `KEY.json` (text, metadata, scores, QA turns or the interleaved order), its image(s)
`KEY.png|jpg|webp` (`KEY.0.png`, `KEY.1.jpg`, ... when there are several) and `KEY.txt` (its text,
possibly empty). Shard names are `{prefix}-{rank:05d}-{n:05d}.tar`: a task that restarts deletes its own
earlier shards and writes them again, so a crash and a rerun never lose or duplicate a sample.

Keys are unique in a run: a record whose key a task already wrote is an error record naming both
sources (two samples under one key would make webdataset merge or refuse them); each task lists its
keys, sorted, in `manifests/{rank}.keys`, and `merge_manifests` refuses a key written by two tasks.

The shard folder may be local or an fsspec URL (`s3://bucket/out/shards`).
"""

from __future__ import annotations

import heapq
import io
import json
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from datatrove.data import Document, DocumentsPipeline
from datatrove.pipeline.writers.disk_base import DiskWriter

from curate.location import location, write_text_atomic
from curate.output.rolling import MAX_BYTES, MAX_SAMPLES, RollingWriter, task_files
from curate.record import INTERLEAVED, sample_key
from curate.steps import ErrorSinkMixin

MANIFEST = "manifest.json"
_EXTENSIONS = {"jpeg": "jpg", "jpg": "jpg", "png": "png", "webp": "webp", "gif": "gif", "tiff": "tif"}


def member_key(name: str) -> tuple[str, str]:
    """(key, extension) of a tar member, webdataset's rule: the key is the name up to the first dot of its
    last path component (`a/b.c/KEY.0.png` -> `a/b.c/KEY`, `0.png`). Every reader of our shards uses it."""
    folder, _, base = name.rpartition("/")
    stem, _, ext = base.partition(".")
    return (f"{folder}/{stem}" if folder else stem), ext


def read_samples(stream: BinaryIO) -> Iterator[dict]:
    """The samples of a shard stream, in stored order: `{"__key__": KEY, EXT: bytes, ...}`, members grouped
    by `member_key`. Every reader of our shards (the loader, compaction) goes through here."""
    sample: dict | None = None
    with tarfile.open(fileobj=stream, mode="r|", bufsize=1 << 16) as tar:
        for member in tar:
            if not member.isfile():
                continue
            key, ext = member_key(member.name)
            if sample is not None and key != sample["__key__"]:
                yield sample
                sample = None
            if sample is None:
                sample = {"__key__": key}
            sample[ext] = tar.extractfile(member).read()
    if sample is not None:
        yield sample


def tar_writer(target: str | BinaryIO) -> SampleTarWriter:
    """The tar writer every writer of our shards uses (`SampleTarWriter`): member bytes as given, mtime 0
    (the same samples give the same bytes)."""
    return SampleTarWriter(target)


def image_extension(fmt: str | None) -> str:
    return _EXTENSIONS.get((fmt or "png").lower(), "png")


def resize_image(data: bytes, max_side: int) -> tuple[bytes, str | None]:
    """Downscale an encoded image so its longest side is at most `max_side` (kept as is if smaller)."""
    from PIL import Image

    image = Image.open(io.BytesIO(data))
    if max(image.size) <= max_side:
        return data, None
    fmt = image.format or "PNG"
    image.thumbnail((max_side, max_side))
    out = io.BytesIO()
    image.save(out, format=fmt)
    return out.getvalue(), fmt.lower()


def _stable_types(value):
    """JSON whose field types do not vary between samples: `datasets` infers a shard set's schema from
    its first few samples, so a field that is null there and a string later breaks loading."""
    if value is None:
        return ""
    if isinstance(value, dict):
        return {k: _stable_types(v) for k, v in value.items()}
    if isinstance(value, list):
        return [v if v is None else _stable_types(v) for v in value]  # None in `texts` marks an image
    return value


def qa_evidence(metadata: dict) -> list[dict]:
    """`qa_evidence` aligned with the QA turns (`qa`): one {pages, evidence} per turn, the page line(s) its
    answer is read from (empty where a record was checked before evidence was kept)."""
    evidence, turns = metadata.get("qa_evidence") or [], metadata.get("qa") or []
    if len(evidence) != len(turns):
        evidence = [{}] * len(turns)
    return [{"pages": [int(p) for p in e.get("pages") or []], "evidence": e.get("evidence") or ""} for e in evidence]


def to_sample(doc: Document, resize_max_side: int | None = None) -> dict[str, bytes | str]:
    """The tar members of one record."""
    meta = dict(doc.metadata)
    images, members = [], {}
    with_bytes = [m for m in doc.media if m.media_bytes]
    for i, media in enumerate(doc.media):
        info = {"url": media.url or None, "alt": media.alt, **media.metadata}
        if media.media_bytes:
            data, fmt = media.media_bytes, media.metadata.get("format")
            if resize_max_side:
                data, new_fmt = resize_image(data, resize_max_side)
                fmt = new_fmt or fmt
            ext = image_extension(fmt)
            member = ext if len(with_bytes) == 1 else f"{i}.{ext}"
            members[member] = data
            info["member"] = member
        images.append(info)
    record = {
        "id": doc.id,
        "kind": meta.pop("kind", None),
        "source": meta.pop("source", None),
        "text": doc.text,
        "scores": meta.pop("scores", {}),
        "images": images,
    }
    qa = meta.pop("qa", None)
    texts = meta.pop("texts", None)
    if qa is not None:
        record["texts"] = qa  # Docmatix / The Cauldron: [{"user", "assistant", "source"}]
        record["qa_evidence"] = qa_evidence({"qa": qa, "qa_evidence": meta.pop("qa_evidence", None)})
    elif record["kind"] == INTERLEAVED:
        record["texts"] = texts  # OBELICS: aligned with `images`, None where an image sits
    # a list that is usually empty would be typed from empty lists: keep warnings as one string
    meta["warnings"] = "; ".join(meta.get("warnings") or [])
    record["metadata"] = meta
    record = _stable_types(record)
    sample = {"__key__": sample_key(doc.id), "json": json.dumps(record, ensure_ascii=False).encode()}
    sample.update(members)
    # always present, even empty: `datasets` infers one schema for all samples of a shard set
    sample["txt"] = doc.text.encode()
    return sample


class SampleTarWriter:
    """Samples (`__key__` and member suffix -> bytes) into one tar file (a path, or a binary stream left
    open for its owner) as webdataset reads them: members `KEY.SUFFIX` in suffix order, read-only, mtime 0. Not
    webdataset's TarWriter: `import webdataset` imports torch, 4 s of a stage that only writes tar members."""

    def __init__(self, target: str | BinaryIO):
        self._own = isinstance(target, str)
        self._file = open(target, "wb") if self._own else target
        self._tar = tarfile.open(fileobj=self._file, mode="w|")

    def write(self, sample: dict) -> None:
        key = sample["__key__"]
        for suffix in sorted(k for k in sample if not k.startswith("_")):
            data = sample[suffix]
            member = tarfile.TarInfo(f"{key}.{suffix}")
            member.size, member.mode, member.mtime = len(data), 0o444, 0
            self._tar.addfile(member, io.BytesIO(data))

    def close(self) -> None:
        self._tar.close()
        if self._own:
            self._file.close()


class DuplicateKeys(ValueError):
    """Two tasks of the shards stage wrote the same sample key."""


class WebDatasetWriter(ErrorSinkMixin, RollingWriter):
    """Writes records to WebDataset tar shards of at most `max_bytes` and `max_samples` each.

    A reader never sees a partial shard, and the task's shard list goes to `manifests/{rank}.json`
    (curate/output/rolling.py); its sample keys, sorted, to `manifests/{rank}.keys`.
    """

    name = "📦 WebDataset shards"
    type = "💽 - WRITER"
    ext = "tar"

    def __init__(
        self,
        output_folder: str | Path,
        max_bytes: int = MAX_BYTES,
        max_samples: int = MAX_SAMPLES,
        prefix: str = "shard",
        resize_max_side: int | None = None,
        error_writer: DiskWriter | None = None,
    ):
        super().__init__(output_folder, max_bytes, max_samples)
        self.prefix = prefix
        self.resize_max_side = resize_max_side
        self.error_writer = error_writer

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        files = self.task_files(rank)
        files.clear_previous_attempt(self.prefix, parts=("json", "keys"))
        written: dict[str, str] = {}  # key -> the record (id and source) written under it
        with self._error_context():
            for doc in data or []:
                key, origin = sample_key(doc.id), f"{doc.id} ({doc.metadata.get('source') or '?'})"
                if key in written:
                    reason = f"duplicate sample key {key}: {origin} and {written[key]}; the first is kept"
                    self.send_to_errors(doc, reason, "duplicate_key", rank)
                    continue
                written[key] = origin
                with self.track_time():
                    sample = to_sample(doc, self.resize_max_side)
                    sample_bytes = sum(len(v) for k, v in sample.items() if k != "__key__")
                    files.file_for(self.prefix, sample_bytes, tar_writer).write(sample, sample_bytes)
                self.stat_update("total")
                self.stat_update("bytes", value=sample_bytes)
                yield doc  # passed on, so another writer (e.g. Parquet) can follow in the same pipeline
        # sorted, so the driver checks keys across tasks by merging files, in bounded memory
        files.write_part("keys", "".join(f"{key}\t{json.dumps(written[key])}\n" for key in sorted(written)))
        files.close()


def duplicate_keys(shard_folder: str | Path, limit: int = 5) -> list[str]:
    """Keys written by more than one task of a shard folder (each with both records), at most `limit`."""
    manifests = location(shard_folder) / "manifests"
    parts = sorted(manifests.glob("*.keys"), key=lambda p: p.name) if manifests.exists() else []
    files = [p.open("r", encoding="utf-8") for p in parts]
    found: list[str] = []
    try:
        previous_key = previous_origin = None
        for line in heapq.merge(*files):
            key, _, origin = line.rstrip("\n").partition("\t")
            if key == previous_key:
                found.append(f"{key}: {json.loads(previous_origin)} and {json.loads(origin)}")
                if len(found) >= limit:
                    break
            previous_key, previous_origin = key, origin
    finally:
        for f in files:
            f.close()
    return found


def merge_manifests(shard_folder: str | Path, extra: dict | None = None) -> dict:
    """Combine the tasks' shard lists into `manifest.json` (written atomically); raise DuplicateKeys
    if two tasks wrote the same sample key (the shard set would hold two samples under one key)."""
    folder = location(shard_folder)
    duplicates = duplicate_keys(folder)
    if duplicates:
        raise DuplicateKeys(
            f"{folder}: sample keys written by two tasks (each record of the run needs its own key): "
            + "; ".join(duplicates)
        )
    shards = task_files(folder)
    merged = folder / "manifests" / "merged.json"  # partial shards rewritten by curate.output.compact
    if merged.exists():
        compaction = json.loads(merged.read_text())
        replaced = {s["name"] for s in compaction["sources"]}
        shards = [s for s in shards if s["name"] not in replaced] + compaction["shards"]
    manifest = {
        "format": "webdataset",
        "shards": shards,
        "total_samples": sum(s["samples"] for s in shards),
        "total_bytes": sum(s["bytes"] for s in shards),
        **(extra or {}),
    }
    write_text_atomic(folder / MANIFEST, json.dumps(manifest, indent=2))
    return manifest


def shard_paths(output: str | Path) -> list[str]:
    """The shards of a run (or of a shard folder), in manifest order: local paths or fsspec URLs."""
    folder = location(output)
    if (folder / "shards" / MANIFEST).exists():
        folder = folder / "shards"
    manifest = folder / MANIFEST
    if manifest.exists():
        return [str(folder / s["name"]) for s in json.loads(manifest.read_text())["shards"]]
    return sorted(str(p) for p in folder.glob("*.tar"))
