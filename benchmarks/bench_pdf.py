"""The pages stage vs plain loops doing the same work, with 1 and 2 processes, in the same run.

    python -m benchmarks pdf        (or `make bench`)

Born-digital pages: the stage with OCR off vs a plain PyMuPDF loop (text layer + render to PNG); beside it
the plain loop with the stage's PNG encoder (curate/pdf/page_image.py): what is left is the pipeline's own
overhead.
Scanned pages: the stage vs a plain render + `pytesseract.image_to_string` loop (OMP_THREAD_LIMIT=1).
Each variant runs in a fresh process, start-up and imports included, as a user's run pays them; the
plain 2-process run is a pool of 2 over the same files. Variants take turns for CURATE_BENCH_ROUNDS
rounds (default 3); each ratio is the median over rounds with its spread (benchmarks/measure.py).
Goals: ours with N workers >= 0.9x the plain N-process run's pages per CPU-second, N = 1, 2; for OCR also
>= 0.9x per worker in wall time. Beside them, one worker's marginal CPU a page between one copy of the set
and COPIES, where each side's fixed cost of a run cancels: whether a gap is per page or per run.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from benchmarks.measure import in_child, interleaved, ratios, spread, verdict

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("CURATE_SHARED_DATA", REPO.parent / "shared" / "data"))
COPIES = 3  # the born-digital set is ~35 pages; repeat it so each measurement lasts seconds
ROUNDS = int(os.environ.get("CURATE_BENCH_ROUNDS", "3"))
SCANS = ("linn.pdf", "ocr_test.pdf", "c02-22.pdf", "issue-203-decimalize.pdf")


def _input_folder(source: Path, copies: int, dest: Path, names: tuple[str, ...] = ()) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    files = [source / n for n in names] if names else sorted(source.glob("*.pdf"))
    for i in range(copies):
        for pdf in files:
            shutil.copy(pdf, dest / f"{i}_{pdf.name}")
    return dest


def _plain_file(path: str, ocr: bool, dpi: int = 150, render_max_side: int = 2940, png: str = "mupdf") -> int:
    """The same work without the pipeline, one PDF: text layer + render to PNG, or render + Tesseract.
    `png`: "mupdf" (`Pixmap.tobytes`, the raw library call) or "ours" (the stage's encoder)."""
    import pymupdf

    from curate.pdf.page_image import encode_page_image
    from curate.pdf.reader import render_scale

    pages = 0
    with pymupdf.open(path) as pdf:
        for page in pdf:
            if ocr:
                import pytesseract
                from PIL import Image

                pix = page.get_pixmap(dpi=300, colorspace=pymupdf.csGRAY)
                pytesseract.image_to_string(Image.frombytes("L", (pix.width, pix.height), pix.samples))
            else:
                side = render_max_side
                zoom = render_scale(page.rect.width, page.rect.height, dpi, side, side * side)
                pixmap = page.get_pixmap(matrix=pymupdf.Matrix(zoom, zoom), alpha=False)
                pixmap.tobytes("png") if png == "mupdf" else encode_page_image(pixmap, "png")
                page.get_text("text")
            pages += 1
    return pages


def plain(folder: str, processes: int, ocr: bool, png: str = "mupdf") -> int:
    """The plain loop over the folder's PDFs: in this process, or a pool of `processes`, one PDF a job."""
    from functools import partial

    os.environ["OMP_THREAD_LIMIT"] = "1"
    files = sorted((str(p) for p in Path(folder).glob("*.pdf")), key=lambda p: -os.path.getsize(p))
    work = partial(_plain_file, ocr=ocr, png=png)
    if processes == 1:
        return sum(map(work, files))
    from multiprocessing import get_context

    with get_context("fork").Pool(processes) as pool:
        return sum(pool.imap_unordered(work, files))


def ours(folder: str, workers: int, options: dict) -> dict:
    """The pages stage of the pdf-pages recipe, as `curate run pdf-pages --stage pages` runs it."""
    import time

    from curate.pipelines.pdf_pages import pages_stage

    from curate.recipe import StageContext
    from curate.run.executors import ExecutorConfig
    from curate.run.report import stage_funnel
    from curate.run.runner import run_stage

    with tempfile.TemporaryDirectory() as out:
        ctx = StageContext("pages", folder, Path(out), options)
        started = time.perf_counter()
        run_stage(pages_stage(), ctx, ExecutorConfig("local", workers=workers))
        return {"items": stage_funnel(ctx.stage_dir).kept, "stage_seconds": time.perf_counter() - started}


def png_size_ratio(folder: Path) -> str:
    """The stage's page PNGs against MuPDF's `Pixmap.tobytes("png")` of the same renders: their total size,
    and whether every one decodes to the same pixels."""
    import io

    import numpy as np
    import pymupdf
    from PIL import Image

    from curate.pdf.page_image import encode_page_image
    from curate.pdf.reader import render_scale

    ours = theirs = pages = same = 0
    for path in sorted(folder.glob("*.pdf")):
        with pymupdf.open(path) as pdf:
            for page in pdf:
                zoom = render_scale(page.rect.width, page.rect.height, 150, 2940, 2940 * 2940)
                pixmap = page.get_pixmap(matrix=pymupdf.Matrix(zoom, zoom), alpha=False)
                a, b = encode_page_image(pixmap, "png"), pixmap.tobytes("png")
                ours, theirs, pages = ours + len(a), theirs + len(b), pages + 1
                same += np.array_equal(*(np.asarray(Image.open(io.BytesIO(x))) for x in (a, b)))
    return f"{ours / max(theirs, 1):.4f} ({pages} pages, {same} decoding to the same pixels)"


def marginal_ms(small, big) -> float:
    """CPU milliseconds a page between two runs of different sizes: their fixed costs cancel."""
    return (big.cpu - small.cpu) / max(1, big.items - small.items) * 1000


def _report(title: str, runs: dict, pairs: list[tuple[str, str, str, float]]) -> None:
    print(title)
    for name, rs in runs.items():
        pages = {r.items for r in rs}
        print(
            f"  {name:<34} {spread([r.per_wall for r in rs], ' p/s', 1):<24} "
            f"{spread([r.per_cpu for r in rs], ' p/CPU-s', 1):<28} peak {max(r.peak_rss for r in rs) / 2**20:5.0f} MB"
            f"   pages {sorted(pages)}"
        )
    for ours_name, base_name, metric, goal in pairs:
        values = ratios(
            [getattr(r, metric) for r in runs[ours_name]], [getattr(r, metric) for r in runs[base_name]]
        )
        what = "pages/CPU-s" if metric == "per_cpu" else "pages/s"
        print(f"  {ours_name} / {base_name}, {what}: {spread(values)}   {verdict(values, goal)}")


def main() -> None:
    if not SHARED.is_dir():
        print(f"skipped: no test data at {SHARED}")
        return
    os.environ["OMP_THREAD_LIMIT"] = "1"
    with tempfile.TemporaryDirectory() as tmp:
        text = str(_input_folder(SHARED / "pdf" / "born_digital", COPIES, Path(tmp) / "text"))
        # one copy of the set beside the COPIES: the marginal cost of a page between the two sizes, where
        # each side's fixed cost of a run (imports, start-up) cancels
        once = str(_input_folder(SHARED / "pdf" / "born_digital", 1, Path(tmp) / "once"))
        scans = str(_input_folder(SHARED / "pdf" / "scanned", 1, Path(tmp) / "scans", SCANS))
        off = {"ocr": False}  # the plain loop does not OCR the one image-only page in the set
        runs = interleaved(
            {
                "plain, 1 process": lambda: in_child("benchmarks.bench_pdf:plain", text, 1, False),
                "ours, 1 worker": lambda: in_child("benchmarks.bench_pdf:ours", text, 1, off),
                "ours, 1 worker, no page limit": lambda: in_child(
                    "benchmarks.bench_pdf:ours", text, 1, {**off, "max_seconds_per_page": 0}
                ),
                "plain, 2 processes": lambda: in_child("benchmarks.bench_pdf:plain", text, 2, False),
                "ours, 2 workers": lambda: in_child("benchmarks.bench_pdf:ours", text, 2, off),
                "plain, 1 process, 1 copy": lambda: in_child("benchmarks.bench_pdf:plain", once, 1, False),
                # the pipeline's own overhead: the plain loop with the stage's PNG encoder
                "plain, 1 process, our PNG encoder": lambda: in_child(
                    "benchmarks.bench_pdf:plain", text, 1, False, "ours"
                ),
                "ours, 1 worker, 1 copy": lambda: in_child("benchmarks.bench_pdf:ours", once, 1, off),
            },
            ROUNDS,
        )
        _report(
            f"born-digital pages, text + render at 150 dpi (PNG), OCR off; {ROUNDS} rounds, median [spread]:",
            runs,
            [
                ("ours, 1 worker", "plain, 1 process", "per_cpu", 0.9),
                ("ours, 2 workers", "plain, 2 processes", "per_cpu", 0.9),
                ("ours, 1 worker", "plain, 1 process", "per_wall", 0.9),
                ("ours, 2 workers", "plain, 2 processes", "per_wall", 0.9),
                ("ours, 1 worker", "ours, 1 worker, no page limit", "per_cpu", 0.9),
                ("ours, 1 worker", "plain, 1 process, our PNG encoder", "per_cpu", 0.9),
            ],
        )
        born_digital = SHARED / "pdf" / "born_digital"
        print(f"  page PNG bytes, the stage's encoder / MuPDF's: {png_size_ratio(born_digital)}")
        scaling = ratios(
            [r.per_wall for r in runs["ours, 2 workers"]], [r.per_wall for r in runs["ours, 1 worker"]]
        )
        plain_scaling = ratios(
            [r.per_wall for r in runs["plain, 2 processes"]], [r.per_wall for r in runs["plain, 1 process"]]
        )
        print(f"  2 workers vs 1: ours {spread(scaling)}, plain {spread(plain_scaling)}")
        per_page = {
            side: [
                marginal_ms(small, big)
                for small, big in zip(runs[f"{name}, 1 copy"], runs[name], strict=True)
            ]
            for side, name in (("plain", "plain, 1 process"), ("ours", "ours, 1 worker"))
        }
        print(
            f"  marginal CPU a page, 1 copy -> {COPIES} copies (fixed costs cancel): plain "
            f"{spread(per_page['plain'], ' ms', 1)}, ours {spread(per_page['ours'], ' ms', 1)}; ours / plain per "
            f"page: {spread(ratios(per_page['plain'], per_page['ours']))}"
        )

        runs = interleaved(
            {
                "plain pytesseract, 1 process": lambda: in_child(
                    "benchmarks.bench_pdf:plain", scans, 1, True
                ),
                "ours, 1 worker": lambda: in_child("benchmarks.bench_pdf:ours", scans, 1, {}),
                "plain pytesseract, 2 processes": lambda: in_child(
                    "benchmarks.bench_pdf:plain", scans, 2, True
                ),
                "ours, 2 workers": lambda: in_child("benchmarks.bench_pdf:ours", scans, 2, {}),
            },
            ROUNDS,
        )
        _report(
            f"OCR, scanned pages ({', '.join(SCANS)}) at 300 dpi; ours also renders the page image and "
            "reads the layout; median [spread]:",
            runs,
            [
                ("ours, 1 worker", "plain pytesseract, 1 process", "per_wall", 0.9),
                ("ours, 2 workers", "plain pytesseract, 2 processes", "per_wall", 0.9),
                ("ours, 1 worker", "plain pytesseract, 1 process", "per_cpu", 0.9),
                ("ours, 2 workers", "plain pytesseract, 2 processes", "per_cpu", 0.9),
            ],
        )


if __name__ == "__main__":
    main()
