"""`FetchImages`, the pipeline step that gives images their bytes: it fetches the images of records that
have no bytes yet (images stored in the WARC already have theirs) with the HTTP client of
curate/web/http_client.py, decodes every image safely and records failures per image.
"""

from __future__ import annotations

from datatrove.data import Document, DocumentsPipeline
from datatrove.pipeline.base import PipelineStep
from datatrove.pipeline.writers.disk_base import DiskWriter
from datatrove.utils.batching import batched

from curate.errors import ImageError
from curate.record import PAIR
from curate.steps import ErrorSinkMixin
from curate.web.http_client import FetchResult, ImageFetcher
from curate.web.images import DEFAULT_MAX_PIXELS, decode_image


def page_opt_out(doc: Document, tokens: tuple[str, ...] = ("noimageai", "noai")) -> list[str]:
    """Opt-out directives the record's page declared (X-Robots-Tag header or robots meta tag)."""
    return [d for d in doc.metadata.get("opt_out", []) if d in tokens]


class FetchImages(ErrorSinkMixin, PipelineStep):
    """Gives every image of a record its bytes: fetched over HTTP(S) unless already there (e.g. stored in
    the WARC), then decoded safely (`curate.web.images.decode_image`).

    A failed image keeps its URL and gets `fetch_error` (reason) in its metadata, and a line in the error
    sink; the record goes on (the OBELICS image filter removes such images). With `require_images`
    (pairs), a record whose image failed is an error record instead.
    """

    name = "🌐 Fetch images"
    type = "🧩 - STEP"

    def __init__(
        self,
        fetcher_options: dict | None = None,
        batch_size: int = 64,
        max_pixels: int = DEFAULT_MAX_PIXELS,
        apply_exif: bool = True,
        require_images: bool | None = None,
        error_writer: DiskWriter | None = None,
    ):
        super().__init__()
        self.fetcher_options = fetcher_options or {}
        self.batch_size, self.max_pixels, self.apply_exif = batch_size, max_pixels, apply_exif
        self.require_images = require_images
        self.error_writer = error_writer

    def _image(self, media, fetched: FetchResult | None) -> str | None:
        """Attach decoded bytes to one image; return why it failed, or None."""
        if media.media_bytes is None:
            if fetched is None:
                return "no_url: the image has no URL"
            if not fetched.ok:
                media.metadata["fetch_status"] = fetched.status
                return f"{fetched.kind}: {fetched.reason}"
            media.media_bytes = fetched.data
            media.metadata["fetched_from"] = "http"
        try:
            image = decode_image(media.media_bytes, self.max_pixels, self.apply_exif)
        except ImageError as exc:
            media.media_bytes = None
            return f"{exc.kind}: {exc}"
        media.media_bytes, media.length = image.data, len(image.data)
        media.metadata.update(format=image.format, width=image.width, height=image.height)
        if image.exif_orientation is not None:
            media.metadata["exif_orientation"] = image.exif_orientation
            media.metadata["exif_applied"] = image.reencoded and image.exif_orientation != 1
        return None

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        fetcher = ImageFetcher(**self.fetcher_options)
        try:
            with self._error_context():
                for batch in batched(data, self.batch_size):
                    wanted = [
                        m.url
                        for doc in batch
                        if not page_opt_out(doc)
                        for m in doc.media
                        if m.media_bytes is None and m.url
                    ]
                    with self.track_time("batch"):
                        results = fetcher.fetch_all(wanted)
                    for doc in batch:
                        yield from self._finish(doc, results, rank)
        finally:
            fetcher.close()

    def _finish(self, doc: Document, results: dict[str, FetchResult], rank: int):
        self.stat_update("total")
        opted_out = page_opt_out(doc)
        failures = []
        with self.track_time():
            for media in doc.media:
                self.stat_update("images")
                if opted_out and media.media_bytes is None:
                    reason = f"opt_out: the page opts out ({', '.join(opted_out)})"
                else:
                    reason = self._image(media, results.get(media.url) if media.url else None)
                if reason:
                    media.metadata["fetch_error"] = reason
                    kind = reason.split(":", 1)[0]
                    self.stat_update("images_failed", f"images_failed_{kind}")
                    failures.append((media.url, reason))
                else:
                    self.stat_update("images_ok")
        require = self.require_images if self.require_images is not None else doc.metadata.get("kind") == PAIR
        if failures and require:
            url, reason = failures[0]
            self.send_to_errors(doc, f"image {url}: {reason}", f"image_{reason.split(':', 1)[0]}", rank)
            return
        for url, reason in failures:
            self.send_warning(doc, f"image {url}: {reason}", rank)
        self.stat_update("forwarded")
        yield doc
