"""Where the pages stage finds PDFs: PDF files, WebDataset tar shards of PDFs, and tables of PDF bytes.

- a `.pdf` file;
- a tar shard (`.tar`, `.tar.gz`, `.tgz`) in WebDataset layout, as PDFA (`pixparse/pdfa-eng-wds`, the
  source of Docmatix) is distributed: members `KEY.pdf` with `KEY.json` metadata beside them;
- a table with a column of PDF bytes: Parquet, or the Arrow files of a `datasets` dataset saved with
  `save_to_disk` (a `datasets.Pdf` column is stored as `{bytes, path}` and read the same way).

Everything is read through the input's fsspec `DataFolder`, so local folders and `s3://` or
`hf://datasets/...` URLs work alike. Tar shards are streamed (one sample in memory at a time); tables
are read a few rows at a time.
"""

from __future__ import annotations

import json
import os
import re
import tarfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field

PDF_SUFFIXES = (".pdf",)
TAR_SUFFIXES = (".tar", ".tar.gz", ".tgz")
TABLE_SUFFIXES = (".parquet", ".arrow")
INPUT_SUFFIXES = PDF_SUFFIXES + TAR_SUFFIXES + TABLE_SUFFIXES
# the column of PDF bytes when none is named (`--set pdf_column=`), tried in this order
PDF_COLUMNS = ("pdf", "pdf_bytes", "content", "bytes", "data", "file")
# a column naming the row, used in its record id (`table.parquet/KEY`); else the row number
KEY_COLUMNS = ("__key__", "key", "id", "doc_id", "name", "filename", "file_name", "path", "url")
TABLE_ROWS_PER_BATCH = 8  # PDFs can be tens of MB each: read a table a few rows at a time
MAX_METADATA_CHARS = 2_000  # a table's other string columns are kept as metadata up to this size

# WebDataset's sample key: directory + file name up to its first dot; the rest is the member's extension
_KEY_EXT = re.compile(r"^((?:.*/|)[^./]+)\.([^/]*)$")


@dataclass
class PdfInput:
    """One PDF to read, or the reason it (or its whole container) could not be read."""

    record_id: str  # relative to the input folder: `a.pdf`, `shard.tar/KEY.pdf`, `t.parquet/KEY`
    source: str  # where it is: path or URL, with `/member` for a shard member or table row
    data: bytes | None = None
    metadata: dict = field(default_factory=dict)  # the sample's KEY.json, or the row's other columns
    error: str | None = None
    kind: str = ""  # short name of the error, for the funnel


def display_path(path: str) -> str:
    """A local path normalised; a URL (`s3://...`) unchanged (normpath would turn `//` into `/`)."""
    return path if "://" in path else os.path.normpath(path)


def is_pdf_input(path: str) -> bool:
    name = path.lower()
    return name.endswith(INPUT_SUFFIXES) and not os.path.basename(name).startswith(".")


def iter_pdf_inputs(folder, filepath: str, pdf_column: str | None = None) -> Iterator[PdfInput]:
    """The PDFs in one input file of `folder` (a datatrove DataFolder), in file order."""
    source = display_path(folder.resolve_paths(filepath))
    record_id = filepath.lstrip("/")
    name = filepath.lower()
    if name.endswith(TAR_SUFFIXES):
        yield from _tar_inputs(folder, filepath, record_id, source)
    elif name.endswith(TABLE_SUFFIXES):
        yield from _table_inputs(folder, filepath, record_id, source, pdf_column)
    else:
        try:
            with folder.open(filepath, "rb") as f:
                data = f.read()
        except OSError as exc:
            yield PdfInput(record_id, source, error=f"cannot read the file: {exc}", kind="unreadable_file")
            return
        yield PdfInput(record_id, source, data)


def _tar_inputs(folder, filepath: str, record_id: str, source: str) -> Iterator[PdfInput]:
    """A WebDataset shard: members grouped by key; each `KEY.pdf` with its `KEY.json` (either order)."""
    key, members = None, {}
    try:
        with folder.open(filepath, "rb") as f, tarfile.open(fileobj=f, mode="r|*") as tar:
            for member in tar:
                match = _KEY_EXT.match(member.name) if member.isfile() else None
                if not match:
                    continue
                if match.group(1) != key:
                    yield from _tar_sample(key, members, record_id, source)
                    key, members = match.group(1), {}
                ext = match.group(2).lower()
                if ext in ("pdf", "json"):  # other members (renders, OCR files) are skipped unread
                    members[ext] = (member.name, tar.extractfile(member).read())
    except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
        yield from _tar_sample(key, members, record_id, source)
        yield PdfInput(
            record_id,
            source,
            error=f"unreadable tar shard: {type(exc).__name__}: {exc}",
            kind="unreadable_shard",
        )
        return
    yield from _tar_sample(key, members, record_id, source)


