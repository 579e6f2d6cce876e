"""Hub-native output: samples as Parquet the way Docmatix, The Cauldron and OBELICS are published.

Beside the WebDataset shards (`--set formats=webdataset,parquet`), each sample becomes one row with an
`images` list column (each image `{bytes, path}`, the storage of `datasets.Image`, with the features in
the file's schema so `datasets.load_dataset("parquet", ...)` decodes them) and, by layout:

- `qa` (Docmatix, The Cauldron): `texts` = [{user, assistant, source}], one entry per QA turn;
- `interleaved` (OBELICS): `images` and `texts` aligned lists of one entry per item in document order,
  `texts` null where an image sits and `images` null where a text block sits;
- `captioned` (pairs, pages without QA): `images` (one) and `text`.

All rows also have `id`, `kind`, `source` and `metadata` (JSON text: scores, provenance). Files are
`OUT/parquet/{layout}-{rank:05d}-{n:05d}.parquet`, written as `.tmp` and renamed when complete, in row
groups of `row_group_rows` (the Hub's viewer reads a row group at a time), with a manifest like the
shards'. A task that restarts deletes its own earlier files first.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from datatrove.data import Document, DocumentsPipeline
from datatrove.pipeline.base import PipelineStep

from curate.record import INTERLEAVED, sample_key
from curate.shards import _stable_types, image_extension

MANIFEST = "manifest.json"
LAYOUTS = ("qa", "interleaved", "captioned")


def features(layout: str):
    """The `datasets.Features` of a layout."""
    import datasets

    sequence = getattr(datasets, "List", None) or datasets.Sequence
    string = datasets.Value("string")
    texts = {
        "qa": sequence({"user": string, "assistant": string, "source": string}),
        "interleaved": sequence(string),
        "captioned": None,
    }[layout]
    columns = {"id": string, "kind": string, "source": string, "images": sequence(datasets.Image())}
    if texts is None:
        columns["text"] = datasets.Value("large_string")
    else:
        columns["texts"] = texts
    columns["metadata"] = datasets.Value("large_string")
    return datasets.Features(columns)


def layout_of(doc: Document) -> str:
    if doc.metadata.get("qa") is not None:
        return "qa"
    if doc.metadata.get("kind") == INTERLEAVED and doc.metadata.get("texts") is not None:
        return "interleaved"
    return "captioned"


def to_row(doc: Document, layout: str) -> dict:
    """One Parquet row of a record in its layout."""
    key = sample_key(doc.id)
    images = [
        {"bytes": m.media_bytes, "path": f"{key}.{i}.{image_extension(m.metadata.get('format'))}"}
        for i, m in enumerate(doc.media)
        if m.media_bytes
    ]
    meta = {k: v for k, v in doc.metadata.items() if k not in ("kind", "source", "qa", "texts")}
    meta["images"] = [{"url": m.url or None, "alt": m.alt, **m.metadata} for m in doc.media]
    row = {
        "id": doc.id,
        "kind": doc.metadata.get("kind") or "",
        "source": str(doc.metadata.get("source") or ""),
        "metadata": json.dumps(_stable_types(meta), ensure_ascii=False, default=str),
    }
    if layout == "qa":
        row["images"] = images
        row["texts"] = [
            {k: t.get(k, "") for k in ("user", "assistant", "source")} for t in doc.metadata["qa"]
        ]
    elif layout == "interleaved":
        media = iter(doc.media)
        row["texts"], row["images"] = [], []
        for text in doc.metadata["texts"]:
            row["texts"].append(text)
            if text is None:
                m = next(media)
                ext = image_extension(m.metadata.get("format"))
                entry = {"bytes": m.media_bytes, "path": f"{key}.{len(row['images'])}.{ext}"}
                row["images"].append(entry if m.media_bytes else None)
            else:
                row["images"].append(None)
    else:
        row["images"] = images
        row["text"] = doc.text
    return row


class HubParquetWriter(PipelineStep):
    """Writes samples to Hub-native Parquet files (one file set per layout) and passes them on."""

    name = "🤗 Parquet samples"
    type = "💽 - WRITER"

    def __init__(
        self,
        output_folder: str | Path,
        max_bytes: int = 1 << 30,
        max_samples: int = 10_000,
        row_group_rows: int = 100,
    ):
        super().__init__()
        self.output_folder = Path(output_folder)
        self.max_bytes, self.max_samples, self.row_group_rows = max_bytes, max_samples, row_group_rows

    def _clear_previous_attempt(self, rank: int) -> None:
        for stale in self.output_folder.glob(f"*-{rank:05d}-*.parquet*"):
            stale.unlink()
        (self.output_folder / "manifests" / f"{rank:05d}.json").unlink(missing_ok=True)

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        self.output_folder.mkdir(parents=True, exist_ok=True)
        self._clear_previous_attempt(rank)
        files: list[dict] = []
        open_files: dict[str, _OpenFile] = {}
        for doc in data or []:
            with self.track_time():
                layout = layout_of(doc)
                row = to_row(doc, layout)
                size = sum(len(i["bytes"]) for i in row["images"] if i) + len(doc.text)
                current = open_files.get(layout)
                if current and (current.samples >= self.max_samples or current.bytes + size > self.max_bytes):
                    files.append(current.close())
                    current = None
                if current is None:
                    number = sum(1 for f in files if f["layout"] == layout)
                    path = self.output_folder / f"{layout}-{rank:05d}-{number:05d}.parquet"
                    current = open_files[layout] = _OpenFile(path, layout, self.row_group_rows)
                current.add(row, size)
            self.stat_update("total")
            yield doc
        files.extend(f.close() for f in open_files.values() if f.samples)
        part = self.output_folder / "manifests" / f"{rank:05d}.json"
        part.parent.mkdir(exist_ok=True)
        tmp = part.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(files))
        os.replace(tmp, part)


class _OpenFile:
    """A Parquet file being written as `NAME.tmp`, renamed to NAME on close."""

    def __init__(self, path: Path, layout: str, row_group_rows: int):
        import pyarrow.parquet as pq

        self.path, self.layout, self.row_group_rows = path, layout, row_group_rows
        self.tmp = path.with_name(path.name + ".tmp")
        self.features = features(layout)
        self.schema = self.features.arrow_schema  # carries the `datasets` features in its metadata
        self.writer = pq.ParquetWriter(self.tmp, self.schema, compression="zstd")
        self.rows: list[dict] = []
        self.samples = self.bytes = 0

    def add(self, row: dict, size: int) -> None:
        self.rows.append(row)
        self.samples += 1
        self.bytes += size
        if len(self.rows) >= self.row_group_rows:
            self.flush()

    def flush(self) -> None:
        import pyarrow as pa

        if self.rows:
            self.writer.write_table(pa.Table.from_pylist(self.rows, schema=self.schema))
            self.rows = []

    def close(self) -> dict:
        self.flush()
        self.writer.close()
        os.replace(self.tmp, self.path)
        with open(self.path, "rb") as f:
            digest = hashlib.file_digest(f, "sha256").hexdigest()
        return {"name": self.path.name, "layout": self.layout, "samples": self.samples,
                "bytes": self.path.stat().st_size, "sha256": digest}  # fmt: skip


def merge_parquet_manifests(folder: str | Path) -> dict:
    """Combine the tasks' file lists into `manifest.json`, with a data_files pattern per layout."""
    folder = Path(folder)
    files = []
    for part in sorted((folder / "manifests").glob("*.json")):
        files.extend(json.loads(part.read_text()))
    layouts = sorted({f["layout"] for f in files})
    manifest = {
        "format": "parquet",
        "files": files,
        "configs": {layout: f"{layout}-*.parquet" for layout in layouts},
        "total_samples": sum(f["samples"] for f in files),
        "total_bytes": sum(f["bytes"] for f in files),
    }
    tmp = folder / (MANIFEST + ".tmp")
    tmp.write_text(json.dumps(manifest, indent=2))
    os.replace(tmp, folder / MANIFEST)
    return manifest


def parquet_files(output: str | Path, layout: str | None = None) -> list[str]:
    """The Parquet files of a run (or of its parquet folder), optionally of one layout."""
    folder = Path(output)
    if (folder / "parquet").is_dir():
        folder = folder / "parquet"
    return sorted(str(p) for p in folder.glob(f"{layout or '*'}-*.parquet"))
