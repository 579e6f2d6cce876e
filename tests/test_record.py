"""The record survives the on-disk format losslessly: image bytes, order of blocks and images, metadata, scores."""

from __future__ import annotations

from datatrove.data import Document

from curate.io import RecordReader, RecordWriter
from curate.record import (
    image_media,
    interleaved_record,
    pair_record,
    sample_key,
    sequence_of,
    set_score,
)


def _round_trip(docs: list[Document], tmp_path) -> list[Document]:
    with RecordWriter(str(tmp_path)) as writer:
        for doc in docs:
            writer.write(doc, rank=0)
    return list(RecordReader(str(tmp_path)).run())


def test_interleaved_and_pair_records_round_trip(shared_data, tmp_path):
    photos = shared_data / "images" / "photos"
    jpeg, png = (photos / "flower.jpg").read_bytes(), (photos / "hopper.png").read_bytes()
    doc = interleaved_record(
        "https://example.org/a",
        [
            "First paragraph.",
            image_media(jpeg, media_id="i0", url="https://example.org/f.jpg", alt="a flower", fmt="jpeg"),
            "Second paragraph, ünïcode ✓.",
            image_media(png, media_id="i1", url="https://example.org/h.png", alt=None, fmt="png"),
        ],
        source="crawl.warc.gz",
        licence="cc-by",
    )
    set_score(doc, "nsfw", 0.01)
    pair = pair_record(
        "p1", "a red flower", image_media(jpeg, media_id="p1/img", fmt="jpeg"), source="list.parquet"
    )
    empty_text = pair_record("p2", "", image_media(png, media_id="p2/img", fmt="png"), source="list.parquet")

    back = _round_trip([doc, pair, empty_text], tmp_path)

    assert [d.id for d in back] == ["https://example.org/a", "p1", "p2"]
    again = back[0]
    assert again.media[0].media_bytes == jpeg and again.media[1].media_bytes == png
    assert again.media[0].alt == "a flower" and again.media[1].alt is None
    seq = sequence_of(again)
    assert [type(x).__name__ for x in seq] == ["str", "Media", "str", "Media"]
    assert seq[2] == "Second paragraph, ünïcode ✓."
    assert again.metadata["scores"] == {"nsfw": 0.01}
    assert again.metadata["licence"] == "cc-by"
    assert again.metadata == doc.metadata
    # a record without text is kept (datatrove's readers would skip it)
    assert back[2].text == "" and back[2].media[0].media_bytes == png


def test_sample_keys_are_tar_safe_and_unique():
    ids = ["a/b.pdf#page=1", "a/b.pdf#page=10", "a_b_pdf_page_1", "ü.pdf#page=1", ""]
    keys = [sample_key(i) for i in ids]
    assert len(set(keys)) == len(keys)
    for key in keys:
        assert key and "." not in key and "/" not in key
