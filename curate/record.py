"""One sample record for the three kinds of samples, on datatrove's `Document` and `Media`.

A record is a `Document` whose
- `text` is the sample's text (page text, caption, or the text blocks of a web document joined),
- `media` are its images, in order (encoded bytes in `media_bytes`, or only a `url` before fetching;
  `alt` text; `metadata` with the image's position, size and format),
- `metadata` holds `kind` (page | pair | interleaved), `source` (file or URL), provenance fields,
  `scores` (one float per scorer, written before any threshold is applied) and, for interleaved
  documents, `texts`: the ordered sequence of text blocks with `None` where an image sits.

Records travel between stages as Parquet rows (`record_to_row` / `row_to_record`), losslessly.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from datatrove.data import Document, Media, MediaType

PAGE, PAIR, INTERLEAVED = "page", "pair", "interleaved"
DOCUMENT = "document"  # the pages of one PDF (curate/pdf/documents.py)


def image_media(
    image_bytes: bytes | None,
    *,
    media_id: str,
    url: str = "",
    alt: str | None = None,
    fmt: str | None = None,
    **metadata: Any,
) -> Media:
    """An image of a record: encoded bytes (or None before fetching) plus what is known about it."""
    if fmt:
        metadata["format"] = fmt
    return Media(
        id=media_id,
        type=MediaType.IMAGE,
        url=url,
        alt=alt,
        media_bytes=image_bytes,
        length=len(image_bytes) if image_bytes is not None else None,
        metadata=metadata,
    )


def pdf_page_record(
    record_id: str, text: str, image: Media | None, *, source: str, page: int, **metadata: Any
) -> Document:
    """A PDF page: its text and its rendered image. `page` counts from 1."""
    return Document(
        text=text,
        id=record_id,
        media=[image] if image is not None else [],
        metadata={"kind": PAGE, "source": source, "page": page, "scores": {}, **metadata},
    )


def pair_record(record_id: str, caption: str, image: Media, *, source: str, **metadata: Any) -> Document:
    """An image with its caption (alt text, figure caption or a URL list's caption column)."""
    return Document(
        text=caption,
        id=record_id,
        media=[image],
        metadata={"kind": PAIR, "source": source, "scores": {}, **metadata},
    )


def interleaved_record(
    record_id: str, sequence: list[str | Media], *, source: str, **metadata: Any
) -> Document:
    """A web document: text blocks and images in page order.

    `metadata["texts"]` keeps the order: one entry per item, the text block or `None` where the
    next image of `media` sits, so texts and images are aligned lists as in OBELICS.
    """
    doc = Document(
        text="", id=record_id, metadata={"kind": INTERLEAVED, "source": source, "scores": {}, **metadata}
    )
    set_sequence(doc, sequence)
    return doc


def set_sequence(doc: Document, sequence: list[str | Media]) -> None:
    """Set an interleaved record's text blocks and images in order (empty blocks dropped), keeping
    `text`, `media`, `metadata["texts"]` and each image's position aligned."""
    texts: list[str | None] = []
    media: list[Media] = []
    for item in sequence:
        if isinstance(item, Media):
            item.metadata["position"] = len(texts)
            texts.append(None)
            media.append(item)
        elif item:
            texts.append(item)
    doc.media, doc.metadata["texts"] = media, texts
    doc.text = "\n\n".join(t for t in texts if t)


def sequence_of(doc: Document) -> list[str | Media]:
    """The ordered text blocks and images of a record (a page or pair is its image, then its text)."""
    texts = doc.metadata.get("texts")
    if texts is None:
        return [*doc.media, doc.text] if doc.text else list(doc.media)
    images = iter(doc.media)
    return [next(images) if t is None else t for t in texts]


def scores(doc: Document) -> dict[str, float]:
    return doc.metadata.setdefault("scores", {})


def set_score(doc: Document, name: str, value: float) -> None:
    scores(doc)[name] = float(value)


def mark_error(doc: Document, stage: str, reason: str) -> Document:
    """Attach the reason a record could not be processed; it then goes to the error sink."""
    doc.metadata["error"] = {"stage": stage, "reason": reason, "severity": "error"}
    return doc


def error_record(source: str, stage: str, reason: str, **metadata: Any) -> Document:
    """An error about an input that yielded no record at all (e.g. a PDF that does not open)."""
    return mark_error(
        Document(text="", id=f"{source}#error", metadata={"source": source, **metadata}), stage, reason
    )


# ---- on-disk row format (Parquet) -------------------------------------------------------------

MEDIA_FIELDS = ("id", "type", "url", "alt", "path", "offset", "length", "media_bytes")


def record_to_row(doc: Document) -> dict:
    """A flat row with a fixed schema: metadata as JSON text so heterogeneous records share one schema."""
    return {
        "id": doc.id,
        "text": doc.text,
        "kind": doc.metadata.get("kind", ""),
        "media": [
            {**{f: getattr(m, f) for f in MEDIA_FIELDS}, "metadata": json.dumps(m.metadata)}
            for m in doc.media
        ],
        "metadata": json.dumps(doc.metadata, ensure_ascii=False),
    }


def row_to_record(row: dict) -> Document:
    return Document(
        text=row["text"] or "",
        id=row["id"],
        media=[Media(**{**m, "metadata": json.loads(m["metadata"] or "{}")}) for m in row.get("media") or []],
        metadata=json.loads(row["metadata"] or "{}"),
    )


def parquet_schema():
    import pyarrow as pa

    media = pa.struct(
        [
            ("id", pa.string()),
            ("type", pa.int32()),
            ("url", pa.string()),
            ("alt", pa.string()),
            ("path", pa.string()),
            ("offset", pa.int64()),
            ("length", pa.int64()),
            ("media_bytes", pa.large_binary()),
            ("metadata", pa.string()),
        ]
    )
    return pa.schema(
        [
            ("id", pa.string()),
            ("text", pa.large_string()),
            ("kind", pa.string()),
            ("media", pa.list_(media)),
            ("metadata", pa.large_string()),
        ]
    )


# ---- sample keys --------------------------------------------------------------------------------

_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")


def sample_key(record_id: str) -> str:
    """A tar-safe, unique WebDataset key: readable prefix + hash of the full id.

    WebDataset splits a member name at the first dot, so keys contain no dots or slashes.
    """
    readable = _UNSAFE.sub("_", record_id).strip("_")[-60:]
    digest = hashlib.sha1(record_id.encode()).hexdigest()[:12]
    return f"{readable}_{digest}" if readable else digest
