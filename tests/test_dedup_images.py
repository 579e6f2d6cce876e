"""Image dedup on real photos: planted re-encodes, resizes and EXIF rotations are found across tasks;
different photos are kept; every dropped record names the kept one; the funnel balances."""

from __future__ import annotations

import io

from curate.filters.dedup.stages import exact_dedup_stages, image_phash_dedup_stages
from PIL import Image

from curate.io import RecordReader, RecordWriter
from curate.recipe import Recipe
from curate.record import image_media, pair_record
from curate.run.executors import ExecutorConfig
from curate.run.report import run_funnel
from curate.run.runner import run_recipe


def _pair(record_id: str, data: bytes, fmt: str):
    return pair_record(
        record_id, f"caption of {record_id}", image_media(data, media_id=record_id, fmt=fmt), source=record_id
    )


def _reencode(data: bytes, **save) -> bytes:
    image = Image.open(io.BytesIO(data)).convert("RGB")
    if "size" in save:
        image = image.resize(save.pop("size"))
    out = io.BytesIO()
    image.save(out, "JPEG", **save)
    return out.getvalue()


def write_records(folder, shards: list[list]) -> None:
    """One Parquet file per shard, so the keys stage runs one task per shard."""
    for rank, docs in enumerate(shards):
        with RecordWriter(str(folder)) as writer:
            for doc in docs:
                writer.write(doc, rank)


def read_folder(folder) -> dict:
    return {doc.id: doc for doc in RecordReader(str(folder)).run()} if folder.exists() else {}


def run(stages, input_dir, output):
    run_recipe(Recipe("dedup-test", stages), str(input_dir), output, ExecutorConfig("local", workers=1))
    funnels = run_funnel(output)
    assert funnels and all(f.balanced for f in funnels), [(f.stage, f.records_in, f.kept) for f in funnels]
    return funnels


def test_near_duplicate_photos_found_across_tasks(shared_data, tmp_path):
    photos = shared_data / "images" / "photos"
    hopper = (photos / "hopper.jpg").read_bytes()
    others = [
        "123_456.jpg",
        "208_495.jpg",
        "321_421.jpg",
        "389_535.jpg",
        "416_264.jpg",
        "456_123.jpg",
        "524_316.jpg",
        "flower.jpg",
        "flower2.jpg",
        "exif.png",
    ]
    first = [_pair("hopper", hopper, "jpeg")] + [
        _pair(name, (photos / name).read_bytes(), name.rsplit(".", 1)[1]) for name in others[:5]
    ]
    planted = {
        "hopper-q30": _reencode(hopper, quality=30),
        "hopper-resized": _reencode(hopper, quality=90, size=(300, 300)),
        **{f"hopper-exif-{n}": (photos / f"hopper_orientation_{n}.jpg").read_bytes() for n in range(2, 9)},
    }
    second = [_pair(k, v, "jpeg") for k, v in planted.items()] + [
        _pair(name, (photos / name).read_bytes(), name.rsplit(".", 1)[1]) for name in others[5:]
    ]
    write_records(tmp_path / "in", [first, second])
    run(image_phash_dedup_stages(threshold=6), tmp_path / "in", tmp_path / "out")

    kept = read_folder(tmp_path / "out" / "stages" / "image-dedup-filter" / "data")
    excluded = read_folder(tmp_path / "out" / "stages" / "image-dedup-filter" / "excluded")
    assert set(kept) == {"hopper", *others}, "every different photo is kept, one hopper"
    assert set(excluded) == set(planted)
    for doc in excluded.values():
        assert doc.metadata["duplicate_of"] == "hopper"
    # the re-encodes have other pixels (near duplicates); some EXIF-rotated files decode to exactly
    # the pixels of another rotated file once their orientation is applied (exact duplicates)
    assert excluded["hopper-q30"].metadata["filter_reason"] == "near_duplicate_image"
    assert excluded["hopper-resized"].metadata["filter_reason"] == "near_duplicate_image"
    assert {d.metadata["filter_reason"] for d in excluded.values()} == {
        "near_duplicate_image",
        "duplicate_image",
    }


