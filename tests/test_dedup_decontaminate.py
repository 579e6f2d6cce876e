"""Decontamination against an evaluation set (a folder of images, a file of questions) and the
cross-source flag, on real photos and real PDF text."""

from __future__ import annotations

import io

import pymupdf
from curate.filters.dedup.stages import cross_source_stage, decontamination_stage
from curate.pipelines.common import shards_stage
from PIL import Image

from curate.output.loader import make_dataset
from curate.recipe import Recipe
from curate.record import image_media, pair_record, pdf_page_record
from curate.run.executors import ExecutorConfig
from curate.run.runner import run_recipe
from tests.test_dedup_images import read_folder, write_records


def _pair(record_id: str, data: bytes, caption: str = "a photo"):
    return pair_record(record_id, caption, image_media(data, media_id=record_id), source=record_id)


def test_samples_matching_the_evaluation_set_are_dropped(shared_data, tmp_path):
    photos = shared_data / "images" / "photos"
    eval_images = tmp_path / "eval" / "images"
    eval_images.mkdir(parents=True)
    (eval_images / "test-0001.png").write_bytes((photos / "hopper.png").read_bytes())
    with pymupdf.open(shared_data / "pdf" / "born_digital" / "scotus-transcript-p1.pdf") as pdf:
        page_text = pdf[0].get_text()
    sentence = " ".join(page_text.split()[40:60])  # a question written from the page's own words
    questions = tmp_path / "eval" / "questions.txt"
    questions.write_text(f"What colour is the sky on Mars?\n{sentence}\n")

    smaller = io.BytesIO()
    Image.open(photos / "hopper.png").resize((90, 90)).save(smaller, "JPEG", quality=60)
    docs = [
        _pair("hopper-jpeg-copy", smaller.getvalue()),
        _pair("flower", (photos / "flower.jpg").read_bytes()),
        pdf_page_record("scotus#1", page_text, None, source="scotus-transcript-p1.pdf", page=1),
        pdf_page_record(
            "other-page", "A different page about gardening and tomatoes.", None, source="x", page=1
        ),
    ]
    write_records(tmp_path / "in", [docs])
    options = {"decontaminate_images": str(eval_images), "decontaminate_texts": str(questions)}
    run_recipe(
        Recipe("t", [decontamination_stage()]), str(tmp_path / "in"), tmp_path / "out", options=options
    )
    kept = read_folder(tmp_path / "out" / "stages" / "decontaminate" / "data")
    excluded = read_folder(tmp_path / "out" / "stages" / "decontaminate" / "excluded")
    assert set(kept) == {"flower", "other-page"}
    assert excluded["hopper-jpeg-copy"].metadata["contaminated_by"] == {"image": "test-0001.png"}
    assert excluded["hopper-jpeg-copy"].metadata["filter_reason"] == "decontaminated_image"
    assert excluded["scotus#1"].metadata["contaminated_by"] == {"text": "questions.txt:2"}


def test_pair_image_also_in_web_documents_is_flagged(shared_data, tmp_path):
    photos = shared_data / "images" / "photos"
    web = [
        pair_record(
            "web-doc", "text", image_media((photos / "hopper.tif").read_bytes(), media_id="i"), source="w"
        )
    ]
    write_records(tmp_path / "web", [web])
    pairs = [
        _pair("pair-hopper-png", (photos / "hopper.png").read_bytes()),  # same pixels as the TIFF
        _pair("pair-flower", (photos / "flower.jpg").read_bytes()),
    ]
    write_records(tmp_path / "in", [pairs])
    run_recipe(
        Recipe("t", [cross_source_stage()]),
        str(tmp_path / "in"),
        tmp_path / "out",
        ExecutorConfig("local", workers=1),
        options={"cross_source_records": str(tmp_path / "web")},
    )
    kept = read_folder(tmp_path / "out" / "stages" / "cross-source" / "data")
    assert kept["pair-hopper-png"].metadata["cross_source"] == {"record": "web-doc", "match": "pixels"}
    assert "cross_source" not in kept["pair-flower"].metadata


def test_without_an_evaluation_set_or_switched_off_everything_is_kept(shared_data, tmp_path):
    from curate.filters.dedup.stages import image_phash_dedup_stages

    photos = shared_data / "images" / "photos"
    docs = [_pair(name, (photos / name).read_bytes()) for name in ("hopper.png", "hopper.tif", "flower.jpg")]
    write_records(tmp_path / "in", [docs])
    stages = [decontamination_stage(), cross_source_stage(), *image_phash_dedup_stages(), shards_stage()]
    run_recipe(Recipe("t", stages), str(tmp_path / "in"), tmp_path / "out", options={"dedup": False})
    # switched-off stages are left out (they copy nothing); the shards get every record
    assert sorted(p.name for p in (tmp_path / "out" / "stages").iterdir()) == ["shards"]
    keys = {s["json"]["id"] for s in make_dataset(tmp_path / "out", decode_images=False)}
    assert keys == {"hopper.png", "hopper.tif", "flower.jpg"}
