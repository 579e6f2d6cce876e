"""Web pages (WARC responses or saved HTML files) -> interleaved records or image-text pair records.

`WebPageReader` reads a folder of WARC/ARC files and HTML files. Per WARC it first collects the image
responses stored in it, so a page's images are taken from the WARC when they are there. Damaged records
and pages that fail to extract become error records with their reason; the run goes on.

Funnel unit: one page. in = records yielded + pages dropped (nothing usable) + pages/records errored.
"""

from __future__ import annotations

import os
import re

from datatrove.data import Document, Media
from datatrove.pipeline.writers.disk_base import DiskWriter
from lxml import etree

from curate.record import INTERLEAVED, PAIR, error_record, image_media, interleaved_record
from curate.secrets import strip_credentials
from curate.steps import InputReader, describe_error
from curate.web.extract import ImageRef, Page, extract_page, page_url_from_html
from curate.web.http_client import opt_out_directives
from curate.web.pairs import page_pairs
from curate.web.warc import (
    DEFAULT_MAX_HTML_BYTES,
    DEFAULT_MAX_RECORD_BYTES,
    StoredImages,
    WarcProblem,
    WarcResponse,
    iter_responses,
    read_capped,
    stored_images,
)

WARC_SUFFIXES = (".warc", ".warc.gz", ".arc", ".arc.gz")
HTML_SUFFIXES = (".html", ".htm", ".html.gz", ".htm.gz")
WEB_SUFFIXES = WARC_SUFFIXES + HTML_SUFFIXES
_UUID = re.compile(r"<?urn:uuid:([0-9a-fA-F-]+)>?")


def image_of(ref: ImageRef, media_id: str, stored: StoredImages | None = None) -> Media:
    """The record image of an extracted <img>: bytes from the WARC when stored there, else only a URL."""
    data = stored.get(ref.url) if stored else None
    meta = {
        k: v
        for k, v in (
            ("declared_width", ref.width),
            ("declared_height", ref.height),
            ("caption", ref.caption),
            ("title", ref.title),
        )
        if v is not None
    }
    if data is not None:
        meta["fetched_from"] = "warc"
    return image_media(data, media_id=media_id, url=ref.url, alt=ref.alt, **meta)


def interleaved_record_from_page(
    page: Page, record_id: str, source: str, stored: StoredImages | None, **meta
) -> Document:
    """The interleaved record of an extracted web page: its text blocks and images in page order."""
    sequence: list[str | Media] = []
    for item in page.items:
        if isinstance(item, ImageRef):
            sequence.append(image_of(item, f"{record_id}#img{len(sequence)}", stored))
        else:
            sequence.append(item.text)
    return interleaved_record(
        record_id,
        sequence,
        source=source,
        url=page.url,
        title=page.title,
        language=page.language,
        charset=page.charset,
        **meta,
    )


