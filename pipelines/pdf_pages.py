"""PDF pages: a folder of PDFs (or WebDataset tar shards of PDFs, or Parquet of PDF bytes) -> one sample per page (rendered image + text layer or OCR) -> shards.
Optional, off by default: dedup (identical renders, same or near-duplicate text; `--set dedup=true`),
language and perplexity filters with the 5% highest-perplexity pages cut (`--set language=true
--set perplexity=true`)."""

from __future__ import annotations

from curate.filters.dedup.stages import page_dedup_stages
from curate.filters.stages import filters_stage, perplexity_cut_stage
from curate.pipelines.common import shards_stage

from curate.pdf.reader import PDF_PAGES
from curate.pdf.sources import INPUT_SUFFIXES
from curate.recipe import Recipe, Stage
from curate.wiring import records_stage


def pages_stage() -> Stage:
    return records_stage(
        "pages",
        [],
        reader=PDF_PAGES,
        input_suffixes=INPUT_SUFFIXES,  # PDFs, tar shards of PDFs (PDFA), Parquet/Arrow of PDF bytes
        description="PDF -> page records (text or OCR)",
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