def _tar_sample(key: str | None, members: dict, record_id: str, source: str) -> Iterator[PdfInput]:
    if key is None or "pdf" not in members:
        return  # a sample without a PDF (e.g. a shard's index) is not an input
    member_name, data = members["pdf"]
    metadata = {}
    if "json" in members:
        try:
            metadata = json.loads(members["json"][1])
        except ValueError as exc:
            metadata = {"metadata_error": f"{members['json'][0]}: not valid JSON ({exc})"}
        if not isinstance(metadata, dict):
            metadata = {"value": metadata}
    yield PdfInput(f"{record_id}/{member_name}", f"{source}/{member_name}", data, metadata)


def _pdf_value(value) -> bytes | None:
    """The PDF bytes of a table cell: binary, or a `{bytes, path}` struct (`datasets` Pdf/Image style)."""
    if isinstance(value, dict):
        value = value.get("bytes")
    return bytes(value) if isinstance(value, bytes | bytearray | memoryview) else None


def _pick_pdf_column(schema, wanted: str | None) -> str:
    import pyarrow as pa

    def holds_bytes(arrow_type) -> bool:
        if pa.types.is_binary(arrow_type) or pa.types.is_large_binary(arrow_type):
            return True
        return pa.types.is_struct(arrow_type) and any(
            f.name == "bytes" and holds_bytes(f.type) for f in arrow_type
        )

    names = schema.names
    if wanted:
        if wanted not in names:
            raise ValueError(f"no column {wanted!r} (columns: {', '.join(names)})")
        return wanted
    binary = [n for n in names if holds_bytes(schema.field(n).type)]
    for candidate in PDF_COLUMNS:
        if candidate in binary:
            return candidate
    if len(binary) == 1:
        return binary[0]
    raise ValueError(
        f"no column of PDF bytes found (columns: {', '.join(names)}); name it with --set pdf_column=NAME"
    )


def _open_table(f, filepath: str):
    """(schema, batches) of a Parquet file or a `datasets` Arrow file (IPC stream, or file format)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    if filepath.lower().endswith(".parquet"):
        table = pq.ParquetFile(f)
        return table.schema_arrow, lambda columns: table.iter_batches(TABLE_ROWS_PER_BATCH, columns=columns)
    try:
        reader = pa.ipc.open_stream(f)
    except pa.ArrowInvalid:
        f.seek(0)
        reader = pa.ipc.open_file(f)
        return reader.schema, lambda columns: (
            reader.get_batch(i).select(columns) for i in range(reader.num_record_batches)
        )
    return reader.schema, lambda columns: (batch.select(columns) for batch in reader)


def _table_inputs(
    folder, filepath: str, record_id: str, source: str, pdf_column: str | None
) -> Iterator[PdfInput]:
    import pyarrow as pa

    try:
        with folder.open(filepath, "rb") as f:
            schema, batches = _open_table(f, filepath)
            column = _pick_pdf_column(schema, pdf_column)
            key_column = next((k for k in KEY_COLUMNS if k in schema.names and k != column), None)
            row = 0
            for batch in batches(schema.names):
                for values in batch.to_pylist():
                    key = values.get(key_column) if key_column else None
                    name = str(key) if key not in (None, "") else str(row)
                    metadata = {"row": row} | {
                        k: v for k, v in values.items() if k != column and _small_metadata(v)
                    }
                    data = _pdf_value(values[column])
                    if data is None:
                        reason = "PdfError: no PDF bytes in this row"
                        if isinstance(values[column], dict) and values[column].get("path"):
                            reason += f" (only a path: {values[column]['path']})"
                        yield PdfInput(
                            f"{record_id}/{name}", f"{source}/{name}", None, metadata, reason, "no_pdf_bytes"
                        )
                    else:
                        yield PdfInput(f"{record_id}/{name}", f"{source}/{name}", data, metadata)
                    row += 1
    except (ValueError, OSError, pa.ArrowException) as exc:
        yield PdfInput(record_id, source, error=f"unreadable table: {describe(exc)}", kind="unreadable_table")


def _small_metadata(value) -> bool:
    if isinstance(value, str):
        return len(value) <= MAX_METADATA_CHARS
    return isinstance(value, int | float | bool) or value is None


def describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:400]