class WebPageReader(InputReader):
    """Reads WARC/ARC and HTML files; yields one interleaved record per page (`record_kind="interleaved"`)
    or one pair record per captioned image (`record_kind="pair"`).

    Args:
        data_folder: folder (or file) of .warc(.gz)/.arc(.gz) and .html files
        record_kind: the kind of record made, "interleaved" or "pair" (curate.record's INTERLEAVED, PAIR)
        use_stored_images: take images stored in the WARC from it (a first pass over each file)
        min_caption_words: pairs: fewest words an alt text needs to count as a caption
        max_html_bytes: largest page (HTML after Content-Encoding / .gz decoding) read and parsed;
            a larger one is an error record (`too_large`) naming the file and URL
        max_record_bytes: largest WARC record as stored (before decoding); larger ones are errors too
        error_writer: where damaged records and failed pages are recorded
    """

    name = "🕸 Web pages"

    def __init__(
        self,
        data_folder,
        record_kind: str = INTERLEAVED,
        use_stored_images: bool = True,
        min_caption_words: int = 3,
        max_link_density: float | None = None,
        max_html_bytes: int = DEFAULT_MAX_HTML_BYTES,
        max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES,
        error_writer: DiskWriter | None = None,
        glob_pattern: str | None = None,
        **reader_kwargs,
    ):
        super().__init__(data_folder, error_writer=error_writer, glob_pattern=glob_pattern, **reader_kwargs)
        if record_kind not in (INTERLEAVED, PAIR):
            raise ValueError(f"record_kind must be {INTERLEAVED!r} or {PAIR!r}, not {record_kind!r}")
        self.record_kind, self.use_stored_images = record_kind, use_stored_images
        self.min_caption_words, self.max_link_density = min_caption_words, max_link_density
        self.max_html_bytes, self.max_record_bytes = max_html_bytes, max_record_bytes

    def _fail(self, source: str, reason: str, kind: str, **meta) -> None:
        self.send_to_errors(error_record(source, self.name, reason, **meta), reason, kind, self._rank)

    def read_file(self, filepath: str):
        name = filepath.lower()
        source, file_id, raw = self.input_names(filepath)
        if name.endswith(WARC_SUFFIXES):
            yield from self._read_warc(filepath, source, file_id, raw)
        elif name.endswith(HTML_SUFFIXES):
            yield from self._read_html(filepath, source, file_id, raw)

    def _read_html(self, filepath: str, source: str, file_id: str, raw: dict):
        try:
            with self.data_folder.open(filepath, "rb", compression="infer") as f:
                data = read_capped(f, self.max_html_bytes)
        except (
            OSError,
            EOFError,
        ) as exc:  # unreadable or not valid gzip: this file is an error, the others go on
            self._fail(source, describe_error(exc), "unreadable_file", file=file_id, **raw)
            return
        if data is None:
            reason = f"page too large: over max_html_bytes={self.max_html_bytes:,} bytes of HTML"
            self._fail(source, reason, "too_large", file=filepath)
            return
        url = strip_credentials(page_url_from_html(data) or f"file://{os.path.abspath(source)}")
        yield from self._records(data, url, file_id, source, None, {"file": file_id, **raw})

    def _read_warc(self, filepath: str, source: str, file_id: str, raw: dict):
        stored = None
        if self.use_stored_images:
            stored = stored_images(
                lambda: self.data_folder.open(filepath, "rb"), max_record_bytes=self.max_record_bytes
            )
            self.stat_update("warc_stored_images", value=len(stored.by_url))
        with self.data_folder.open(filepath, "rb") as stream:
            responses = iter_responses(
                stream,
                html=True,
                images=False,
                max_record_bytes=self.max_record_bytes,
                max_payload_bytes=self.max_html_bytes,
            )
            for item in responses:
                if isinstance(item, WarcProblem):
                    item.url = strip_credentials(item.url) if item.url else item.url
                    source_id = f"{source}#{item.url or item.offset}"
                    self._fail(
                        source_id,
                        item.reason,
                        item.kind,
                        file=file_id,
                        url=item.url,
                        warc_record_id=item.record_id,
                        **raw,
                    )
                    continue
                if not item.is_html:
                    continue
                yield from self._warc_page(item, file_id, raw, source, stored)

    def _warc_page(self, response: WarcResponse, file_id: str, raw: dict, source: str, stored):
        # the file is part of the id: the same page in two WARCs (or one WARC given twice) gives two
        # records with distinct sample keys, not two samples under one key
        # a crawled URL's `user:password@` stays out of the id, the sample key and everything after
        response.url = strip_credentials(response.url)
        uuid = _UUID.search(response.record_id)
        record_id = f"{file_id}#{response.url}#{uuid.group(1) if uuid else response.record_id}"
        opt_out = opt_out_directives(response.headers.get("x-robots-tag"))
        meta = {
            **raw,
            "file": file_id,
            "date": response.date,
            "warc_record_id": response.record_id,
            "http_content_type": response.headers.get("content-type"),
            "opt_out": opt_out,
        }
        yield from self._records(
            response.payload, response.url, record_id, source, stored, meta, response.charset
        )

    def _records(self, data: bytes, url: str, record_id: str, source: str, stored, meta: dict, charset=None):
        try:
            with self.track_time():
                # pairs take every captioned image of the page (as LAION/DataComp do), not only the article's
                page = extract_page(
                    data,
                    url,
                    charset=charset,
                    max_link_density=self.max_link_density,
                    main_content=self.record_kind != PAIR,
                )
        # what a malformed page can make the parser raise (bad markup, unknown charset, too deep)
        except (ValueError, LookupError, etree.LxmlError) as exc:
            self._fail(
                f"{source}#{url}",
                f"extraction failed: {describe_error(exc)}",
                "extraction_failed",
                url=url,
                **{k: v for k, v in meta.items() if k != "opt_out"},
            )
            return
        meta["opt_out"] = sorted(
            set(meta.get("opt_out", [])) | set(opt_out_directives(",".join(page.robots)))
        )
        self.stat_update("pages")
        self.stat_update("images_skipped", value=page.skipped_images)
        if self.record_kind == PAIR:
            pairs = page_pairs(page, record_id, source, self.min_caption_words, stored, **meta)
            if not pairs:
                self.stat_update("dropped", "dropped_no_captioned_image")
            yield from pairs
            return
        if not page.items:
            self.stat_update("dropped", "dropped_empty_page")
            return
        yield interleaved_record_from_page(page, record_id, source, stored, **meta)


def is_url_list(input: str) -> bool:
    """Which reader an input needs: URL lists (`UrlListReader`: Parquet/CSV/TSV/JSONL files and no WARC
    or HTML file among them) or pages (`WebPageReader`; a `warc.paths.gz` listing names WARCs)."""
    from curate.location import location
    from curate.web.listing import is_paths_listing
    from curate.web.pairs import LIST_SUFFIXES

    if is_paths_listing(input):
        return False
    path = location(input)  # local or a URL (s3://...)
    files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
    return any(p.name.lower().endswith(LIST_SUFFIXES) for p in files) and not any(
        p.name.lower().endswith(WEB_SUFFIXES) for p in files
    )
