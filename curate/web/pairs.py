"""Image-text pairs: from pages (<img> with meaningful alt text, <figure> captions) and from URL lists
(Parquet / CSV / TSV / JSONL with a URL and a caption column, as LAION and DataComp metadata)."""

from __future__ import annotations

import csv
import io
import json
import re

import pyarrow
from datatrove.data import Document
from datatrove.pipeline.writers.disk_base import DiskWriter

from curate.errors import InputFileError
from curate.record import error_record, image_media, pair_record
from curate.steps import InputReader, describe_error
from curate.web.extract import ImageRef, Page

URL_COLUMNS = ("url", "URL", "image_url", "img_url", "link", "image")
CAPTION_COLUMNS = ("caption", "TEXT", "text", "alt", "caption_text", "title")
LIST_SUFFIXES = (".parquet", ".csv", ".tsv", ".jsonl", ".jsonl.gz", ".json.gz", ".csv.gz", ".tsv.gz")
# alt texts that say nothing about the image
GENERIC_ALT = {
    "image",
    "img",
    "photo",
    "picture",
    "pic",
    "logo",
    "icon",
    "banner",
    "thumbnail",
    "avatar",
    "placeholder",
    "spacer",
    "graphic",
    "untitled",
    "null",
    "none",
    "undefined",
    "alt",
    "bild",
    "foto",
    "grafik",
}
# a caption whose last word is one of these names a page element, not a picture ("E-mail Icon")
ELEMENT_WORDS = {"icon", "logo", "button", "avatar", "thumbnail", "banner", "arrow", "badge", "spinner"}
_FILENAME = re.compile(r"^[\w\-. ]+\.(jpe?g|png|gif|webp|svg|bmp|tiff?)$", re.I)


def meaningful_caption(text: str | None, min_words: int = 3) -> bool:
    """A caption worth pairing: at least `min_words` words, not a file name, not a generic word."""
    if not text:
        return False
    words = text.split()
    if not words or _FILENAME.match(text.strip()) or text.lower().strip(" .") in GENERIC_ALT:
        return False
    if words[-1].lower().strip(".:") in ELEMENT_WORDS:
        return False
    return len(words) >= min_words


def image_caption(ref: ImageRef, min_words: int = 3) -> tuple[str, str] | None:
    """The caption of an image and where it came from: its <figcaption>, else its alt text."""
    if meaningful_caption(ref.caption, min_words):
        return ref.caption, "figcaption"
    if meaningful_caption(ref.alt, min_words):
        return ref.alt, "alt"
    return None


def page_pairs(
    page: Page, page_id: str, source: str, min_words: int = 3, stored=None, **meta
) -> list[Document]:
    """One pair record per image of the page that has a meaningful caption; `stored` (images found in
    the WARC, `curate.web.warc.StoredImages`) gives their bytes where the crawl holds them."""
    pairs, seen = [], set()
    for index, ref in enumerate(page.images):
        found = image_caption(ref, min_words)
        if not found or ref.url in seen:  # an image repeated on a page is one pair
            continue
        seen.add(ref.url)
        caption, origin = found
        data = stored.get(ref.url) if stored else None
        extra = {k: v for k, v in (("declared_width", ref.width), ("declared_height", ref.height)) if v}
        if data is not None:
            extra["fetched_from"] = "warc"
        media = image_media(data, media_id=f"{page_id}#img{index}", url=ref.url, alt=ref.alt, **extra)
        pairs.append(
            pair_record(
                f"{page_id}#img{index}",
                caption,
                media,
                source=source,
                caption_source=origin,
                page_url=page.url,
                page_title=page.title,
                **meta,
            )
        )
    return pairs


