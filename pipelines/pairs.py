"""Image-text pairs (LAION/DataComp-style): captioned images of web pages (<figure> captions, meaningful
alt text) from WARC crawls or HTML files, or a URL list (Parquet/CSV/TSV/JSONL with url + caption
columns) -> frequent image URLs removed -> images fetched and decoded safely -> image size filter ->
same and near-duplicate images removed -> language, NSFW and CLIP-score filters (DataComp: ViT-B/32 >=
0.25; needs CLIP weights, `--set clip_weights=PATH`, or `--set clip=false`) -> WebDataset shards
(KEY.jpg + KEY.txt).

Options: `curate recipes pairs --options` lists them (fetching as the interleaved recipe; min_side 200
and max_aspect_ratio 3 as DataComp).
"""

from __future__ import annotations

from curate.location import location
from curate.options import Option
from curate.recipe import Recipe, Stage, StageContext
from curate.web.document import WEB_SUFFIXES, WebPageReader
from curate.web.listing import is_paths_listing, reader_location
from curate.web.pairs import LIST_SUFFIXES, UrlListReader
from filters.dedup.stages import (
    cross_source_stage,
    decontamination_stage,
    image_phash_dedup_stages,
    url_frequency_stages,
)
from filters.stages import clip_cut_stage, filters_stage
from pipelines.common import shards_stage
from pipelines.interleaved import (
    FETCH_OPTIONS,
    IMAGE_FILTER_OPTIONS,
    PAGE_LIMITS,
    STORED_IMAGES,
    WARC_BASE_URL,
    image_steps,
)

DEFAULTS = {"min_side": 200, "max_aspect_ratio": 3.0}  # DataComp's image size filter

EXTRACT_OPTIONS = (
    Option.arg(UrlListReader, "url_column", type=str, help="URL column of a URL list (found by name when unset)"),
    Option.arg(UrlListReader, "caption_column", type=str,
               help="caption column of a URL list (found by name when unset)"),
    STORED_IMAGES,
    WARC_BASE_URL,
    *PAGE_LIMITS,
    Option.arg(WebPageReader, "min_caption_words", type=int, minimum=0,
               help="alt texts and captions with fewer words are not pairs"),
)  # fmt: skip


def _is_url_list(folder: str) -> bool:
    if is_paths_listing(folder):
        return False
    path = location(folder)  # local or a URL (s3://...)
    files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
    return any(p.name.lower().endswith(LIST_SUFFIXES) for p in files) and not any(
        p.name.lower().endswith(WEB_SUFFIXES) for p in files
    )


def build_extract(ctx: StageContext):
    if _is_url_list(ctx.input):
        reader = UrlListReader(
            ctx.input,
            url_column=ctx.option("url_column"),
            caption_column=ctx.option("caption_column"),
            error_writer=ctx.error_writer("url_list"),
        )
    else:
        reader = WebPageReader(
            **reader_location(ctx.input, ctx.option("warc_base_url")),
            record_kind="pair",
            use_stored_images=ctx.option("use_stored_images"),
            min_caption_words=ctx.option("min_caption_words"),
            max_html_bytes=ctx.option("max_html_bytes"),
            max_record_bytes=ctx.option("max_record_bytes"),
            error_writer=ctx.error_writer("pages"),
        )
    return [reader, ctx.writer()]


def build_images(ctx: StageContext):
    return [ctx.reader(), *image_steps(ctx), ctx.writer()]


def recipe() -> Recipe:
    return Recipe(
        "pairs",
        [
            Stage(
                "extract",
                build_extract,
                input_suffixes=WEB_SUFFIXES + LIST_SUFFIXES,
                description="pages or URL lists -> image-caption pairs",
                options=EXTRACT_OPTIONS,
            ),
            *url_frequency_stages(paragraphs=False, name="url-dedup"),  # before fetching
            Stage(
                "images",
                build_images,
                description="fetch + decode images; image size filter",
                options=FETCH_OPTIONS + IMAGE_FILTER_OPTIONS,
            ),
            *image_phash_dedup_stages(name="image-dedup"),
            filters_stage("filter", ["language", "nsfw", "sharpness", "clip"]),
            clip_cut_stage(),
            cross_source_stage(),
            decontamination_stage(),
            shards_stage(),
        ],
        description=__doc__,
        defaults=DEFAULTS,
    )
