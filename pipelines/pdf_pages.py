"""PDF pages: a folder of PDFs -> one sample per page (rendered image + text layer or OCR) -> shards.
Optional, off by default: dedup (identical renders, same or near-duplicate text; `--set dedup=true`),
language and perplexity filters with the 5% highest-perplexity pages cut (`--set language=true
--set perplexity=true`)."""

from __future__ import annotations

from curate.pdf import PdfPageReader
from curate.stage import Recipe, Stage, StageContext
from filters.dedup.stages import page_dedup_stages
from filters.stages import filters_stage, perplexity_cut_stage
from pipelines.common import shards_stage


def build_pages(ctx: StageContext):
    return [
        PdfPageReader(
            ctx.input,
            dpi=int(ctx.option("dpi", 150)),
            max_side=int(ctx.option("max_side", 2940)),
            image_format=ctx.option("image_format", "png"),
            ocr=ctx.flag("ocr", True),
            max_pages=int(ctx.option("max_pages", 1000)),
            # Docmatix's document samples skip longer PDFs; page samples take their first pages
            long_pdfs=ctx.option("long_pdfs")
            or ("skip" if ctx.option("sample_unit") == "document" else "first"),
            max_seconds_per_pdf=float(ctx.option("max_seconds_per_pdf", 600)),
            error_writer=ctx.error_writer("pages"),
        ),
        ctx.writer(),
    ]


def pages_stage() -> Stage:
    return Stage(
        "pages", build_pages, input_suffixes=(".pdf",), description="PDF -> page records (text or OCR)"
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
