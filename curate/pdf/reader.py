"""PDF pages: one record per page with its rendered image and its text (text layer, or OCR).

Each PDF is opened with PyMuPDF. A page's text comes from its text layer, in reading order, unless
measured signals say the layer is missing, partial or garbage (`curate.pdf.page_text`); then Tesseract
OCRs the page rendered at `ocr_dpi` and the one of the two closer to the page is kept.
`metadata["text_source"]` says which, `metadata["ocr_reason"]` why OCR ran, and, on such pages,
`metadata["routing_signals"]` the measurements behind it and `metadata["other_text"]` the text not kept
(the HTML report shows them per reason). Broken, empty, encrypted and hostile PDFs become error records
naming the file and the reason, and the run goes on.
"""

from __future__ import annotations

import time
from contextlib import contextmanager

from datatrove.pipeline.writers.disk_base import DiskWriter
from loguru import logger

from curate.errors import PdfError, RecordError
from curate.names import escape_name, raw_name_metadata
from curate.options import Option
from curate.pdf.hidden_text import PageRender
from curate.pdf.ocr import ocr_pixels
from curate.pdf.page_image import PNG_LEVEL, encode_page_image
from curate.pdf.page_text import better_text, clean_ratio, layer_signals, ocr_reason, signals_summary
from curate.pdf.sources import PdfInput, is_pdf_input, iter_pdf_inputs
from curate.pdf.worker import PageError, PageTimeout, WorkerDied, current_worker, shared_worker
from curate.recipe import StageContext
from curate.record import error_record, image_media, pdf_page_record
from curate.steps import InputReader, describe_error
from curate.wiring import StepSpec, arg

# the text not kept, where OCR ran (the OCR, or the layer it replaced), is kept this long in metadata
MAX_OTHER_TEXT_CHARS = 20_000
# PDF 1.7 caps a page side at 14,400 units (200 inches); larger pages are hostile or broken.
MAX_PAGE_SIDE_PT = 14_400


def text_is_usable(text: str, min_chars: int = 20, min_clean_ratio: float = 0.75) -> bool:
    """A text layer is usable when it has some content and most of it is letters, digits and punctuation
    (not replacement characters or private-use glyphs from a broken font encoding)."""
    visible, clean = clean_ratio(text)
    return visible >= min_chars and clean >= min_clean_ratio


def render_scale(width_pt: float, height_pt: float, dpi: int, render_max_side: int, max_pixels: int) -> float:
    """Zoom factor for rendering at `dpi`, reduced so the longest side and the pixel count stay in bounds."""
    zoom = dpi / 72
    zoom = min(zoom, render_max_side / max(width_pt, height_pt, 1))
    if width_pt * height_pt * zoom * zoom > max_pixels:
        zoom = (max_pixels / (width_pt * height_pt)) ** 0.5
    return zoom


