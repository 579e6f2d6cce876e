"""NSFW filter: the detection -> score mapping, and NudeNet on the real photos (none is NSFW)."""

from __future__ import annotations

import pytest
from curate.filters.nsfw import NsfwClassifier, NsfwFilter, decode_bgr, nsfw_score_from_detections

from curate.errors import ImageError
from curate.record import image_media, interleaved_record, pair_record, scores


def det(cls: str, score: float) -> dict:
    return {"class": cls, "score": score, "box": [0, 0, 10, 10]}


def test_no_detection_scores_zero():
    assert nsfw_score_from_detections([]) == 0.0


def test_only_harmless_classes_score_zero():
    harmless = [
        det("FACE_FEMALE", 0.95),
        det("FACE_MALE", 0.9),
        det("FEET_EXPOSED", 0.9),
        det("BELLY_EXPOSED", 0.8),
        det("ARMPITS_EXPOSED", 0.8),
        det("MALE_BREAST_EXPOSED", 0.9),
        det("FEMALE_BREAST_COVERED", 0.9),
        det("BUTTOCKS_COVERED", 0.9),
    ]
    assert nsfw_score_from_detections(harmless) == 0.0


def test_explicit_class_scores_its_confidence_and_the_highest_wins():
    detections = [det("FACE_FEMALE", 0.99), det("FEMALE_BREAST_EXPOSED", 0.41), det("BUTTOCKS_EXPOSED", 0.73)]
    assert nsfw_score_from_detections(detections) == pytest.approx(0.73)


def test_many_weak_detections_do_not_add_up():
    assert nsfw_score_from_detections([det("ANUS_EXPOSED", 0.3)] * 20) == pytest.approx(0.3)


def test_class_weights_are_applied():
    weights = {"FEET_EXPOSED": 0.5}
    assert nsfw_score_from_detections([det("FEET_EXPOSED", 0.8)], weights) == pytest.approx(0.4)


class FixedClassifier(NsfwClassifier):
    """Returns preset scores, to test how image scores become record scores and verdicts."""

    def __init__(self, values):
        self.values = list(values)

    def image_scores(self, images):
        out, self.values = self.values[: len(images)], self.values[len(images) :]
        return out


def test_record_score_is_its_most_nsfw_image_and_threshold_applies(shared_data):
    photo = (shared_data / "images/photos/flower.jpg").read_bytes()
    doc = interleaved_record(
        "d",
        ["text", image_media(photo, media_id="a"), "more", image_media(photo, media_id="b")],
        source="s",
    )
    safe = pair_record("p", "a flower", image_media(photo, media_id="c"), source="s")
    step = NsfwFilter(max_score=0.5, classifier=FixedClassifier([0.1, 0.7, 0.2]))
    kept = list(step.run(iter([doc, safe])))
    assert scores(doc)["nsfw"] == pytest.approx(0.7)
    assert [m.metadata["nsfw"] for m in doc.media] == pytest.approx([0.1, 0.7])
    assert [d.id for d in kept] == ["p"]
    assert step.stats["dropped_nsfw"].total == 1


def test_undecodable_image_is_an_error_naming_the_record(shared_data):
    broken = (shared_data / "images/broken").glob("*")
    data = next(p for p in broken if p.suffix.lower() in (".png", ".jpg", ".jpeg")).read_bytes()[:40]
    with pytest.raises(
        ImageError, match="rec image m"
    ):  # a data error: the record is errored, the run goes on
        decode_bgr(data, "rec image m")


def test_nudenet_keeps_every_real_photo(shared_data):
    photos = sorted(p for p in (shared_data / "images/photos").iterdir() if p.is_file())
    assert len(photos) >= 20
    docs = [
        pair_record(p.name, p.stem, image_media(p.read_bytes(), media_id=p.name), source=str(p))
        for p in photos
    ]
    step = NsfwFilter(batch_size=8)
    kept = list(step.run(iter(docs)))
    assert [d.id for d in kept] == [d.id for d in docs]
    assert all(0.0 <= scores(d)["nsfw"] < 0.5 for d in kept)
    assert step.stats["errored"].total == 0


class HalfClassifier(NsfwClassifier):
    """A stand-in for another classifier, plugged in by its import path."""

    def __init__(self, batch_size: int = 1):
        self.batch_size = batch_size

    def image_scores(self, images):
        return [0.6 for _ in images]


def test_another_classifier_plugs_in_by_import_path(shared_data, tmp_path):
    from curate.filters.nsfw import NudeNetClassifier, make_nsfw_classifier
    from curate.filters.stages import nsfw_stage

    from curate.recipe import StageContext

    assert isinstance(make_nsfw_classifier("nudenet"), NudeNetClassifier)
    with pytest.raises(ValueError, match="unknown NSFW classifier"):
        make_nsfw_classifier("laion")
    with pytest.raises(TypeError, match="not an NsfwClassifier"):
        make_nsfw_classifier("pathlib:Path")
    options = {"nsfw_classifier": f"{__name__}:HalfClassifier", "nsfw_batch_size": 4}
    steps = nsfw_stage().build(StageContext("nsfw", str(tmp_path), tmp_path, options))
    step = steps[1]
    assert type(step.classifier).__name__ == "HalfClassifier" and step.classifier.batch_size == 4
    photo = (shared_data / "images/photos/flower.jpg").read_bytes()
    doc = pair_record("p", "a flower", image_media(photo, media_id="f"), source="s")
    assert list(step.run(iter([doc]))) == [] and scores(doc)["nsfw"] == pytest.approx(0.6)
