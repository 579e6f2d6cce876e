"""Image-text pairs (LAION/DataComp-style): captioned images of web pages (<figure> captions, meaningful
alt text) from WARC crawls or HTML files, or a URL list (Parquet/CSV/TSV/JSONL with url + caption
columns) -> frequent image URLs removed -> images fetched and decoded safely -> image size filter ->
same and near-duplicate images removed -> language, NSFW and CLIP-score filters (DataComp: ViT-B/32 >=
0.25; needs CLIP weights, `--set clip_weights=PATH`, or `--set clip=false`) -> WebDataset shards
(KEY.jpg + KEY.txt).

Options: as the interleaved recipe for fetching (allow_private, fetch_workers, fetch_timeout,
fetch_retries, max_image_bytes, respect_robots, use_stored_images); min_caption_words (3), url_column / caption_column
(found by name when not given), min_side (DataComp: 200), max_side (20000), max_aspect_ratio (DataComp: 3).
"""

from __future__ import annotations

from curate.location import location
from curate.stage import Recipe, Stage, StageContext
from curate.web.document import WEB_SUFFIXES, WebPageReader
from curate.web.pairs import LIST_SUFFIXES, UrlListReader
from filters.dedup.stages import (
    cross_source_stage,
    decontamination_stage,
    image_phash_dedup_stages,
    url_frequency_stages,
)
from filters.stages import clip_cut_stage, filters_stage
from pipelines.common import shards_stage
from pipelines.interleaved import image_steps

DEFAULTS = {"min_side": 200, "max_aspect_ratio": 3.0}


def _is_url_list(folder: str) -> bool:
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
            ctx.input,
            output="pairs",
            use_stored_images=bool(ctx.option("use_stored_images", True)),
            min_caption_words=int(ctx.option("min_caption_words", 3)),
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
            ),
            *url_frequency_stages(paragraphs=False, name="url-dedup"),  # before fetching
            Stage("images", build_images, description="fetch + decode images; image size filter"),
            *image_phash_dedup_stages(name="image-dedup"),
            filters_stage("filter", ["language", "nsfw", "clip"]),
            clip_cut_stage(),
            cross_source_stage(),
            decontamination_stage(),
            shards_stage(),
        ],
        description=__doc__,
        defaults=DEFAULTS,
    )
