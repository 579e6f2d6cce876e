"""PDF pages: a folder of PDFs (or WebDataset tar shards of PDFs, or Parquet of PDF bytes) -> one sample per page (rendered image + text layer or OCR) -> shards.
Optional, off by default: dedup (identical renders, same or near-duplicate text; `--set dedup=true`),
language and perplexity filters with the 5% highest-perplexity pages cut (`--set language=true
--set perplexity=true`)."""

from __future__ import annotations

from curate.options import Option
from curate.pdf import PdfPageReader
from curate.pdf_sources import INPUT_SUFFIXES
from curate.recipe import Recipe, Stage, StageContext
from filters.dedup.stages import page_dedup_stages
from filters.stages import filters_stage, perplexity_cut_stage
from pipelines.common import shards_stage

PAGE_OPTIONS = (
    Option.arg(PdfPageReader, "dpi", type=int, minimum=1, help="page render resolution", source="Docmatix"),
    Option.arg(PdfPageReader, "render_max_side", type=int, minimum=1,
               help="longest side of a rendered page image, px", source="Docmatix"),
    Option.arg(PdfPageReader, "image_format", type=str, choices=("png", "jpeg"),
               help="page image format (png is lossless, best for text)"),
    Option.arg(PdfPageReader, "ocr", type=bool, help="OCR (Tesseract) pages without a text layer"),
    Option.arg(PdfPageReader, "max_pages", type=int, minimum=1, help="first pages of a PDF read"),
    Option("long_pdfs", str, None, choices=("first", "skip"),
           help="a PDF over max_pages: its first pages, or none, counted as too_many_pages (default: skip "
           "for docmatix's document samples, else first)",
           source="Docmatix kept PDFs of at most 4 pages"),
    Option.arg(PdfPageReader, "max_seconds_per_pdf", type=float, minimum=0,
               help="time budget per PDF; later pages are recorded as errors"),
    Option.arg(PdfPageReader, "max_seconds_per_page", type=float, minimum=0,
               help="time limit of one page (render + OCR, in a worker process); 0: no limit, in-process"),
    Option.arg(PdfPageReader, "pdf_column", type=str,
               help="column of PDF bytes in Parquet/Arrow inputs (found by name or type when unset)"),
)  # fmt: skip


def build_pages(ctx: StageContext):
    return [
        PdfPageReader(
            ctx.input,
            dpi=ctx.option("dpi"),
            render_max_side=ctx.option("render_max_side"),
            image_format=ctx.option("image_format"),
            ocr=ctx.option("ocr"),
            max_pages=ctx.option("max_pages"),
            # Docmatix's document samples skip longer PDFs; page samples take their first pages
            long_pdfs=ctx.option("long_pdfs")
            or ("skip" if ctx.options.get("sample_unit") == "document" else "first"),
            max_seconds_per_pdf=ctx.option("max_seconds_per_pdf"),
            max_seconds_per_page=ctx.option("max_seconds_per_page"),
            pdf_column=ctx.option("pdf_column"),
            error_writer=ctx.error_writer("pages"),
        ),
        ctx.writer(),
    ]


def pages_stage() -> Stage:
    return Stage(
        "pages",
        build_pages,
        input_suffixes=INPUT_SUFFIXES,  # PDFs, tar shards of PDFs (PDFA), Parquet/Arrow of PDF bytes
        description="PDF -> page records (text or OCR)",
        options=PAGE_OPTIONS,
    )


# The pdf-pages recipe is extraction: every readable page once. Dedup and filters are in the recipe,
# off by default (`--set dedup=true --set language=true --set perplexity=true`); docmatix turns them on.
EXTRACTION_ONLY = {"dedup": False, "language": False, "perplexity": False}


def recipe() -> Recipe:
    stages = [pages_stage(), *page_dedup_stages(), *page_filter_stages(), shards_stage()]
    return Recipe("pdf-pages", stages, description=__doc__, defaults=dict(EXTRACTION_ONLY))


def page_filter_stages() -> list[Stage]:
    """Language ID and perplexity on page text, then the dataset-wide perplexity cut (Idefics2: 5%).
    Off in this recipe unless `--set language=true` / `--set perplexity=true`; options in filters/stages.py."""
    return [filters_stage("filter", ["language", "perplexity"]), perplexity_cut_stage()]
