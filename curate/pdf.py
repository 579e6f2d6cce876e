"""PDF pages: one record per page with its rendered image and its text (text layer, or OCR).

Each PDF is opened with PyMuPDF. A page's text comes from its text layer when that layer is usable,
otherwise from Tesseract OCR of the page rendered at `ocr_dpi`; `metadata["text_source"]` says
which. Broken, empty, encrypted and hostile PDFs become error records naming the file and the
reason, and the run goes on.
"""

from __future__ import annotations

import os
import time

from datatrove.pipeline.writers.disk_base import DiskWriter
from loguru import logger

from curate.ocr import ocr_image
from curate.record import error_record, image_media, page_record
from curate.steps import InputReader, describe_error

# PDF 1.7 caps a page side at 14,400 units (200 inches); larger pages are hostile or broken.
MAX_PAGE_SIDE_PT = 14_400


class PdfError(Exception):
    """A PDF or page that cannot be turned into records: `kind` names the case, the message says why."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind


def text_is_usable(text: str, min_chars: int = 20, min_clean_ratio: float = 0.75) -> bool:
    """A text layer is usable when it has some content and most of it is letters, digits and punctuation
    (not replacement characters or private-use glyphs from a broken font encoding)."""
    visible = [c for c in text if not c.isspace()]
    if len(visible) < min_chars:
        return False
    clean = sum(1 for c in visible if c.isalnum() or c in ".,;:!?'\"()[]{}-–—/%$€£&@#*+=<>|_~`^")
    return clean / len(visible) >= min_clean_ratio


def render_scale(width_pt: float, height_pt: float, dpi: int, max_side: int, max_pixels: int) -> float:
    """Zoom factor for rendering at `dpi`, reduced so the longest side and the pixel count stay in bounds."""
    zoom = dpi / 72
    zoom = min(zoom, max_side / max(width_pt, height_pt, 1))
    if width_pt * height_pt * zoom * zoom > max_pixels:
        zoom = (max_pixels / (width_pt * height_pt)) ** 0.5
    return zoom


class PdfPageReader(InputReader):
    """Reads a folder of PDFs and yields one page record per page.

    Args:
        data_folder: folder (or file) of PDFs, local or any fsspec path
        dpi: rendering resolution of the page image (Docmatix: 150)
        max_side: longest side of the page image, in pixels (Docmatix: 2940)
        image_format: "png" (lossless, best for text) or "jpeg"
        ocr: run Tesseract on pages without a usable text layer
        ocr_dpi: resolution of the image given to Tesseract
        max_pages: pages per PDF; later pages are counted as dropped (`page_limit`)
        long_pdfs: "first": a longer PDF gives its first `max_pages` pages; "skip": it gives none, all
            its pages counted as dropped (`too_many_pages`; Docmatix kept PDFs of at most 4 pages)
        max_seconds_per_pdf: time budget per PDF; pages left when it runs out are errors
        max_pixels: pixel budget of a rendered page
        max_image_pixels: largest embedded image a page may hold; beyond it the page is an error
            (decompression-bomb guard: 250 MP is 750 MB decoded)
        max_image_dpi: embedded images denser than this get a warning (real scans are 200-600 dpi)
        strict: make warnings (repaired file, inverted page box, oversized page, over-dense image)
            errors, so only clean PDFs yield pages
        error_writer: where broken PDFs and failed pages are recorded
    """

    name = "📄 PDF pages"

    def __init__(
        self,
        data_folder,
        dpi: int = 150,
        max_side: int = 2940,
        image_format: str = "png",
        ocr: bool = True,
        ocr_dpi: int = 300,
        ocr_lang: str = "eng",
        max_pages: int = 1000,
        max_seconds_per_pdf: float = 600,
        max_pixels: int = 2940 * 2940,
        max_image_pixels: int = 250_000_000,
        max_image_dpi: int = 1200,
        strict: bool = False,
        long_pdfs: str = "first",
        error_writer: DiskWriter | None = None,
        glob_pattern: str = "**/*.pdf",
        **reader_kwargs,
    ):
        super().__init__(data_folder, error_writer=error_writer, glob_pattern=glob_pattern, **reader_kwargs)
        self.dpi, self.max_side, self.image_format = dpi, max_side, image_format
        self.ocr, self.ocr_dpi, self.ocr_lang = ocr, ocr_dpi, ocr_lang
        self.max_pages, self.max_seconds_per_pdf = max_pages, max_seconds_per_pdf
        self.max_pixels, self.max_image_pixels = max_pixels, max_image_pixels
        self.max_image_dpi, self.strict = max_image_dpi, strict
        if long_pdfs not in ("first", "skip"):
            raise ValueError(f"long_pdfs={long_pdfs!r}: use 'first' or 'skip'")
        self.long_pdfs = long_pdfs

    def read_file(self, filepath: str):
        import pymupdf

        # ids are relative to the input folder, so keys do not change when the folder moves
        source = os.path.normpath(self.data_folder.resolve_paths(filepath))
        record_id = filepath.lstrip("/")
        try:
            pdf = self._open(filepath, source)
        except Exception as exc:
            self._fail(error_record(source, self.name, describe_error(exc), file=record_id), exc)
            return
        started = time.monotonic()
        with pdf:
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
                        self._fail(error_record(source, self.name, reason, page=missed + 1, file=record_id))
                    return
                try:
                    record = self._page_record(pdf[index], source, record_id, index, pages)
                    for problem in record.metadata["warnings"]:
                        self.send_warning(record, problem, self._rank)
                    yield record
                except (PdfError, RuntimeError, ValueError, pymupdf.mupdf.FzErrorBase) as exc:
                    record = error_record(
                        source, self.name, describe_error(exc), page=index + 1, file=record_id
                    )
                    self._fail(record, exc)

    def _fail(self, record, exc: BaseException | None = None) -> None:
        kind = getattr(exc, "kind", type(exc).__name__) if exc else "time_limit"
        self.send_to_errors(record, record.metadata["error"]["reason"], kind, self._rank)

    def _open(self, filepath: str, source: str):
        import pymupdf

        with self.data_folder.open(filepath, "rb") as f:
            data = f.read()
        if not data:
            raise PdfError("empty_file", "empty file (0 bytes)")
        try:
            pdf = pymupdf.open(stream=data, filetype="pdf")
        except Exception as exc:
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
        if max(width, height) * self.dpi / 72 > self.max_side:
            shown = self.max_side / (max(width, height) / 72)
            problems.append(
                f"oversized page {width / 72:.0f}x{height / 72:.0f} in: rendered at {shown:.0f} dpi, not {self.dpi}"
            )
        for image in page.get_images(full=False):
            xref, img_w, img_h = image[0], image[2], image[3]
            if img_w * img_h > self.max_image_pixels:
                raise PdfError(
                    "image_too_large",
                    f"embedded image of {img_w}x{img_h} px exceeds max_image_pixels={self.max_image_pixels:,}",
                )
            if img_w * img_h <= 4_000_000:
                continue  # small images are harmless at any dpi; finding their placement costs a page parse
            for rect in page.get_image_rects(xref):
                dpi = img_w / max(rect.width / 72, 1e-6)
                if rect.width > 1 and dpi > self.max_image_dpi:
                    problems.append(
                        f"embedded image of {img_w}x{img_h} px at {dpi:.0f} dpi (over {self.max_image_dpi})"
                    )
        if problems and self.strict:
            raise PdfError("strict", "; ".join(problems))
        return problems

    def _page_record(self, page, source: str, record_id: str, index: int, page_count: int):
        import pymupdf

        problems = self._page_problems(page)
        width_pt, height_pt = page.rect.width, page.rect.height
        zoom = render_scale(width_pt, height_pt, self.dpi, self.max_side, self.max_pixels)
        pixmap = page.get_pixmap(matrix=pymupdf.Matrix(zoom, zoom), alpha=False)
        image_bytes = pixmap.tobytes("jpeg" if self.image_format == "jpeg" else "png")
        text = page.get_text("text")
        text_source = "text_layer"
        if not text_is_usable(text):
            text_source = "none"
            if self.ocr:
                ocr_zoom = render_scale(width_pt, height_pt, self.ocr_dpi, 10_000, 40_000_000)
                gray = page.get_pixmap(matrix=pymupdf.Matrix(ocr_zoom, ocr_zoom), colorspace=pymupdf.csGRAY)
                with self.track_time("ocr"):
                    text = ocr_image(gray.tobytes("png"), lang=self.ocr_lang)
                text_source = "ocr"
                self.stat_update("ocr_pages")
        image = image_media(
            image_bytes,
            media_id=f"{record_id}#page={index + 1}",
            fmt="jpeg" if self.image_format == "jpeg" else "png",
            width=pixmap.width,
            height=pixmap.height,
            dpi=round(zoom * 72, 2),
        )
        return page_record(
            f"{record_id}#page={index + 1}",
            text.strip(),
            image,
            source=source,
            page=index + 1,
            page_count=page_count,
            text_source=text_source,
            page_size_pt=[round(width_pt, 2), round(height_pt, 2)],
            file=record_id,
            warnings=problems,
        )
