"""Hub-native output: samples as Parquet the way Docmatix, The Cauldron and OBELICS are published.

Beside the WebDataset shards (`--set formats=webdataset,parquet`), each sample becomes one row with an
`images` list column (each image `{bytes, path}`, the storage of `datasets.Image`, with the features in
the file's schema so `datasets.load_dataset("parquet", ...)` decodes them) and, by layout:

- `qa` (Docmatix, The Cauldron): `texts` = [{user, assistant, source}], one entry per QA turn, and
  `qa_evidence` aligned with it: [{pages, evidence}], the page line(s) each answer is read from;
- `interleaved` (OBELICS): `images` and `texts` aligned lists of one entry per item in document order,
  `texts` null where an image sits and `images` null where a text block sits;
- `captioned` (pairs, pages without QA): `images` (one) and `text`.

All rows also have `id`, `kind`, `source` and `metadata` (JSON text: scores, provenance). Files are
`OUT/parquet/{layout}-{rank:05d}-{n:05d}.parquet` in row groups of `row_group_rows` or `row_group_bytes`,
whichever is reached first (the Hub's viewer reads a row group at a time), rolled over, published whole and listed in a manifest as the shards are
(curate/output/rolling.py), in a local folder or at an fsspec URL.
"""

from __future__ import annotations

import json
from functools import partial
from pathlib import Path

from datatrove.data import Document, DocumentsPipeline

from curate.io import BYTES_PER_BATCH, release_arrow_memory
from curate.location import location, write_text_atomic
from curate.output.rolling import RollingWriter, task_files
from curate.output.shards import _stable_types, image_extension, qa_evidence
from curate.record import INTERLEAVED, sample_key

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
    if layout == "qa":
        columns["qa_evidence"] = sequence({"pages": sequence(datasets.Value("int32")), "evidence": string})
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
    meta = {k: v for k, v in doc.metadata.items() if k not in ("kind", "source", "qa", "texts", "qa_evidence")}
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
        row["qa_evidence"] = qa_evidence(doc.metadata)
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


class HubParquetWriter(RollingWriter):
    """Writes samples to Hub-native Parquet files (one file set per layout) and passes them on; files
    roll over, are published whole and listed in `manifests/{rank}.json` as the shards are
    (curate/output/rolling.py), in a local folder or at an fsspec URL."""

    name = "🤗 Parquet samples"
    type = "💽 - WRITER"
    ext = "parquet"
    row_group_rows = 100  # rows the Hub's viewer reads at a time
    # ... and their images' and texts' bytes at most: 100 docmatix documents are ~25 MB of page PNGs, held
    # as Python rows, an Arrow table and encoded pages at once (the shards stage's process 220 -> 404 MB
    # from 24 to 348 documents); the records between stages are batched the same way (curate/io.py)
    row_group_bytes = BYTES_PER_BATCH

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        files = self.task_files(rank)
        files.clear_previous_attempt()  # every layout's files
        for doc in data or []:
            with self.track_time():
                layout = layout_of(doc)
                row = to_row(doc, layout)
                size = sum(len(i["bytes"]) for i in row["images"] if i) + len(doc.text)
                rows_writer = partial(
                    _RowsWriter,
                    layout=layout,
                    row_group_rows=self.row_group_rows,
                    row_group_bytes=self.row_group_bytes,
                )
                files.file_for(layout, size, rows_writer, layout=layout).write((row, size), size)
            self.stat_update("total")
            yield doc
        files.close()


class _RowsWriter:
    """Rows of one layout to a Parquet file, a row group at a time: `row_group_rows` rows or rows of
    `row_group_bytes`, whichever comes first."""

    def __init__(self, path: str, layout: str, row_group_rows: int, row_group_bytes: int):
        import pyarrow.parquet as pq

        self.row_group_rows, self.row_group_bytes = row_group_rows, row_group_bytes
        self.schema = features(layout).arrow_schema  # carries the `datasets` features in its metadata
        self.writer = pq.ParquetWriter(path, self.schema, compression="zstd")
        self.rows: list[dict] = []
        self.bytes = 0

    def write(self, item: tuple[dict, int]) -> None:
        """One (row, its images' and text's bytes)."""
        row, size = item
        self.rows.append(row)
        self.bytes += size
        if len(self.rows) >= self.row_group_rows or self.bytes >= self.row_group_bytes:
            self.flush()

    def flush(self) -> None:
        import pyarrow as pa

        if self.rows:
            self.writer.write_table(pa.Table.from_pylist(self.rows, schema=self.schema))
            self.rows, self.bytes = [], 0
            release_arrow_memory()

    def close(self) -> None:
        self.flush()
        self.writer.close()


def merge_parquet_manifests(folder: str | Path) -> dict:
    """Combine the tasks' file lists into `manifest.json`, with a data_files pattern per layout."""
    files = task_files(folder)
    layouts = sorted({f["layout"] for f in files})
    manifest = {
        "format": "parquet",
        "files": files,
        "configs": {layout: f"{layout}-*.parquet" for layout in layouts},
        "total_samples": sum(f["samples"] for f in files),
        "total_bytes": sum(f["bytes"] for f in files),
    }
    write_text_atomic(location(folder) / MANIFEST, json.dumps(manifest, indent=2))
    return manifest


def parquet_files(output: str | Path, layout: str | None = None) -> list[str]:
    """The Parquet files of a run (or of its parquet folder), optionally of one layout."""
    folder = location(output)
    if (folder / "parquet").is_dir():
        folder = folder / "parquet"
    return sorted(str(p) for p in folder.glob(f"{layout or '*'}-*.parquet"))
