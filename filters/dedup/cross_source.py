"""Cross-source flag: mark an image-text pair whose image also appears in another source's records
(e.g. the interleaved web documents of the same crawl), so the two datasets are not double-counted.

The other source's image keys (decoded-pixel hashes of stored images, and URL hashes for images not
fetched) are read once, streaming, into a set of 64-bit integers: 16 bytes per image of the other
source. The flag is `metadata["cross_source"] = {"record": id, "match": "pixels" | "url"}`; nothing
is dropped here (a recipe may filter on it).
"""

from __future__ import annotations

from pathlib import Path

from curate.filters.dedup.image_keys import open_image, pixel_hash
from curate.filters.dedup.normalize import hash64
from datatrove.data import Document

from curate.errors import ImageError
from curate.io import RecordReader
from curate.steps import RecordStep


def image_keys(doc: Document) -> list[tuple[int, str]]:
    keys = []
    for media in doc.media:
        if media.media_bytes:
            try:
                keys.append((pixel_hash(open_image(media.media_bytes)), "pixels"))
            except ImageError:  # an undecodable image of the other source cannot match by pixels
                pass
        if media.url:
            keys.append((hash64(media.url), "url"))
    return keys


class CrossSourceFlag(RecordStep):
    name = "🔀 Cross-source flag"

    def __init__(self, other_records: str | Path, error_writer=None):
        super().__init__(error_writer=error_writer)
        if not Path(other_records).exists():
            raise FileNotFoundError(f"cross-source flag: records folder {other_records} does not exist")
        self.other = str(other_records)
        self._index: dict[int, str] | None = None

    def index(self) -> dict[int, str]:
        if self._index is None:
            self._index = {}
            for doc in RecordReader(self.other).run():
                for key, _ in image_keys(doc):
                    self._index.setdefault(key, doc.id)
        return self._index

    def process(self, doc: Document) -> Document:
        index = self.index()
        for key, how in image_keys(doc):
            if key in index:
                doc.metadata["cross_source"] = {"record": index[key], "match": how}
                break
        return doc
