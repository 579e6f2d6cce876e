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

from curate.filters import obelics
from curate.filters.dedup.stages import (
    cross_source_stage,
    decontamination_stage,
    image_phash_dedup_stages,
    url_frequency_stages,
)
from curate.filters.stages import clip_cut_stage, filters_stage
from curate.pipelines.common import shards_stage

from curate.recipe import Recipe
from curate.web.document import WEB_SUFFIXES
from curate.web.pairs import LIST_SUFFIXES
from curate.web.steps import FETCH_IMAGES, PairInput
from curate.wiring import records_stage

DEFAULTS = {"min_side": 200, "max_aspect_ratio": 3.0}  # DataComp's image size filter


def recipe() -> Recipe:
    stages = [
        records_stage(
            "extract",
            [],
            reader=PairInput(),  # URL lists or web pages, by what the input holds
            input_suffixes=WEB_SUFFIXES + LIST_SUFFIXES,
            description="pages or URL lists -> image-caption pairs",
        ),
        *url_frequency_stages(paragraphs=False, name="url-dedup"),  # before fetching
        records_stage(
            "images",
            [FETCH_IMAGES, obelics.IMAGES],
            description="fetch + decode images; image size filter",
        ),
        *image_phash_dedup_stages(name="image-dedup"),
        filters_stage("filter", ["language", "nsfw", "sharpness", "clip"]),
        clip_cut_stage(),
        cross_source_stage(),
        decontamination_stage(),
        shards_stage(),
    ]
    return Recipe("pairs", stages, description=__doc__, defaults=DEFAULTS)
