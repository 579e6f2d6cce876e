"""Common Crawl path listings: `warc.paths.gz` names one WARC a line, relative to a base URL.

Common Crawl publishes each crawl as such a listing (`crawl-data/CC-MAIN-.../warc.paths.gz`, 90,000
lines) whose paths are relative to https://data.commoncrawl.org/ (or `s3://commoncrawl/`). Given a
listing as `--input`, the extract stage reads the WARCs it names from the base URL (`--set
warc_base_url=`): datatrove's `paths_file`, so each task reads only its own lines and nothing is listed.
"""

from __future__ import annotations

PATHS_SUFFIXES = (".paths.gz", ".paths", ".paths.txt")
COMMON_CRAWL_BASE = "https://data.commoncrawl.org/"


def is_paths_listing(path: str) -> bool:
    return str(path).lower().endswith(PATHS_SUFFIXES)


def reader_location(input: str, base_url: str | None = None) -> dict:
    """The reader's `data_folder` (and `paths_file` for a listing) for an input folder, file or listing."""
    if is_paths_listing(input):
        return {"data_folder": base_url or COMMON_CRAWL_BASE, "paths_file": input}
    return {"data_folder": input}


def listing_size(path: str) -> int:
    """Number of paths in a listing (local or any fsspec URL; gzip or plain)."""
    import fsspec

    with fsspec.open(path, "rt", compression="infer") as f:
        return sum(1 for line in f if line.strip())