class PdfPageReader(InputReader):
    """Reads a folder of PDFs (or of tar shards / tables of PDFs) and yields one page record per page.

    Args:
        data_folder: folder (or file) of PDFs, local or any fsspec path
        dpi: rendering resolution of the page image (Docmatix: 150)
        render_max_side: longest side of the page image, in pixels (Docmatix: 2940)
        image_format: "png" (lossless, best for text) or "jpeg"
        png_level: deflate level of the page PNGs, 1-9: 6 (zlib's default, MuPDF's files) takes ~29 ms a
            page, 1 ~12 ms for files ~8% larger (the largest single cost of a born-digital page;
            curate/pdf/page_image.py)
        ocr: run Tesseract on pages whose text layer is missing, partial or garbage
        ocr_dpi: resolution of the image given to Tesseract
        max_pages: pages per PDF; later pages are counted as dropped (`page_limit`)
        long_pdfs: "first": a longer PDF gives its first `max_pages` pages; "skip": it gives none, all
            its pages counted as dropped (`too_many_pages`; Docmatix kept PDFs of at most 4 pages)
        max_seconds_per_pdf: time budget per PDF; pages left when it runs out are errors
        max_seconds_per_page: time limit of one page's render + text/OCR. Pages are made in a worker
            process (one per process, reused by its tasks) that is killed when a page passes it; the page is an error
            (`time_limit`) and the next page goes on in a new worker. 0: pages are made in this
            process, with no limit
        max_pixels: pixel budget of a rendered page
        max_image_pixels: largest embedded image a page may hold; beyond it the page is an error
            (decompression-bomb guard: 250 MP is 750 MB decoded)
        max_image_dpi: embedded images denser than this get a warning (real scans are 200-600 dpi)
        strict: make warnings (repaired file, inverted page box, oversized page, over-dense image)
            errors, so only clean PDFs yield pages
        error_writer: where broken PDFs and failed pages are recorded
        pdf_column: the column of PDF bytes in Parquet/Arrow inputs (default: found by name or type)

    Inputs are PDF files, WebDataset tar shards of PDFs and tables of PDF bytes (`curate.pdf.sources`);
    a PDF inside a shard or table has the id `shard.tar/KEY.pdf` (`table.parquet/KEY`) and carries its
    sample's metadata (the shard's `KEY.json`, the row's other columns) in `source_metadata`.
    """

    name = "📄 PDF pages"
    # imported by the methods, not the module: preloaded where pool workers are forked (curate.run.executors)
    preload_modules = ("pymupdf", "imagecodecs")

    def __init__(
        self,
        data_folder,
        dpi: int = 150,
        render_max_side: int = 2940,
        image_format: str = "png",
        png_level: int = PNG_LEVEL,
        ocr: bool = True,
        ocr_dpi: int = 300,
        ocr_lang: str = "eng",
        max_pages: int = 1000,
        max_seconds_per_pdf: float = 600,
        max_seconds_per_page: float = 120,
        max_pixels: int = 2940 * 2940,
        max_image_pixels: int = 250_000_000,
        max_image_dpi: int = 1200,
        strict: bool = False,
        long_pdfs: str = "first",
        error_writer: DiskWriter | None = None,
        pdf_column: str | None = None,
        glob_pattern: str | None = None,
        **reader_kwargs,
    ):
        super().__init__(data_folder, error_writer=error_writer, glob_pattern=glob_pattern, **reader_kwargs)
        self.pdf_column = pdf_column
        self.dpi, self.render_max_side, self.image_format = dpi, render_max_side, image_format
        self.png_level = png_level
        self.ocr, self.ocr_dpi, self.ocr_lang = ocr, ocr_dpi, ocr_lang
        self.max_pages, self.max_seconds_per_pdf = max_pages, max_seconds_per_pdf
        self.max_seconds_per_page = max_seconds_per_page
        self.max_pixels, self.max_image_pixels = max_pixels, max_image_pixels
        self.max_image_dpi, self.strict = max_image_dpi, strict
        if long_pdfs not in ("first", "skip"):
            raise ValueError(f"long_pdfs={long_pdfs!r}: use 'first' or 'skip'")
        self.long_pdfs = long_pdfs

    def read_file(self, filepath: str):
        if not is_pdf_input(filepath):
            return  # not an input (e.g. a README beside the PDFs)
        for item in iter_pdf_inputs(self.data_folder, filepath, self.pdf_column):
            for record in self._read_pdf(item):
                if item.metadata:
                    _add_source_metadata(record, item.metadata)
                yield record

    def _read_pdf(self, item: PdfInput):
        import pymupdf

        # ids are relative to the input folder, so keys do not change when the folder moves; names that
        # are not valid UTF-8 are escaped, the exact name kept in metadata (curate/names.py)
        source, record_id = escape_name(item.source), escape_name(item.record_id)
        raw = raw_name_metadata(item.record_id)
        try:
            pdf = self._open(item)
        except (PdfError, OSError) as exc:  # a file that cannot be read is data, not a bug
            self._fail(error_record(source, self.name, describe_error(exc), file=record_id, **raw), exc)
            return
        started = time.monotonic()
        with _emptied_store(), pdf:  # the store emptied once the PDF is closed
            pages = pdf.page_count
            if pages > self.max_pages and self.long_pdfs == "skip":
                self.stat_update("dropped", "dropped_too_many_pages", value=pages)
                self.stat_update("pdfs_too_many_pages")
                logger.info(f"{source}: {pages} pages, over max_pages={self.max_pages}: skipped")
                return
            if pages > self.max_pages:
                self.stat_update("dropped", "dropped_page_limit", value=pages - self.max_pages)
                logger.warning(f"{source}: {pages} pages, only the first max_pages={self.max_pages} are read")
            for index in range(min(pages, self.max_pages)):
                if time.monotonic() - started > self.max_seconds_per_pdf:
                    left = min(pages, self.max_pages) - index
                    reason = (
                        f"PdfError: time limit of {self.max_seconds_per_pdf}s reached; {left} pages not read"
                    )
                    for missed in range(index, min(pages, self.max_pages)):
                        self._fail(
                            error_record(source, self.name, reason, page=missed + 1, file=record_id, **raw)
                        )
                    return
                try:
                    budget = self.max_seconds_per_pdf - (time.monotonic() - started)
                    record = self._make_page(pdf, index, source, record_id, pages, budget, raw)
                    for problem in record.metadata["warnings"]:
                        self.send_warning(record, problem, self._rank)
                    yield record
                except (PageError, PageTimeout, WorkerDied) as exc:
                    reason = str(exc) if isinstance(exc, PageError) else f"{exc.kind}: {exc}"
                    record = error_record(source, self.name, reason, page=index + 1, file=record_id, **raw)
                    self._fail(record, exc)
                # MuPDF raises FzErrorBase (and RuntimeError/ValueError from its Python layer) on broken
                # page objects, Tesseract a TesseractError (a RuntimeError): this page's data is bad
                except (RecordError, RuntimeError, ValueError, pymupdf.mupdf.FzErrorBase) as exc:
                    record = error_record(
                        source, self.name, describe_error(exc), page=index + 1, file=record_id, **raw
                    )
                    self._fail(record, exc)

    def _make_page(
        self, pdf, index: int, source: str, record_id: str, page_count: int, budget: float, raw: dict
    ):
        """The page's record, made in the page worker under the per-page limit (see max_seconds_per_page);
        the PDF's remaining time budget shortens the limit."""
        if self.max_seconds_per_page <= 0:
            return self._page_record(pdf[index], source, record_id, index, page_count, raw)
        worker = current_worker()
        if worker is None or worker.job_token is not pdf:
            # set up for this reader once a PDF, not a page (its settings pickled and compared: ~0.05 ms)
            worker = shared_worker(self)
            last = min(page_count, self.max_pages)
            worker.open(pdf.stream, source, record_id, page_count, last, token=pdf, raw=raw)
        limit, name = self.max_seconds_per_page, "max_seconds_per_page"
        if budget < limit:
            limit, name = max(0.1, budget), "the time left of max_seconds_per_pdf"
        try:
            record, stats = worker.page(index, limit, name)
        except PageError as exc:
            self._merge_stats(exc.stats)
            raise
        self._merge_stats(stats)
        return record

    def _merge_stats(self, stats) -> None:
        """Counters the worker's copy of this reader kept for the page (e.g. ocr_pages)."""
        if stats:
            self.stats.stats = self.stats.stats + stats

    def _fail(self, record, exc: BaseException | None = None) -> None:
        kind = getattr(exc, "kind", type(exc).__name__) if exc else "time_limit"
        self.send_to_errors(record, record.metadata["error"]["reason"], kind, self._rank)

    def _open(self, item: PdfInput):
        import pymupdf

        if item.error:
            raise PdfError(item.kind, item.error)
        data = item.data
        if not data:
            raise PdfError("empty_file", "empty file (0 bytes)")
        try:
            pdf = pymupdf.open(stream=data, filetype="pdf")
        except (pymupdf.mupdf.FzErrorBase, RuntimeError, ValueError) as exc:
            raise PdfError("unreadable", f"not a readable PDF ({exc})") from exc
        if pdf.needs_pass:
            pdf.close()
            raise PdfError("encrypted", "encrypted: the PDF needs a password")
        if pdf.page_count == 0:
            pdf.close()
            raise PdfError("no_pages", "the PDF has no pages")
        return pdf

    def _page_problems(self, page) -> list[str]:
        """Why a page is suspicious. Raises PdfError for what cannot be processed safely."""
        import pymupdf

        width, height = page.rect.width, page.rect.height
        if max(width, height) > MAX_PAGE_SIDE_PT:
            raise PdfError(
                "page_too_large",
                f"page size {width:.0f}x{height:.0f} pt exceeds {MAX_PAGE_SIDE_PT} pt per side (PDF limit)",
            )
        problems = []
        if page.number == 0 and page.parent.is_repaired:
            problems.append("malformed: MuPDF repaired the file's structure")
        kind, box = page.parent.xref_get_key(page.xref, "MediaBox")
        if kind == "array":
            x0, y0, x1, y1 = (float(v) for v in box.strip("[]").split()[:4])
            if x1 <= x0 or y1 <= y0:
                problems.append(f"malformed: page MediaBox {box} is inverted; normalised")
        if max(width, height) * self.dpi / 72 > self.render_max_side:
            shown = self.render_max_side / (max(width, height) / 72)
            problems.append(
                f"oversized page {width / 72:.0f}x{height / 72:.0f} in: rendered at {shown:.0f} dpi, not {self.dpi}"
            )
        large = False
        for image in page.get_images(full=False):
            img_w, img_h = image[2], image[3]
            if img_w * img_h > self.max_image_pixels:
                raise PdfError(
                    "image_too_large",
                    f"embedded image of {img_w}x{img_h} px exceeds max_image_pixels={self.max_image_pixels:,}",
                )
            large = large or img_w * img_h > 4_000_000  # small images are harmless at any dpi
        # where the large ones are placed: one pass over the page's drawing (get_image_rects decodes each
        # image to match it by hash: 0.1-3.5 s a scanned page)
        for info in page.get_image_info() if large else ():
            img_w, img_h = info["width"], info["height"]
            rect = pymupdf.Rect(info["bbox"])
            dpi = img_w / max(rect.width / 72, 1e-6)
            if img_w * img_h > 4_000_000 and rect.width > 1 and dpi > self.max_image_dpi:
                problems.append(
                    f"embedded image of {img_w}x{img_h} px at {dpi:.0f} dpi (over {self.max_image_dpi})"
                )
        if problems and self.strict:
            raise PdfError("strict", "; ".join(problems))
        return problems

    def _page_text(self, page, render: PageRender | None = None) -> tuple[str, str, str | None, dict]:
        """(text, text_source, ocr_reason, audit): the text layer in reading order, or OCR where the
        layer is missing, partial or garbage (then the one of the two the page's ink confirms, see
        `better_text`). Where OCR was called for, `audit` holds the signals behind the decision and the
        text not kept (`other_text`), for the report's routing audit. Counted per source and reason in
        the stage stats. Text the page's `render` does not show is left out, counted in `audit`."""
        import pymupdf

        signals = layer_signals(page, render=render)
        text, reason = signals.text, ocr_reason(signals)
        layer_unusable = reason in ("no_text_layer", "unreadable_text_layer")
        text_source = "none" if layer_unusable else "text_layer"
        audit: dict = {"routing_signals": signals_summary(signals)} if reason else {}
        if signals.hidden_chars:
            audit["hidden_text_chars"] = signals.hidden_chars
            self.stat_update("pages_with_hidden_text")
        if reason and self.ocr:
            rect = page.rect
            ocr_zoom = render_scale(rect.width, rect.height, self.ocr_dpi, 10_000, 40_000_000)
            gray = page.get_pixmap(matrix=pymupdf.Matrix(ocr_zoom, ocr_zoom), colorspace=pymupdf.csGRAY)
            with self.track_time("ocr"):
                # the grey pixels as they are: no PNG encoded here and decoded again by Tesseract
                ocr_text = ocr_pixels(
                    gray.samples, gray.width, gray.height, ocr_zoom * 72, self.ocr_lang, stride=gray.stride
                )
            self.stat_update("ocr_pages")
            layer = text
            text, text_source = better_text("" if layer_unusable else layer, ocr_text)
            other = ocr_text if text_source == "text_layer" else layer
            audit["other_text"] = other.strip()[:MAX_OTHER_TEXT_CHARS]
        if not text.strip():
            text_source = "none"  # a blank page: no text from either
        self.stat_update(f"text_source_{text_source}")
        if reason:
            self.stat_update(f"ocr_reason_{reason}")
        return text, text_source, reason, audit

    def _page_record(self, page, source: str, record_id: str, index: int, page_count: int, raw: dict):
        import pymupdf

        problems = self._page_problems(page)
        width_pt, height_pt = page.rect.width, page.rect.height
        zoom = render_scale(width_pt, height_pt, self.dpi, self.render_max_side, self.max_pixels)
        pixmap = page.get_pixmap(matrix=pymupdf.Matrix(zoom, zoom), alpha=False)
        image_bytes = encode_page_image(pixmap, self.image_format, self.png_level)
        render = PageRender(pixmap, zoom, page.rotation_matrix)
        text, text_source, reason, audit = self._page_text(page, render)
        image = image_media(
            image_bytes,
            media_id=f"{record_id}#page={index + 1}",
            fmt="jpeg" if self.image_format == "jpeg" else "png",
            width=pixmap.width,
            height=pixmap.height,
            dpi=round(zoom * 72, 2),
        )
        return pdf_page_record(
            f"{record_id}#page={index + 1}",
            text.strip(),
            image,
            source=source,
            page=index + 1,
            page_count=page_count,
            text_source=text_source,
            ocr_reason=reason,
            **audit,
            page_size_pt=[round(width_pt, 2), round(height_pt, 2)],
            file=record_id,
            warnings=problems,
            **raw,
        )


