"""The pages stage reading the same PDFs from a folder, a WebDataset tar shard and a Parquet file.

Prints pages/s of the page reader (render + text layer, no OCR) per input form and the ratio to the
folder measured in the same run, and the bytes/s of unpacking alone (no rendering). Goal: containers
cost nothing next to rendering (ratio ~1.0).
"""

from __future__ import annotations

import io
import tarfile
import tempfile
import time
from pathlib import Path

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "pdf" / "born_digital"


def _forms(root: Path) -> dict[str, Path]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    pdfs = {p.stem: p.read_bytes() for p in sorted(SHARED.glob("*.pdf"))}
    folder, shards, table = root / "folder", root / "tar", root / "parquet"
    for d in (folder, shards, table):
        d.mkdir()
    for key, data in pdfs.items():
        (folder / f"{key}.pdf").write_bytes(data)
    with tarfile.open(shards / "shard-0000.tar", "w") as tar:
        for key, data in pdfs.items():
            for name, blob in ((f"{key}.json", b'{"source": "bench"}'), (f"{key}.pdf", data)):
                info = tarfile.TarInfo(name)
                info.size = len(blob)
                tar.addfile(info, io.BytesIO(blob))
    rows = [{"key": k, "pdf": v} for k, v in pdfs.items()]
    pq.write_table(pa.Table.from_pylist(rows), table / "docs.parquet", row_group_size=4)
    return {"folder": folder, "tar": shards, "parquet": table}


def _pages_per_second(path: Path) -> tuple[float, int]:
    from curate.pdf.reader import PdfPageReader

    best, pages = 0.0, 0
    for _ in range(2):
        started = time.perf_counter()
        pages = sum(1 for _ in PdfPageReader(str(path), ocr=False, max_pages=2).run())
        best = max(best, pages / (time.perf_counter() - started))
    return best, pages


def _unpack_bytes_per_second(path: Path) -> float:
    from datatrove.io import get_datafolder

    from curate.pdf.sources import iter_pdf_inputs

    folder = get_datafolder(str(path))
    started = time.perf_counter()
    total = sum(len(item.data or b"") for f in folder.list_files() for item in iter_pdf_inputs(folder, f))
    return total / (time.perf_counter() - started)


def main() -> None:
    if not SHARED.is_dir():
        print(f"skipped: {SHARED} not found")
        return
    from loguru import logger

    logger.disable("curate")  # the page-limit warnings of every pass bury the figures
    with tempfile.TemporaryDirectory() as tmp:
        forms = _forms(Path(tmp))
        baseline = None
        for name, path in forms.items():
            rate, pages = _pages_per_second(path)
            baseline = baseline or rate
            unpack = _unpack_bytes_per_second(path) / 1e6
            print(
                f"{name:<8} {pages} pages  {rate:6.1f} pages/s  ({rate / baseline:.2f}x folder)  "
                f"unpacking alone {unpack:,.0f} MB/s"
            )


if __name__ == "__main__":
    main()
