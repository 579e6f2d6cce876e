"""Interleaved web documents (OBELICS-style): WARC crawls or HTML pages -> ordered text blocks and images
-> OBELICS text filters -> frequent image URLs, repeated paragraphs and duplicate documents removed ->
images fetched (or taken from the WARC) and decoded safely -> OBELICS image filters -> language, NSFW
and perplexity scores, the 5% highest-perplexity documents cut (CLIP off: `--set clip=true`) ->
decontamination (with `--set decontaminate_texts=FILE`) -> WebDataset shards whose samples keep the
order (`texts` aligned with numbered images).

Options: `curate recipes interleaved --options` lists them with their defaults and sources.
"""

from __future__ import annotations

from curate.options import Option
from curate.recipe import Recipe, Stage, StageContext
from curate.web.document import WEB_SUFFIXES, WebPageReader
from curate.web.fetch import FetchImages
from curate.web.http_client import ImageFetcher
from curate.web.listing import COMMON_CRAWL_BASE, reader_location
from filters.dedup.stages import decontamination_stage, interleaved_dedup_stages
from filters.obelics import (
    ObelicsImageCountFilter,
    ObelicsImageFilter,
    ObelicsParagraphFilter,
    ObelicsTextFilter,
    repetition_filter,
)
from filters.stages import filters_stage, perplexity_cut_stage
from pipelines.common import shards_stage

# OBELICS did not filter by CLIP score; Idefics2 cut the 5% highest-perplexity documents.
DEFAULTS = {"clip": False}


FETCH_OPTIONS = (
    Option.arg(
        ImageFetcher,
        "allow_private",
        type=bool,
        help="let downloads reach loopback, private and link-local addresses (e.g. a local image server)",
    ),
    Option.arg(
        ImageFetcher, "workers", "fetch_workers", type=int, minimum=1, help="concurrent downloads per task"
    ),
    Option.arg(
        ImageFetcher, "timeout", "fetch_timeout", type=float, minimum=0, help="seconds per connect/read"
    ),
    Option.arg(
        ImageFetcher, "retries", "fetch_retries", type=int, minimum=0, help="retries of a failed download"
    ),
    Option.arg(
        ImageFetcher,
        "deadline",
        "fetch_deadline",
        type=float,
        minimum=0.1,
        help="seconds one image download may take in all, retries and redirects included",
    ),
    Option.arg(
        ImageFetcher,
        "max_bytes",
        "max_image_bytes",
        type=int,
        minimum=1,
        help="size cap of an image download",
    ),
    Option.arg(ImageFetcher, "respect_robots", type=bool, help="honour robots.txt for image URLs"),
)
IMAGE_FILTER_OPTIONS = (
    Option.arg(
        ObelicsImageFilter,
        "min_side",
        type=int,
        minimum=0,
        help="images smaller on a side dropped, px",
        source="OBELICS",
    ),
    Option.arg(
        ObelicsImageFilter,
        "max_side",
        type=int,
        minimum=1,
        help="images larger on a side dropped, px",
        source="OBELICS",
    ),
    Option.arg(
        ObelicsImageFilter,
        "max_aspect_ratio",
        type=float,
        minimum=1,
        help="longer/shorter side at most",
        source="OBELICS",
    ),
)
STORED_IMAGES = Option.arg(
    WebPageReader,
    "use_stored_images",
    type=bool,
    help="take images stored in the WARC instead of downloading them",
)
# a `warc.paths.gz` input lists paths relative to this base
WARC_BASE_URL = Option(
    "warc_base_url",
    str,
    COMMON_CRAWL_BASE,
    help="base URL of the paths in a warc.paths.gz input",
    source="Common Crawl's published base",
)
# bounds on hostile pages: a WARC record larger than this is not read; a page's HTML is read up to this
PAGE_LIMITS = (
    Option.arg(WebPageReader, "max_html_bytes", type=int, minimum=1,
               help="HTML bytes read of a page (after gzip decoding); lxml needs ~15-20x this in memory"),
    Option.arg(WebPageReader, "max_record_bytes", type=int, minimum=1,
               help="WARC records larger than this (as stored) are recorded as errors, not read"),
)  # fmt: skip
EXTRACT_OPTIONS = (
    STORED_IMAGES,
    WARC_BASE_URL,
    *PAGE_LIMITS,
    Option.arg(
        ObelicsParagraphFilter,
        "min_words",
        "paragraph_min_words",
        type=int,
        minimum=0,
        help="shorter paragraphs removed",
        source="OBELICS",
    ),
    Option.arg(
        ObelicsParagraphFilter,
        "max_words",
        "paragraph_max_words",
        type=int,
        minimum=1,
        help="longer paragraphs removed",
        source="OBELICS",
    ),
    Option.arg(
        ObelicsTextFilter,
        "min_words",
        type=int,
        minimum=0,
        help="shorter documents dropped",
        source="OBELICS",
    ),
    Option.arg(
        ObelicsTextFilter, "max_words", type=int, minimum=1, help="longer documents dropped", source="OBELICS"
    ),
    Option.arg(
        ObelicsTextFilter,
        "min_stop_word_ratio",
        type=float,
        minimum=0,
        maximum=1,
        help="documents with fewer stop words dropped",
        source="OBELICS",
    ),
    Option.arg(
        ObelicsTextFilter,
        "max_special_char_ratio",
        type=float,
        minimum=0,
        maximum=1,
        help="documents with more special characters dropped",
        source="OBELICS",
    ),
)
IMAGE_COUNT_OPTIONS = (
    Option.arg(ObelicsImageCountFilter, "min_images", type=int, minimum=0, help="documents with fewer images dropped",
               source="OBELICS"),
    Option.arg(ObelicsImageCountFilter, "max_images", type=int, minimum=1, help="documents with more images dropped",
               source="OBELICS"),
)  # fmt: skip