def _pick(columns, wanted: str | None, candidates: tuple[str, ...], what: str, source: str) -> str:
    if wanted:
        if wanted not in columns:
            raise InputFileError(
                "unreadable_list",
                f"{source}: no {what} column {wanted!r}; columns: {', '.join(map(str, columns))}",
            )
        return wanted
    for name in candidates:
        if name in columns:
            return name
    raise InputFileError(
        "unreadable_list",
        f"{source}: no {what} column (looked for {', '.join(candidates)}); columns: {', '.join(map(str, columns))}"
        f"; name it with --set {what}_column=NAME",
    )


class UrlListReader(InputReader):
    """Reads URL lists (LAION / DataComp metadata style) into pair records whose image is a URL to fetch.

    Columns are found by name (`url`/`URL`..., `caption`/`TEXT`/`text`...) or given with `url_column`
    and `caption_column`; every other column goes into the record's metadata. A row without a URL or a
    caption is an error record; a file without such columns is one error record naming its columns.
    """

    name = "🔗 URL list"

    def __init__(
        self,
        data_folder,
        url_column: str | None = None,
        caption_column: str | None = None,
        error_writer: DiskWriter | None = None,
        glob_pattern: str | None = None,
        **reader_kwargs,
    ):
        super().__init__(data_folder, error_writer=error_writer, glob_pattern=glob_pattern, **reader_kwargs)
        self.url_column, self.caption_column = url_column, caption_column

    def _rows(self, filepath: str):
        name = filepath.lower()
        if name.endswith(".parquet"):
            import pyarrow.parquet as pq

            with self.data_folder.open(filepath, "rb") as f:
                table = pq.ParquetFile(f)
                for batch in table.iter_batches(batch_size=4096):
                    yield from batch.to_pylist()
            return
        with self.data_folder.open(filepath, "rb", compression="infer") as f:
            text = io.TextIOWrapper(f, encoding="utf-8", errors="replace", newline="")
            if ".jsonl" in name or ".json" in name:
                for line in text:
                    if line.strip():
                        yield json.loads(line)
            else:
                yield from csv.DictReader(text, delimiter="\t" if ".tsv" in name else ",")

    def read_file(self, filepath: str):
        source, file_id, raw = self.input_names(filepath)
        if not filepath.lower().endswith(LIST_SUFFIXES):
            return
        columns = url_col = caption_col = None
        try:
            for index, row in enumerate(self._rows(filepath)):
                if columns is None:
                    columns = list(row)
                    url_col = _pick(columns, self.url_column, URL_COLUMNS, "url", source)
                    caption_col = _pick(columns, self.caption_column, CAPTION_COLUMNS, "caption", source)
                record_id = f"{file_id}#{index}"
                url, caption = row.get(url_col), row.get(caption_col)
                url = str(url).strip() if url is not None else ""
                caption = " ".join(str(caption).split()) if caption is not None else ""
                if not url or not caption:
                    missing = "url" if not url else "caption"
                    reason = f"row {index}: empty {missing} ({url_col if not url else caption_col!r})"
                    err = error_record(f"{source}#{index}", self.name, reason, row=index, **raw)
                    self.send_to_errors(err, reason, f"missing_{missing}", self._rank)
                    continue
                extra = {k: v for k, v in row.items() if k not in (url_col, caption_col) and _jsonable(v)}
                media = image_media(None, media_id=f"{record_id}#img", url=url, alt=None)
                yield pair_record(
                    record_id,
                    caption,
                    media,
                    source=source,
                    row=index,
                    caption_source="list",
                    **raw,
                    **{"list": extra} if extra else {},
                )
        # a file that is not what its name says (bad Parquet/CSV/JSON, gzip, encoding) or lacks the
        # columns: one error naming the file; rows read before the fault are kept
        except (InputFileError, ValueError, OSError, EOFError, csv.Error, pyarrow.ArrowException) as exc:
            reason = describe_error(exc)
            err = error_record(source, self.name, reason, **raw)
            self.send_to_errors(err, reason, "unreadable_list", self._rank)


def _jsonable(value) -> bool:
    return value is None or isinstance(value, (str, int, float, bool))
