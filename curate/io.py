"""Readers and writers of records between stages, on datatrove's Parquet and JSONL steps."""

from __future__ import annotations

import json
from typing import Any

from datatrove.data import Document
from datatrove.io import DataFolderLike
from datatrove.pipeline.readers import ParquetReader
from datatrove.pipeline.writers import JsonlWriter, ParquetWriter
from datatrove.pipeline.writers.disk_base import DiskWriter

import curate.dependencies  # noqa: F401 (datatrove's dependency check, made cheap, before any step)
from curate.location import open_parquet
from curate.record import MEDIA_FIELDS, parquet_schema, record_to_row, row_to_record
from curate.secrets import clean_text

# Records carry image bytes: buffer few rows so a writer holds tens of MB, not GBs.
ROWS_PER_BATCH = 64
# ... and at most this many bytes of them: 64 page PNGs are ~22 MB, held as Python bytes, an Arrow batch
# and its encoded pages at once; a run's memory then grew with its input until a task had 64 records
# (largest process 1.5x from 32 to 512 pages, benchmarks/bench_scale.py). Rows are written (and read)
# in batches of whichever limit is reached first. 2 MB (~6 page PNGs), not 8: reading a row group and
# writing a batch each held 3-5 times the batch in Arrow, Python and the allocators' free lists, so a
# record stage's pool worker held ~100 MB more at 512 pages than at 32 (~50 MB at 2 MB); the CPU-seconds
# of a docmatix run at 512 pages were the same at 8, 2 and 1 MB (docs/benchmarks.md, 2026-12-07).
BYTES_PER_BATCH = 2 << 20
# a record writer hands the memory Arrow freed back to the system after this many bytes written (8 batches)
RELEASE_BYTES = 16 << 20

# a work unit that is part of a Parquet file: `file::rg=START-END` (row groups START..END-1)
ROW_GROUPS = "::rg="


def split_unit(unit: str) -> tuple[str, range | None]:
    """(file, row groups or None for the whole file) of a work unit."""
    name, _, groups = unit.partition(ROW_GROUPS)
    if not groups:
        return name, None
    start, end = (int(v) for v in groups.split("-"))
    return name, range(start, end)


def _record_row(_self, doc: Document) -> dict:
    return record_to_row(doc)


def _raw_row(_self, row: dict, path: str, id_in_file: int) -> dict:
    return row


# the writer's stat: bytes of the files it closed (`n`: how many)
BYTES_WRITTEN = "bytes_written"


class _SizeAtClose(DiskWriter):
    """Counts each file's size when it is closed: ParquetWriter.close_file writes the footer, then calls
    this (next in the MRO) before the file itself closes. The driver's ledger compares that size with
    the listing instead of reading every file's footer back (curate/run/ledger.py; 2,000 tasks on an
    object store: 2,000 requests)."""

    def close_file(self, filename):
        handle = self.output_mg.get_open_files().get(filename)
        if handle is not None:
            self.stat_update(BYTES_WRITTEN, value=handle.tell(), unit="file")
        super().close_file(filename)


# pyarrow's per-column codecs; the paths are those of `parquet_schema` (Parquet's list layout)
_COLUMN_COMPRESSION = {
    "id": "zstd",
    "text": "zstd",
    "kind": "zstd",
    **{f"media.list.element.{f}": "zstd" for f in (*MEDIA_FIELDS, "metadata") if f != "media_bytes"},
    "media.list.element.media_bytes": "none",
    "metadata": "zstd",
}


class RecordWriter(ParquetWriter, _SizeAtClose):
    """Writes records losslessly (image bytes, order, metadata, scores) to `${rank}.parquet` files."""

    name = "💾 Records"

    def __init__(self, output_folder: DataFolderLike, output_filename: str = "${rank}.parquet"):
        super().__init__(
            output_folder,
            output_filename=output_filename,
            adapter=_record_row,
            batch_size=ROWS_PER_BATCH,
            schema=parquet_schema(),
            save_media_bytes=True,
            use_content_defined_chunking=False,
            # zstd, not datatrove's default snappy: on page PNGs it writes 5x faster and smaller
            compression="zstd",
        )
        # ... except the image bytes: PNG, JPEG and WebP are compressed already; zstd on a page's ~350 kB PNG
        # cost ~0.65 ms of CPU (a pages stage: ~1.5% of its CPU) for files 1% smaller
        self.compression = _COLUMN_COMPRESSION
        self._unreleased = 0  # bytes of rows written since Arrow's freed memory was last handed back

    def _write(self, document: dict, file_handler, filename: str):
        super()._write(document, file_handler, filename)  # writes the batch at ROWS_PER_BATCH rows
        if self.max_file_size > 0:
            filename = self._get_filename_with_file_id(filename)
        # the batch's size summed again at each row: at most ROWS_PER_BATCH rows, no count to keep in step
        if sum(map(_row_bytes, self._batches.get(filename, ()))) >= BYTES_PER_BATCH:
            self._write_batch(filename)

    def _write_batch(self, filename):
        self._unreleased += sum(map(_row_bytes, self._batches.get(filename, ())))
        super()._write_batch(filename)
        # Arrow's freed memory handed back every RELEASE_BYTES written, not every batch: each release made
        # the next batches fault their pages in again (a pages stage: Parquet writing 0.23 -> 0.44 ms a
        # page, ~75 page faults); the memory kept in between is bounded, not growing with the input
        if self._unreleased >= RELEASE_BYTES:
            release_arrow_memory()
            self._unreleased = 0

    def close_file(self, filename):
        super().close_file(filename)  # its last batch written
        release_arrow_memory()
        self._unreleased = 0