def fetch_options(ctx: StageContext) -> dict:
    return {
        "allow_private": ctx.option("allow_private"),
        "workers": ctx.option("fetch_workers"),
        "timeout": ctx.option("fetch_timeout"),
        "retries": ctx.option("fetch_retries"),
        "max_bytes": ctx.option("max_image_bytes"),
        "deadline": ctx.option("fetch_deadline"),
        "respect_robots": ctx.option("respect_robots"),
    }


def image_steps(ctx: StageContext) -> list:
    """Fetch and decode images, then remove those that failed or are outside the size bounds
    (options: FETCH_OPTIONS + IMAGE_FILTER_OPTIONS)."""
    return [
        FetchImages(fetch_options(ctx), error_writer=ctx.error_writer("fetch")),
        ObelicsImageFilter(
            min_side=ctx.option("min_side"),
            max_side=ctx.option("max_side"),
            max_aspect_ratio=ctx.option("max_aspect_ratio"),
            exclusion_writer=ctx.exclusion_writer("image_filter"),
            error_writer=ctx.error_writer("image_filter"),
        ),
    ]


def build_extract(ctx: StageContext):
    return [
        WebPageReader(
            **reader_location(ctx.input, ctx.option("warc_base_url")),
            record_kind="interleaved",
            use_stored_images=ctx.option("use_stored_images"),
            max_html_bytes=ctx.option("max_html_bytes"),
            max_record_bytes=ctx.option("max_record_bytes"),
            error_writer=ctx.error_writer("pages"),
        ),
        ObelicsParagraphFilter(
            min_words=ctx.option("paragraph_min_words"),
            max_words=ctx.option("paragraph_max_words"),
            error_writer=ctx.error_writer("paragraphs"),
        ),
        ObelicsTextFilter(
            min_words=ctx.option("min_words"),
            max_words=ctx.option("max_words"),
            min_stop_word_ratio=ctx.option("min_stop_word_ratio"),
            max_special_char_ratio=ctx.option("max_special_char_ratio"),
            exclusion_writer=ctx.exclusion_writer("text_filter"),
            error_writer=ctx.error_writer("text_filter"),
        ),
        repetition_filter(ctx.exclusion_writer("repetition")),
        ctx.writer(),
    ]


def build_images(ctx: StageContext):
    return [
        ctx.reader(),
        *image_steps(ctx),
        ObelicsImageCountFilter(
            min_images=ctx.option("min_images"),
            max_images=ctx.option("max_images"),
            exclusion_writer=ctx.exclusion_writer("image_count"),
        ),
        ctx.writer(),
    ]


def recipe() -> Recipe:
    return Recipe(
        "interleaved",
        [
            Stage(
                "extract",
                build_extract,
                input_suffixes=WEB_SUFFIXES,
                description="web pages -> ordered text and images; OBELICS text filters",
                options=EXTRACT_OPTIONS,
            ),
            *interleaved_dedup_stages(),  # before fetching: frequent image URLs are never downloaded
            Stage(
                "images",
                build_images,
                description="fetch + decode images; OBELICS image filters",
                options=FETCH_OPTIONS + IMAGE_FILTER_OPTIONS + IMAGE_COUNT_OPTIONS,
            ),
            filters_stage("filter", ["language", "nsfw", "perplexity", "clip"]),
            perplexity_cut_stage(),
            decontamination_stage(),
            shards_stage(),
        ],
        description=__doc__,
        defaults=dict(DEFAULTS),
    )