@contextmanager
def _emptied_store():
    """MuPDF's store emptied when a PDF is done: it keeps the PDF's decoded fonts and images (up to
    256 MB), which no other PDF can use, so memory would grow with the pages read (~0.5 MB a page)."""
    import pymupdf

    try:
        yield
    finally:
        pymupdf.mupdf.fz_empty_store()


def _add_source_metadata(record, metadata: dict) -> None:
    """The sample's metadata on each of its pages. A PDFA-style `pages` list (per-page OCR lines and
    words) is split: each page record carries its own entry as `source_page`, not the whole list."""
    pages = metadata.get("pages")
    if isinstance(pages, list):
        page = record.metadata.get("page", 0)
        if 0 < page <= len(pages):
            record.metadata["source_page"] = pages[page - 1]
        metadata = {k: v for k, v in metadata.items() if k != "pages"}
    record.metadata["source_metadata"] = metadata


def _long_pdfs(kwargs: dict, ctx: StageContext) -> dict:
    """Docmatix's document samples skip longer PDFs; page samples take their first pages."""
    unit = ctx.options.get("sample_unit")
    long_pdfs = kwargs["long_pdfs"] or ("skip" if unit == "document" else "first")
    return {**kwargs, "data_folder": ctx.input, "long_pdfs": long_pdfs}


