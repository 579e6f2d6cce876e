"""Locations: a local folder or any fsspec URL (`s3://`, `gs://`, `hf://datasets/ORG/NAME/...`).

Records, shards, logs and completion markers go through datatrove's `DataFolder` (fsspec). The run's
own small files (run.json, funnel, stats, elapsed time, thresholds) are read and written through
`location(...)`: a `pathlib.Path` for a local folder and a `UPath` (fsspec's pathlib API) for a URL,
so `ctx.output / "funnel.json"` works the same on both and a URL never becomes a local folder
named `s3:`.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from datatrove.io import DataFolder, get_datafolder

from curate.errors import UserError


class LocationError(UserError, RuntimeError):
    """A location that cannot be used: no such input, no such bucket, or no credentials for it."""


def is_url(path: str | os.PathLike) -> bool:
    return "://" in str(path)


def location(path: str | os.PathLike) -> Path:
    """`Path` for a local path, `UPath` (same API, over fsspec) for a URL."""
    if isinstance(path, Path):
        return path
    if is_url(path):
        from upath import UPath

        return UPath(str(path))
    return Path(path)


def datafolder(path: str | os.PathLike) -> DataFolder:
    return get_datafolder(str(path))


def write_text_atomic(path: Path, text: str) -> None:
    """Readers never see half a file: a local file is written aside and renamed; an object store
    creates the object only when its single upload completes."""
    if is_url(path):
        path.write_text(text)
        return
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def write_bytes_atomic(path: Path, data: bytes) -> None:
    """`write_text_atomic` for bytes (local parent folders are created)."""
    if is_url(path):
        path.write_bytes(data)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def load_npy(path: Path):
    """`np.load` of a local file or an object (read whole: these arrays are per partition or task)."""
    import io

    import numpy as np

    return np.load(io.BytesIO(path.read_bytes()))


_CREDENTIAL_HINTS = {
    "s3": "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE; AWS_ENDPOINT_URL for an "
    "S3-compatible server)",
    "gs": "set GOOGLE_APPLICATION_CREDENTIALS",
    "gcs": "set GOOGLE_APPLICATION_CREDENTIALS",
    "hf": "set HF_TOKEN (or run `huggingface-cli login`)",
}


def _explain(path: str, exc: BaseException, what: str) -> LocationError:
    scheme = str(path).split("://", 1)[0] if is_url(path) else "file"
    name = type(exc).__name__
    text = f"{name}: {exc}"
    hint = _CREDENTIAL_HINTS.get(scheme, "check the URL and your credentials")
    if "credential" in text.lower() or name in ("PermissionError", "NoCredentialsError", "ClientError"):
        return LocationError(f"cannot access {what} {path}: no valid credentials ({text}); {hint}")
    if "bucket" in text.lower():
        return LocationError(f"cannot access {what} {path}: no such bucket ({text})")
    return LocationError(f"cannot access {what} {path} ({text}); {hint}")


def exists(path: str | os.PathLike, what: str = "location") -> bool:
    """Whether a file or folder (a prefix, on object stores) exists; a credential or network problem
    is a `LocationError` naming the location, never a raw traceback or a silent False."""
    try:
        return location(path).exists()
    except Exception as exc:
        raise _explain(str(path), exc, what) from exc


def check_output(path: str | os.PathLike) -> None:
    """An output URL's bucket must exist and be writable with the credentials at hand: checked before
    any work (never create a bucket implicitly)."""
    if not is_url(path):
        Path(path).mkdir(parents=True, exist_ok=True)
        return
    folder = datafolder(path)
    root = str(path).split("://", 1)[1].split("/", 1)[0]
    try:
        bucket_exists = folder.fs.exists(root)  # DataFolder wraps the store's filesystem in `fs`
    except Exception as exc:
        raise _explain(str(path), exc, "output") from exc
    if not bucket_exists:
        raise LocationError(f"cannot write output {path}: no such bucket {root!r} (create it first)")
    probe = ".curate-write-check"
    try:
        with folder.open(probe, "w") as f:
            f.write("ok")
        folder.rm(probe)
    except Exception as exc:
        raise _explain(str(path), exc, "output") from exc


class DamagedParquet(UserError):
    """A stage's Parquet file that cannot be read (truncated by a full disk or a killed copy)."""


