"""Interleaved web documents (OBELICS-style): WARC crawls or HTML pages -> ordered text blocks and images
-> OBELICS text filters -> frequent image URLs, repeated paragraphs and duplicate documents removed ->
images fetched (or taken from the WARC) and decoded safely -> OBELICS image filters -> language, NSFW
and perplexity scores, the 5% highest-perplexity documents cut (CLIP off: `--set clip=true`) ->
decontamination (with `--set decontaminate_texts=FILE`) -> WebDataset shards whose samples keep the
order (`texts` aligned with numbered images).

Options (`--set key=value`): allow_private (false; true lets fetching reach 127.0.0.1 and private
networks, e.g. a local image server), fetch_workers (32), fetch_timeout (10, per read), fetch_retries (2),
fetch_deadline (30 s per image, retries included), max_image_bytes (20 MB, as sent and decoded),
max_html_bytes (16 MiB per page), max_record_bytes (64 MiB per WARC record), respect_robots (true),
use_stored_images (true), min_side (150), max_side (20000), max_aspect_ratio (2), min_images (1), max_images (30), paragraph_min_words (4),
paragraph_max_words (1000), min_words (10), max_words (2000), min_stop_word_ratio (0.35),
max_special_char_ratio (0.275).
"""

from __future__ import annotations

from curate.stage import Recipe, Stage, StageContext
from curate.web.document import WEB_SUFFIXES, WebPageReader
from curate.web.fetch import FetchImages
from curate.web.warc import DEFAULT_MAX_HTML_BYTES, DEFAULT_MAX_RECORD_BYTES
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


def fetch_options(ctx: StageContext) -> dict:
    return {
        "allow_private": bool(ctx.option("allow_private", False)),
        "workers": int(ctx.option("fetch_workers", 32)),
        "timeout": float(ctx.option("fetch_timeout", 10)),
        "retries": int(ctx.option("fetch_retries", 2)),
        "max_bytes": int(ctx.option("max_image_bytes", 20 << 20)),
        "deadline": float(ctx.option("fetch_deadline", 30)),
        "respect_robots": bool(ctx.option("respect_robots", True)),
    }


def image_steps(ctx: StageContext) -> list:
    """Fetch and decode images, then remove those that failed or are outside the size bounds."""
    return [
        FetchImages(fetch_options(ctx), error_writer=ctx.error_writer("fetch")),
        ObelicsImageFilter(
            min_side=int(ctx.option("min_side", 150)),
            max_side=int(ctx.option("max_side", 20_000)),
            max_aspect_ratio=float(ctx.option("max_aspect_ratio", 2.0)),
            exclusion_writer=ctx.exclusion_writer("image_filter"),
            error_writer=ctx.error_writer("image_filter"),
        ),
    ]


def build_extract(ctx: StageContext):
    return [
        WebPageReader(
            ctx.input,
            output="interleaved",
            use_stored_images=bool(ctx.option("use_stored_images", True)),
            max_html_bytes=int(ctx.option("max_html_bytes", DEFAULT_MAX_HTML_BYTES)),
            max_record_bytes=int(ctx.option("max_record_bytes", DEFAULT_MAX_RECORD_BYTES)),
            error_writer=ctx.error_writer("pages"),
        ),
        ObelicsParagraphFilter(
            min_words=int(ctx.option("paragraph_min_words", 4)),
            max_words=int(ctx.option("paragraph_max_words", 1000)),
            error_writer=ctx.error_writer("paragraphs"),
        ),
        ObelicsTextFilter(
            min_words=int(ctx.option("min_words", 10)),
            max_words=int(ctx.option("max_words", 2000)),
            min_stop_word_ratio=float(ctx.option("min_stop_word_ratio", 0.35)),
            max_special_char_ratio=float(ctx.option("max_special_char_ratio", 0.275)),
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
            min_images=int(ctx.option("min_images", 1)),
            max_images=int(ctx.option("max_images", 30)),
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
            ),
            *interleaved_dedup_stages(),  # before fetching: frequent image URLs are never downloaded
            Stage("images", build_images, description="fetch + decode images; OBELICS image filters"),
            filters_stage("filter", ["language", "nsfw", "perplexity", "clip"]),
            perplexity_cut_stage(),
            decontamination_stage(),
            shards_stage(),
        ],
        description=__doc__,
        defaults=dict(DEFAULTS),
    )