# PDF pages as recipes read them, with their options (defaults: PdfPageReader's)
PDF_PAGES = StepSpec(
    PdfPageReader,
    args=(
        arg(PdfPageReader, "dpi", type=int, minimum=1, help="page render resolution", source="Docmatix"),
        arg(PdfPageReader, "render_max_side", type=int, minimum=1, help="longest side of a rendered page image, px",
            source="Docmatix"),
        arg(PdfPageReader, "image_format", type=str, choices=("png", "jpeg"),
            help="page image format (png is lossless, best for text)"),
        arg(PdfPageReader, "png_level", type=int, minimum=1, maximum=9,
            help="deflate level of page PNGs: 6 as MuPDF writes them; 1 takes ~40% of its CPU for ~8% "
            "larger files"),
        arg(PdfPageReader, "ocr", type=bool, help="OCR (Tesseract) pages without a text layer"),
        arg(PdfPageReader, "max_pages", type=int, minimum=1, help="first pages of a PDF read"),
        ("long_pdfs", Option("long_pdfs", str, None, choices=("first", "skip"),
         help="a PDF over max_pages: its first pages, or none, counted as too_many_pages (default: skip "
         "for docmatix's document samples, else first)", source="Docmatix kept PDFs of at most 4 pages")),
        arg(PdfPageReader, "max_seconds_per_pdf", type=float, minimum=0,
            help="time budget per PDF; later pages are recorded as errors"),
        arg(PdfPageReader, "max_seconds_per_page", type=float, minimum=0,
            help="time limit of one page (render + OCR, in a worker process); 0: no limit, in-process"),
        arg(PdfPageReader, "pdf_column", type=str,
            help="column of PDF bytes in Parquet/Arrow inputs (found by name or type when unset)"),
    ),
    prepare=_long_pdfs,
    errors="pages",
)  # fmt: skip
