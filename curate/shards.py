"""WebDataset output: records -> tar shards of a target size, written atomically, plus a manifest.

A sample is `KEY.json` (text, metadata, scores, QA turns or the interleaved order), its image(s)
`KEY.png|jpg|webp` (`KEY.0.png`, `KEY.1.jpg`, ... when there are several) and `KEY.txt` (its text,
possibly empty). Shard names are `{prefix}-{rank:05d}-{n:05d}.tar`: a task that restarts deletes its own
earlier shards and writes them again, so a crash and a rerun never lose or duplicate a sample.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
from pathlib import Path

from datatrove.data import Document, DocumentsPipeline
from datatrove.pipeline.base import PipelineStep

from curate.record import INTERLEAVED, sample_key

MANIFEST = "manifest.json"
_EXTENSIONS = {"jpeg": "jpg", "jpg": "jpg", "png": "png", "webp": "webp", "gif": "gif", "tiff": "tif"}


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


class WebDatasetWriter(PipelineStep):
    """Writes records to WebDataset tar shards of at most `max_bytes` and `max_samples` each.

    Each shard is written to `NAME.tar.tmp` and renamed to `NAME.tar` when complete; the task's
    shard list, with sample counts, sizes and sha256, goes to `manifests/{rank}.json` at the end.
    """

    name = "📦 WebDataset shards"
    type = "💽 - WRITER"

    def __init__(
        self,
        output_folder: str | Path,
        max_bytes: int = 1 << 30,
        max_samples: int = 10_000,
        prefix: str = "shard",
        resize_max_side: int | None = None,
    ):
        super().__init__()
        self.output_folder = Path(output_folder)
        self.max_bytes, self.max_samples = max_bytes, max_samples
        self.prefix = prefix
        self.resize_max_side = resize_max_side

    def _clear_previous_attempt(self, rank: int) -> None:
        for stale in self.output_folder.glob(f"{self.prefix}-{rank:05d}-*.tar*"):
            stale.unlink()
        (self.output_folder / "manifests" / f"{rank:05d}.json").unlink(missing_ok=True)

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        import webdataset as wds

        self.output_folder.mkdir(parents=True, exist_ok=True)
        self._clear_previous_attempt(rank)
        shards: list[dict] = []
        writer = tmp_path = None
        count = size = 0

        def close_shard():
            writer.close()
            final = tmp_path.with_suffix("")  # drop ".tmp"
            os.replace(tmp_path, final)
            with open(final, "rb") as f:
                digest = hashlib.file_digest(f, "sha256").hexdigest()
            shards.append(
                {"name": final.name, "samples": count, "bytes": final.stat().st_size, "sha256": digest}
            )

        for doc in data or []:
            with self.track_time():
                sample = to_sample(doc, self.resize_max_side)
                sample_bytes = sum(len(v) for k, v in sample.items() if k != "__key__")
                if writer is not None and (count >= self.max_samples or size + sample_bytes > self.max_bytes):
                    close_shard()
                    writer = None
                if writer is None:
                    tmp_path = self.output_folder / f"{self.prefix}-{rank:05d}-{len(shards):05d}.tar.tmp"
                    writer = wds.TarWriter(str(tmp_path), encoder=False, mtime=0)
                    count = size = 0
                writer.write(sample)
                count += 1
                size += sample_bytes
            self.stat_update("total")
            self.stat_update("bytes", value=sample_bytes)
            yield doc  # passed on, so another writer (e.g. Parquet) can follow in the same pipeline
        if writer is not None:
            close_shard()
        manifest_part = self.output_folder / "manifests" / f"{rank:05d}.json"
        manifest_part.parent.mkdir(exist_ok=True)
        tmp = manifest_part.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(shards))
        os.replace(tmp, manifest_part)


def merge_manifests(shard_folder: str | Path, extra: dict | None = None) -> dict:
    """Combine the tasks' shard lists into `manifest.json` (written atomically)."""
    folder = Path(shard_folder)
    shards = []
    for part in sorted((folder / "manifests").glob("*.json")):
        shards.extend(json.loads(part.read_text()))
    manifest = {
        "format": "webdataset",
        "shards": shards,
        "total_samples": sum(s["samples"] for s in shards),
        "total_bytes": sum(s["bytes"] for s in shards),
        **(extra or {}),
    }
    tmp = folder / (MANIFEST + ".tmp")
    tmp.write_text(json.dumps(manifest, indent=2))
    os.replace(tmp, folder / MANIFEST)
    return manifest


def shard_paths(output: str | Path) -> list[str]:
    """The shards of a run (or of a shard folder), in manifest order."""
    folder = Path(output)
    if (folder / "shards" / MANIFEST).exists():
        folder = folder / "shards"
    manifest = folder / MANIFEST
    if manifest.exists():
        return [str(folder / s["name"]) for s in json.loads(manifest.read_text())["shards"]]
    return sorted(str(p) for p in folder.glob("*.tar"))
