"""Sharpness filter: real photos kept, blurred, faded and blank copies of them dropped, wired by name."""

from __future__ import annotations

import io
import json

import pytest
from curate.filters.sharpness import SharpnessFilter, image_sharpness
from curate.filters.stages import filters_stage
from PIL import Image, ImageEnhance, ImageFilter

from curate.recipe import StageContext
from curate.record import image_media, pair_record, scores


def jpeg(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.convert("RGB").save(out, "JPEG", quality=90)
    return out.getvalue()


@pytest.fixture(scope="module")
def photos(shared_data) -> dict[str, bytes]:
    files = sorted((shared_data / "images" / "photos").iterdir()) + sorted(
        (shared_data / "images" / "captioned").glob("*.jpg")
    )
    return {f.name: f.read_bytes() for f in files}


def degraded(data: bytes) -> dict[str, bytes]:
    """The photo blurred (a Gaussian of 1% of its side, as an out-of-focus shot), faded to 3% of its
    contrast (a washed-out placeholder), and a blank image of its size."""
    with Image.open(io.BytesIO(data)) as image:
        image.load()
        return {
            "blurred": jpeg(image.filter(ImageFilter.GaussianBlur(max(image.size) * 0.01))),
            "faded": jpeg(ImageEnhance.Contrast(image.convert("RGB")).enhance(0.03)),
            "blank": jpeg(Image.new("RGB", image.size, (200, 180, 40))),
        }


def pair(name: str, data: bytes):
    return pair_record(name, f"a caption of {name}", image_media(data, media_id="0"), source=name)


def test_real_photos_score_above_the_cut_and_degraded_copies_below(photos):
    cut = SharpnessFilter().min_sharpness
    sharp = {name: image_sharpness(data) for name, data in photos.items()}
    assert min(sharp.values()) > 2 * cut, sharp  # a margin: the lowest photo scores 129
    for name, data in photos.items():
        for kind, copy in degraded(data).items():
            value = image_sharpness(copy)
            assert value < cut, (name, kind, value)
            assert value < sharp[name] / 2.5, (name, kind, value, sharp[name])


def test_filter_keeps_photos_drops_blurred_and_errors_on_a_broken_image(photos, shared_data):
    records = [pair(name, data) for name, data in photos.items()]
    records += [pair(f"{name} blurred", degraded(data)["blurred"]) for name, data in list(photos.items())[:5]]
    broken = (shared_data / "images" / "broken" / "truncated_jpeg.jpg").read_bytes()
    records += [
        pair("broken", broken),
        pair_record("not fetched", "x", image_media(None, media_id="0"), source="x"),
    ]
    step = SharpnessFilter()
    kept = list(step.run(iter(records)))
    kept_ids = {doc.id for doc in kept}
    assert kept_ids == set(photos) | {"not fetched"}
    assert all(scores(doc)["sharpness"] >= 50 for doc in kept if doc.id in photos)
    assert kept[0].media[0].metadata["sharpness"] == scores(kept[0])["sharpness"]
    stats = {key: value.total for key, value in step.stats.stats.items() if hasattr(value, "total")}
    assert stats["total"] == len(records)
    assert stats["dropped_image_blurred"] == 5 and stats["errored"] == 1
    assert stats["forwarded"] + stats["dropped"] + stats["errored"] == len(records)


def test_record_score_is_its_least_sharp_image(photos):
    sharp, blurred = photos["flower.jpg"], degraded(photos["flower.jpg"])["blurred"]
    doc = pair("two", sharp)
    doc.media.append(image_media(blurred, media_id="1"))
    SharpnessFilter().score(doc)
    assert scores(doc)["sharpness"] == pytest.approx(image_sharpness(blurred))


def test_wired_by_name_with_its_option_and_switch(tmp_path):
    stage = filters_stage("filter", ["sharpness"])
    options = {option.name: option for option in stage.options}
    assert options["min_sharpness"].default == SharpnessFilter().min_sharpness  # from the constructor
    assert options["sharpness"].default is True

    ctx = StageContext("filter", str(tmp_path), tmp_path, {"min_sharpness": "80"})
    steps = stage.build(ctx)
    assert [type(s).__name__ for s in steps] == ["RecordReader", "SharpnessFilter", "RecordWriter"]
    assert steps[1].min_sharpness == 80
    applied = json.loads((ctx.stage_dir / "thresholds.json").read_text())
    assert applied["sharpness"]["min"] == 80

    off = StageContext("filter", str(tmp_path), tmp_path, {"sharpness": "false"})
    assert not stage.is_active(off)