@contextlib.contextmanager
def open_parquet(folder: DataFolder, name: str) -> Iterator:
    """`pyarrow.parquet.ParquetFile` of `folder/name`; a damaged file is a DamagedParquet naming it
    (pyarrow's ArrowInvalid says only "Parquet magic bytes not found" and which byte)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        # pre_buffer off: with it pyarrow reads every row group asked for in coalesced ranges of up to 32 MB,
        # i.e. a stage file whole, ahead of the batch being read (a worker held ~30 MB more at 16x input
        # than at 1x); without it one column chunk (a row group: <= BYTES_PER_BATCH, curate/io.py) at a time
        with folder.open(name, "rb") as f, pq.ParquetFile(f, pre_buffer=False) as parquet:
            yield parquet
    except (pa.ArrowInvalid, pa.ArrowIOError, EOFError) as exc:  # ArrowIOError: OSError, also a missing file
        if isinstance(exc, FileNotFoundError):
            raise
        raise _damaged(folder, name, " ".join(str(exc).split())[:200]) from None


# bytes read from the end of each file for its footer: a stage file's footer (a few row groups) fits;
# a bigger one costs that file a second read
FOOTER_READ = 64 * 1024


def parquet_footers(folder: DataFolder, sizes: dict[str, int], in_flight: int = 16) -> dict[str, Any]:
    """Each Parquet file's footer (`pyarrow.parquet.FileMetaData`) by name, given its size from a listing:
    one ranged read of its last bytes, up to `in_flight` at a time on an object store. Opening the
    files one after another cost 2 requests each in turn (2,000 files: ~10 s of a driver's time); 16 in
    flight hide a store's latency without swamping a small server. A damaged file is a DamagedParquet
    naming it, a missing one a FileNotFoundError."""
    footers: dict[str, Any] = {}
    ranges = {name: (max(0, size - FOOTER_READ), size) for name, size in sizes.items()}
    while ranges:
        tails = _read_ranges(folder, ranges, in_flight)
        again = {}
        for name, tail in tails.items():
            size = sizes[name]
            if isinstance(tail, FileNotFoundError):
                raise tail
            if isinstance(tail, Exception) or len(tail) < 8 or tail[-4:] != b"PAR1":
                raise _damaged(folder, name, "no Parquet footer at its end")
            length = int.from_bytes(tail[-8:-4], "little") + 8
            if length > size - 4:  # the footer cannot be longer than the file after its leading magic
                raise _damaged(folder, name, f"a footer of {length} bytes in {size}")
            if length > len(tail):
                again[name] = (size - length, size)
                continue
            footers[name] = _parse_footer(folder, name, tail[-length:])
        ranges = again
    return {name: footers[name] for name in sizes}  # in the listing's order


def _read_ranges(folder: DataFolder, ranges: dict[str, tuple[int, int]], in_flight: int) -> dict:
    names = [name for name, (start, end) in ranges.items() if end - start >= 12]
    out: dict[str, Any] = {name: b"" for name in ranges if name not in names}  # too short: damaged
    if names:
        batch = {"batch_size": in_flight} if getattr(folder.fs, "async_impl", False) else {}
        data = folder.cat_ranges(
            names,
            [ranges[name][0] for name in names],
            [ranges[name][1] for name in names],
            on_error="return",
            **batch,
        )
        out.update(zip(names, data, strict=True))
    return out


def _parse_footer(folder: DataFolder, name: str, footer: bytes):
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        return pq.read_metadata(pa.BufferReader(footer))
    except (pa.ArrowInvalid, pa.ArrowIOError, EOFError) as exc:
        raise _damaged(folder, name, " ".join(str(exc).split())[:200]) from None


def _damaged(folder: DataFolder, name: str, why: str) -> DamagedParquet:
    return DamagedParquet(
        f"{folder.resolve_paths(name)} is not a readable Parquet file ({why}): it was cut short or "
        "damaged. Delete that stage's folder to run the stage again (or restore the file)"
    )
