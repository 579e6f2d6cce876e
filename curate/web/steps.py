"""The web steps as recipes use them, each with the run options it is built from (`curate.wiring`):
readers of pages and URL lists for an extract stage, and the image fetcher of an images stage."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from datatrove.pipeline.base import PipelineStep

from curate.options import Option
from curate.recipe import StageContext
from curate.record import INTERLEAVED, PAIR
from curate.web.document import WebPageReader, is_url_list
from curate.web.fetch import FetchImages
from curate.web.http_client import ImageFetcher
from curate.web.listing import COMMON_CRAWL_BASE, reader_location
from curate.web.pairs import UrlListReader
from curate.wiring import StepSpec, arg

# a `warc.paths.gz` input lists paths relative to this base
WARC_BASE_URL = Option("warc_base_url", str, COMMON_CRAWL_BASE, help="base URL of the paths in a warc.paths.gz input",
                       source="Common Crawl's published base")  # fmt: skip
PAGE_ARGS = (
    arg(WebPageReader, "use_stored_images", type=bool,
        help="take images stored in the WARC instead of downloading them"),
    # bounds on hostile pages: a WARC record larger than this is not read; a page's HTML is read up to this
    arg(WebPageReader, "max_html_bytes", type=int, minimum=1,
        help="HTML bytes read of a page (after gzip decoding); lxml needs ~15-20x this in memory"),
    arg(WebPageReader, "max_record_bytes", type=int, minimum=1,
        help="WARC records larger than this (as stored) are recorded as errors, not read"),
)  # fmt: skip


def _input_pages(kwargs: dict[str, Any], ctx: StageContext) -> dict[str, Any]:
    return {**kwargs, **reader_location(ctx.input, ctx.option("warc_base_url"))}


def _input_folder(kwargs: dict[str, Any], ctx: StageContext) -> dict[str, Any]:
    return {**kwargs, "data_folder": ctx.input}


def page_reader(record_kind: str, *args: tuple[str, Option]) -> StepSpec:
    """WARC/HTML pages (or a `warc.paths.gz` listing of WARCs) -> records of `record_kind`."""
    args = (*PAGE_ARGS, *args)
    return StepSpec(WebPageReader, args, {"record_kind": record_kind}, options=(WARC_BASE_URL,), prepare=_input_pages,
                    errors="pages")  # fmt: skip


INTERLEAVED_PAGES = page_reader(INTERLEAVED)
PAIR_PAGES = page_reader(
    PAIR,
    arg(WebPageReader, "min_caption_words", type=int, minimum=0,
        help="alt texts and captions with fewer words are not pairs"),
)  # fmt: skip
URL_LISTS = StepSpec(
    UrlListReader,
    args=(
        arg(UrlListReader, "url_column", type=str, help="URL column of a URL list (found by name when unset)"),
        arg(UrlListReader, "caption_column", type=str,
            help="caption column of a URL list (found by name when unset)"),
    ),
    prepare=_input_folder,
    errors="url_list",
)  # fmt: skip


@dataclass(frozen=True)
class PairInput:
    """Image-text pairs from whichever input is given: URL lists or web pages (`is_url_list`)."""

    url_lists: StepSpec = URL_LISTS
    pages: StepSpec = PAIR_PAGES

    @property
    def all_options(self) -> tuple[Option, ...]:
        return (*self.url_lists.all_options, *self.pages.all_options)

    def build(self, ctx: StageContext) -> PipelineStep:
        return (self.url_lists if is_url_list(ctx.input) else self.pages).build(ctx)


def _fetcher_options(kwargs: dict[str, Any], ctx: StageContext) -> dict[str, Any]:
    return {"fetcher_options": kwargs}  # FetchImages builds its ImageFetcher in each task


# the fetcher's settings, from ImageFetcher's own defaults
FETCH_IMAGES = StepSpec(
    FetchImages,
    args=(
        arg(ImageFetcher, "allow_private", type=bool,
            help="let downloads reach loopback, private and link-local addresses (e.g. a local image server)"),
        arg(ImageFetcher, "workers", "fetch_workers", type=int, minimum=1, help="concurrent downloads per task"),
        arg(ImageFetcher, "timeout", "fetch_timeout", type=float, minimum=0, help="seconds per connect/read"),
        arg(ImageFetcher, "retries", "fetch_retries", type=int, minimum=0, help="retries of a failed download"),
        arg(ImageFetcher, "max_bytes", "max_image_bytes", type=int, minimum=1, help="size cap of an image download"),
        arg(ImageFetcher, "deadline", "fetch_deadline", type=float, minimum=0.1,
            help="seconds one image download may take in all, retries and redirects included"),
        arg(ImageFetcher, "respect_robots", type=bool, help="honour robots.txt for image URLs"),
    ),
    prepare=_fetcher_options,
    errors="fetch",
)  # fmt: skip
