"""Interleaved web documents (OBELICS-style): WARC crawls or HTML pages -> ordered text blocks and images
-> OBELICS text filters -> frequent image URLs, repeated paragraphs and duplicate documents removed ->
images fetched (or taken from the WARC) and decoded safely -> OBELICS image filters -> language, NSFW
and perplexity scores, the 5% highest-perplexity documents cut (CLIP off: `--set clip=true`) ->
decontamination (with `--set decontaminate_texts=FILE`) -> WebDataset shards whose samples keep the
order (`texts` aligned with numbered images).

Options: `curate recipes interleaved --options` lists them with their defaults and sources.
"""

from __future__ import annotations

from curate.filters import obelics
from curate.filters.dedup.stages import decontamination_stage, interleaved_dedup_stages
from curate.filters.stages import filters_stage, perplexity_cut_stage
from curate.pipelines.common import shards_stage

from curate.recipe import Recipe
from curate.web.document import WEB_SUFFIXES
from curate.web.steps import FETCH_IMAGES, INTERLEAVED_PAGES
from curate.wiring import records_stage

# OBELICS did not filter by CLIP score; Idefics2 cut the 5% highest-perplexity documents.
DEFAULTS = {"clip": False}


def recipe() -> Recipe:
    stages = [
        records_stage(
            "extract",
            [obelics.PARAGRAPHS, obelics.TEXT, obelics.REPETITION],
            reader=INTERLEAVED_PAGES,
            input_suffixes=WEB_SUFFIXES,
            description="web pages -> ordered text and images; OBELICS text filters",
        ),
        *interleaved_dedup_stages(),  # before fetching: frequent image URLs are never downloaded
        records_stage(
            "images",
            [FETCH_IMAGES, obelics.IMAGES, obelics.IMAGE_COUNT],
            description="fetch + decode images; OBELICS image filters",
        ),
        filters_stage("filter", ["language", "nsfw", "perplexity", "clip"]),
        perplexity_cut_stage(),
        decontamination_stage(),
        shards_stage(),
    ]
    return Recipe("interleaved", stages, description=__doc__, defaults=dict(DEFAULTS))
