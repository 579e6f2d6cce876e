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


def test_large_records_are_written_and_read_in_bounded_batches(shared_data, tmp_path, monkeypatch):
    """Rows go out when BYTES_PER_BATCH is reached before ROWS_PER_BATCH (a batch of 64 page images held
    ~22 MB three times over), each row group about that size; reading back gives every record in order."""
    import pyarrow.parquet as pq

    from curate import io

    images = [p.read_bytes() for p in sorted((shared_data / "images" / "photos").glob("*.jpg"))]
    cap = 60_000
    monkeypatch.setattr(io, "BYTES_PER_BATCH", cap)
    docs = [
        pair_record(
            f"p{i}", f"caption {i}", image_media(images[i % len(images)], media_id=f"i{i}"), source="s"
        )
        for i in range(40)
    ]
    back = _round_trip(docs, tmp_path)
    assert [d.id for d in back] == [d.id for d in docs]
    assert [d.media[0].media_bytes for d in back] == [d.media[0].media_bytes for d in docs]
    with pq.ParquetFile(next(tmp_path.glob("*.parquet"))) as parquet:
        groups = [parquet.read_row_group(i) for i in range(parquet.metadata.num_row_groups)]
        rows_per_batch = io.RecordReader(str(tmp_path))._rows_per_batch(parquet)
    # one row group of 40 without the cap (ROWS_PER_BATCH is 64); with it, each stops at the row that
    # reached the cap
    assert len(groups) > 1 and sum(g.num_rows for g in groups) == 40
    for group in groups:
        sizes = [len(m[0]["media_bytes"]) for m in group.column("media").to_pylist()]
        assert sum(sizes[:-1]) < cap
    assert 1 <= rows_per_batch < 40


def test_hub_parquet_row_groups_are_bounded_in_bytes_as_well_as_rows(shared_data, tmp_path):
    """The Hub Parquet writer closes a row group at `row_group_bytes` of images and text before
    `row_group_rows` (100 docmatix documents held ~25 MB of page PNGs three times over); every sample is
    written once, in order."""
    import pyarrow.parquet as pq

    from curate.output.hub_parquet import HubParquetWriter, parquet_files

    images = [p.read_bytes() for p in sorted((shared_data / "images" / "photos").glob("*.jpg"))]
    docs = [
        pair_record(
            f"p{i}", f"caption {i}", image_media(images[i % len(images)], media_id=f"i{i}"), source="s"
        )
        for i in range(40)
    ]
    writer = HubParquetWriter(str(tmp_path / "parquet"))
    writer.row_group_bytes = cap = 60_000
    assert [d.id for d in writer.run(iter(docs), rank=0)] == [d.id for d in docs]
    [path] = parquet_files(tmp_path)
    with pq.ParquetFile(path) as parquet:
        groups = [parquet.read_row_group(i) for i in range(parquet.metadata.num_row_groups)]
    # one row group of 40 by rows alone (row_group_rows is 100); with the cap each stops at the row
    # that reached it
    assert len(groups) > 1 and [i for g in groups for i in g.column("id").to_pylist()] == [d.id for d in docs]
    for group in groups:
        sizes = [len(row[0]["bytes"]) + len(text) for row, text in zip(
            group.column("images").to_pylist(), group.column("text").to_pylist(), strict=True
        )]  # fmt: skip
        assert sum(sizes[:-1]) < cap


def test_sample_keys_are_tar_safe_and_unique():
    ids = ["a/b.pdf#page=1", "a/b.pdf#page=10", "a_b_pdf_page_1", "ü.pdf#page=1", ""]
    keys = [sample_key(i) for i in ids]
    assert len(set(keys)) == len(keys)
    for key in keys:
        assert key and "." not in key and "/" not in key
