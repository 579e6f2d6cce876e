"""Docmatix: PDFs -> documents (page images in order) + question/answer conversations written by an LLM.

Stages: pages (PDF -> page records, Docmatix limits: 150 dpi, longest side 2940 px, PDFs of at most 4
pages; longer ones are skipped and counted as `too_many_pages`) -> dedup (identical renders, same or
near-duplicate text; `--set dedup=false`) -> filter (English by fastText lid.176 >= 0.5, n-gram
perplexity scored; `--set language=false`, `--set perplexity=false`) -> perplexity_cut (the 5%
highest-perplexity pages over the whole run, Idefics2) -> documents (the pages of each PDF joined into
one sample, as Docmatix; `--set sample_unit=page` keeps one sample per page) -> qa (an OpenAI-compatible
LLM writes QA pairs about the text, then answers them again from the page: the round trip; with the
embedded writer a second, smaller model answers them too: the second opinion) -> checks
(QA rules, each rejection counted with its reason) -> shards (WebDataset and Hub-native Parquet; both
have Docmatix's `texts` turns).

The LLM: `--set llm_url=http://HOST:PORT/v1` uses a running server (e.g. `curate serve-llm`; its API
key, if any, in the environment variable LLM_API_KEY); without it an embedded llama.cpp server with the
packaged model is started for the qa stage and stopped when the run ends, also on failure.
Options: `curate recipes docmatix --options`.
"""

from __future__ import annotations

from curate.filters.dedup.stages import page_dedup_stages
from curate.pipelines.common import shards_stage
from curate.pipelines.pdf_pages import page_filter_stages, pages_stage
from curate.synth.service import llm_service
from curate.synth.stages import checks_stage, qa_stage

from curate.pdf.documents import documents_stage
from curate.recipe import Recipe

DEFAULTS = {
    # filtered before the LLM sees a page, so no request is spent on a duplicate or a garbage page
    "dedup": True,
    "language": True,
    "perplexity": True,
    # pages are forms, tables and transcripts, not web prose: OBELICS's 0.8 dropped English pages of
    # the shared set (a bulletin table at 0.71, a Redbooks cover at 0.78); other languages still go
    "language_min_score": 0.5,
    "max_pages": 4,  # Docmatix kept PDFs of at most 4 pages; longer ones are skipped (long_pdfs)
    "sample_unit": "document",  # Docmatix's sample: a whole PDF, its page images in order
    "formats": ["webdataset", "parquet"],  # tar shards for training, Parquet for the Hub's viewer
    # the model answers its own questions again from the page; a pair is kept when both answers agree
    "roundtrip": True,
    "pairs_per_request": 5,  # half or more fail the checks and the round trip: 3 left ~0.6 kept a page
    # 5 pairs, each with its evidence line, run to 300-384 tokens: about one request in ten of the test
    # split's run was cut at 384 (and its last pairs lost); 512 leaves the chunk its 2,500 characters
    "max_tokens": 512,
    # what each request asks for: the evidence-last prompt. Evidence first beat it on 7 tuning pages (0.91
    # precision, 1.43 good pairs a page) but not on 41 untouched test pages (0.61 against 0.76 precision, 0.41
    # against 0.39 good pairs a page: the LaTeX manuals fell from 8 of 8 kept right to 1 of 4); lines first lost
    # on the tuning pages. Both stay options (docs/benchmarks.md, 2026-12-07, s5-qa)
    "qa_prompt": "pairs",
    "embedded_model": "qwen2.5-coder-1.5b",  # 2.8 kept pairs a page at 0.67 precision vs 0.5B's 1.7 at 0.21
}


def recipe() -> Recipe:
    stages = [
        pages_stage(),
        *page_dedup_stages(),
        *page_filter_stages(),
        documents_stage(),
        qa_stage(),
        checks_stage(),
        shards_stage(),
    ]
    return Recipe("docmatix", stages, description=__doc__, defaults=DEFAULTS, services=llm_service)
