"""PDF pages: a folder of PDFs -> one sample per page (rendered image + text layer or OCR) -> dedup
(identical renders, same or near-duplicate text; `--set dedup=false` keeps every page) -> shards."""

from __future__ import annotations

from curate.pdf import PdfPageReader
from curate.stage import Recipe, Stage, StageContext
from filters.dedup.stages import page_dedup_stages
from pipelines.common import shards_stage


def build_pages(ctx: StageContext):
    return [
        PdfPageReader(
            ctx.input,
            dpi=int(ctx.option("dpi", 150)),
            max_side=int(ctx.option("max_side", 2940)),
            image_format=ctx.option("image_format", "png"),
            ocr=bool(ctx.option("ocr", True)),
            max_pages=int(ctx.option("max_pages", 1000)),
            max_seconds_per_pdf=float(ctx.option("max_seconds_per_pdf", 600)),
            error_writer=ctx.error_writer("pages"),
        ),
        ctx.writer(),
    ]


def pages_stage() -> Stage:
    return Stage(
        "pages", build_pages, input_suffixes=(".pdf",), description="PDF -> page records (text or OCR)"
    )


def recipe() -> Recipe:
    return Recipe("pdf-pages", [pages_stage(), *page_dedup_stages(), shards_stage()], description=__doc__)