def release_arrow_memory() -> None:
    """Hand the memory Arrow's pool freed back to the system (after each batch read; a writer every RELEASE_BYTES).

    Arrow's default pool (mimalloc in pyarrow's wheels) kept the pages of batches long freed: a record
    stage's pool worker held ~45 MB more at 512 pages than at 32 with every batch already at
    BYTES_PER_BATCH (docmatix's checks stage 131 -> 188 MB, with this 143 MB). One call per batch of
    ~2 MB; the CPU-seconds per record did not move (docs/benchmarks.md, 2026-12-07)."""
    import pyarrow as pa

    pa.default_memory_pool().release_unused()


def _row_bytes(row: dict) -> int:
    """A record row's size, roughly: its text and its media bytes."""
    return len(row["text"] or "") + sum(len(m["media_bytes"] or b"") for m in row["media"])


class RecordReader(ParquetReader):
    """Reads records written by `RecordWriter`, including records without text (e.g. image-only pages).

    A work unit of the stage's plan (curate/run/plan.py) is a file or a range of its row groups
    (`NAME.parquet::rg=START-END`), so a stage's tasks need not follow its input's file count.
    """

    name = "📖 Records"
    splits_row_groups = True

    def __init__(self, data_folder: DataFolderLike, **kwargs):
        super().__init__(
            data_folder,
            adapter=_raw_row,
            batch_size=ROWS_PER_BATCH,
            glob_pattern="*.parquet",
            **kwargs,
        )

    def run(self, data=None, rank: int = 0, world_size: int = 1):
        # an upstream stage that kept nothing leaves an empty folder: that is zero records, not an error
        # (with a plan, an empty share is simply no line of the paths file)
        if not self.paths_file and not self.data_folder.list_files(
            glob_pattern=self.glob_pattern, recursive=self.recursive
        ):
            return
        yield from super().run(data, rank, world_size)

    skips_empty_paths = True

    def read_files_shard(self, shard: list[str]):
        # a task's share from the stage's plan has empty lines where it has fewer units than others
        return super().read_files_shard([unit for unit in shard if unit])

    def read_file(self, filepath: str):

        name, row_groups = split_unit(filepath)
        with open_parquet(self.data_folder, name) as parquet:
            # decoded in this thread: Arrow's pool threads each kept their own freed buffers (mimalloc),
            # ~70 MB more in a shards stage's process at 512 page records than without
            batches = parquet.iter_batches(
                batch_size=self._rows_per_batch(parquet), row_groups=row_groups, use_threads=False
            )
            for batch in batches:
                with self.track_time("batch"):
                    documents = [
                        self.get_document_from_dict(row, name, i) for i, row in enumerate(batch.to_pylist())
                    ]
                del batch
                release_arrow_memory()
                yield from documents

    def _rows_per_batch(self, parquet) -> int:
        """ROWS_PER_BATCH, fewer where the rows are large (about BYTES_PER_BATCH a batch, as written)."""
        meta = parquet.metadata
        if not meta.num_rows:
            return self.batch_size
        row_bytes = sum(meta.row_group(i).total_byte_size for i in range(meta.num_row_groups)) / meta.num_rows
        return max(1, min(self.batch_size, int(BYTES_PER_BATCH // max(row_bytes, 1))))

    def get_document_from_dict(self, data: dict, source_file: str, id_in_file: int) -> Document:
        # datatrove's readers skip rows without text; here every record counts, so none is skipped.
        return row_to_record(data)


class ErrorWriter(JsonlWriter):
    """The error sink of a stage: one JSON line per failed record or input, with its reason."""

    name = "🧯 Errors"

    def __init__(self, output_folder: DataFolderLike, output_filename: str = "${rank}.jsonl"):
        super().__init__(output_folder, output_filename=output_filename, compression=None, adapter=_error_row)


def _error_row(_self, doc: Document) -> dict:
    meta = {k: v for k, v in doc.metadata.items() if k not in ("error", "texts")}
    return _without_credentials({
        "id": doc.id,
        **doc.metadata.get("error", {}),
        "metadata": json.loads(json.dumps(meta, default=str)),
    })  # fmt: skip


def _without_credentials(value: Any) -> Any:
    """Every string of an error line with URL credentials masked (a reason, a file URL, an id)."""
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, dict):
        return {k: _without_credentials(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_without_credentials(v) for v in value]
    return value