def test_exact_pixels_match_across_lossless_formats(shared_data, tmp_path):
    photos = shared_data / "images" / "photos"
    png = (photos / "hopper.png").read_bytes()
    tif = (photos / "hopper.tif").read_bytes()  # same pixels as the PNG, another container
    assert png != tif
    docs = [
        _pair("png", png, "png"),
        _pair("tif", tif, "tiff"),
        _pair("jpg", (photos / "hopper.jpg").read_bytes(), "jpeg"),  # lossy: other pixels
        _pair("flower", (photos / "flower.jpg").read_bytes(), "jpeg"),
    ]
    docs[3].text = docs[0].text  # same caption, other image: not an image duplicate
    write_records(tmp_path / "in", [docs])
    run(exact_dedup_stages(text=False, images=True), tmp_path / "in", tmp_path / "out")
    kept = read_folder(tmp_path / "out" / "stages" / "exact-dedup-filter" / "data")
    excluded = read_folder(tmp_path / "out" / "stages" / "exact-dedup-filter" / "excluded")
    assert set(kept) == {"png", "jpg", "flower"}
    assert excluded["tif"].metadata["duplicate_of"] == "png"
    assert excluded["tif"].metadata["filter_reason"] == "duplicate_image"


def test_repeated_pdf_page_render_is_dropped(shared_data, tmp_path):
    """Real PDFs: page 2 of scanned/multipage.pdf renders to the same pixels as broken/enormous.pdf."""
    from curate.filters.dedup.stages import page_dedup_stages
    from curate.pipelines.pdf_pages import pages_stage

    pdfs = tmp_path / "pdfs"
    for sub, name in (("broken", "enormous.pdf"), ("scanned", "multipage.pdf")):
        (pdfs / sub).mkdir(parents=True)
        (pdfs / sub / name).symlink_to(shared_data / "pdf" / sub / name)
    stages = [pages_stage(), *page_dedup_stages()]
    run_recipe(
        Recipe("t", stages),
        str(pdfs),
        tmp_path / "out",
        ExecutorConfig("local", workers=1),
        options={"ocr": False},
    )
    funnels = {f.stage: f for f in run_funnel(tmp_path / "out")}
    assert all(f.balanced for f in funnels.values())
    excluded = read_folder(tmp_path / "out" / "stages" / "dedup-filter" / "excluded")
    kept = read_folder(tmp_path / "out" / "stages" / "dedup-filter" / "data")
    assert len(kept) == 6 and set(excluded) == {"scanned/multipage.pdf#page=2"}
    assert excluded["scanned/multipage.pdf#page=2"].metadata["duplicate_of"] == "broken/enormous.pdf#page=1"
    assert excluded["scanned/multipage.pdf#page=2"].metadata["filter_reason"] == "duplicate_image"


def test_key_batches_hold_at_most_their_bytes_of_images(shared_data):
    """Records batched for the MinHash keys are cut by bytes too (a batch of 256 page records held ~90 MB):
    every record once, in order; a batch stops at the record that reached the size."""
    from curate.filters.dedup.keys_step import _batches

    images = [p.read_bytes() for p in sorted((shared_data / "images" / "photos").glob("*.jpg"))]
    docs = [
        pair_record(str(i), "x", image_media(images[i % len(images)], media_id=str(i)), source="s")
        for i in range(30)
    ]
    batches = list(_batches(iter(docs), 256, 50_000))
    assert [d.id for b in batches for d in b] == [d.id for d in docs]
    assert len(batches) > 1
    for batch in batches:
        sizes = [1 + len(d.media[0].media_bytes) for d in batch]
        assert sum(sizes[:-1]) < 50_000
    assert [len(b) for b in _batches(iter(docs), 7, 1 << 40)] == [7, 7, 7, 7, 2]
