"""NSFW: score every image of a record with an image classifier, then drop records above a threshold.

The default classifier is NudeNet's packaged ONNX detector (CPU). It returns body-part detections, not
a label; `nsfw_score_from_detections` maps them to one image score: the highest confidence among
the explicit EXPOSED classes (covered parts, faces, feet, belly, armpits and a male chest do not count).
A record's score is its highest image score. Other classifiers (e.g. the LAION CLIP-embedding NSFW
head on GPU) plug in by implementing `NsfwClassifier.image_scores`.

Writes `scores["nsfw"]` on the record and `metadata["nsfw"]` on each scored image.
"""

from __future__ import annotations

import io
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping

import numpy as np
from datatrove.data import Document
from datatrove.pipeline.writers.disk_base import DiskWriter

from curate.errors import decoding_image
from curate.options import Option, OptionError
from curate.recipe import StageContext
from curate.record import scores, set_score
from curate.steps import ScoreFilter
from curate.wiring import StepSpec, arg

# NudeNet classes that make an image NSFW, with the weight of their confidence in the image score.
EXPLICIT_CLASSES: Mapping[str, float] = {
    "FEMALE_GENITALIA_EXPOSED": 1.0,
    "MALE_GENITALIA_EXPOSED": 1.0,
    "ANUS_EXPOSED": 1.0,
    "FEMALE_BREAST_EXPOSED": 1.0,
    "BUTTOCKS_EXPOSED": 1.0,
}


def nsfw_score_from_detections(
    detections: Iterable[Mapping], class_weights: Mapping[str, float] = EXPLICIT_CLASSES
) -> float:
    """An image's NSFW score in [0, 1]: the highest weighted confidence of an explicit detection, 0 if none.

    `detections` are NudeNet's: dicts with "class" and "score". The highest, not a sum, so that many
    low-confidence boxes on one harmless photo do not add up to a verdict.
    """
    best = 0.0
    for detection in detections:
        weight = class_weights.get(detection["class"], 0.0)
        best = max(best, weight * float(detection["score"]))
    return min(best, 1.0)


def decode_bgr(data: bytes, name: str = "image") -> np.ndarray:
    """Image bytes -> an 8-bit BGR array (OpenCV's layout, which NudeNet expects); Pillow for what OpenCV
    cannot read (e.g. GIF). Raises ImageError naming the image when neither can."""
    import cv2

    array = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if array is not None:
        return array
    from PIL import Image

    with decoding_image(name), Image.open(io.BytesIO(data)) as image:
        rgb = np.asarray(image.convert("RGB"))
    return np.ascontiguousarray(rgb[:, :, ::-1])


class NsfwClassifier(ABC):
    """Anything that gives each image an NSFW score in [0, 1]. Loaded lazily, once per task."""

    name = "classifier"

    @abstractmethod
    def image_scores(self, images: list[np.ndarray]) -> list[float]:
        """Scores for decoded BGR images, in order."""


# images per ONNX call: onnxruntime's CPU arena keeps the largest call's tensors for the process's life
# (~8 MB an image at 320 px, rounded up to a power of two: 128 MB held at 8, 24 MB at 2), so a pool
# worker's memory followed how full its batches had been (the pairs filter stage 240 -> 330 MB from 53
# to 848 records); per image the CPU is the same at 2 as at 8 (27-29 ms, 320n, one thread)
BATCH_SIZE = 2


class NudeNetClassifier(NsfwClassifier):
    """NudeNet 3.4's packaged 320n ONNX detector, batched, with `nsfw_score_from_detections`."""

    name = "nudenet"

    def __init__(self, batch_size: int = BATCH_SIZE, class_weights: Mapping[str, float] = EXPLICIT_CLASSES):
        self.batch_size = batch_size
        self.class_weights = dict(class_weights)
        self._detector = None

    @property
    def detector(self):
        if self._detector is None:
            from nudenet import NudeDetector

            from curate.run.worker_cache import worker_model

            self._detector = worker_model(("nudenet",), NudeDetector)
        return self._detector

    def detections(self, images: list[np.ndarray]) -> list[list[dict]]:
        return self.detector.detect_batch(images, batch_size=self.batch_size)

    def image_scores(self, images: list[np.ndarray]) -> list[float]:
        return [nsfw_score_from_detections(d, self.class_weights) for d in self.detections(images)]


def make_nsfw_classifier(name: str = "nudenet", **kwargs) -> NsfwClassifier:
    """ "nudenet", or "package.module:ClassName" naming your own `NsfwClassifier` (built with `kwargs`)."""
    if name == "nudenet":
        return NudeNetClassifier(**kwargs)
    if ":" not in name:
        raise OptionError(f"unknown NSFW classifier {name!r}: use nudenet or package.module:ClassName")
    import importlib

    module, _, attribute = name.partition(":")
    cls = getattr(importlib.import_module(module), attribute)
    if not (isinstance(cls, type) and issubclass(cls, NsfwClassifier)):
        raise TypeError(f"{name} is not an NsfwClassifier subclass")
    return cls(**kwargs)


class NsfwFilter(ScoreFilter):
    """Drops records whose most NSFW image scores >= `max_score`.

    Args:
        max_score: records scoring at or above it are dropped. NudeNet's own detection floor is 0.2;
            0.5 asks for a confident explicit detection (no anchor publishes NudeNet's cut).
        classifier: default NudeNet on CPU; any `NsfwClassifier`
        batch_size: records scored per classifier call (their images go in one batch)
    """

    name = "🔞 NSFW"

    def __init__(
        self,
        max_score: float = 0.5,
        classifier: NsfwClassifier | None = None,
        batch_size: int = BATCH_SIZE,
        exclusion_writer: DiskWriter | None = None,
        error_writer: DiskWriter | None = None,
    ):
        super().__init__(exclusion_writer, error_writer, batch_size=batch_size)
        self.max_score = max_score
        self.classifier = classifier or NudeNetClassifier(batch_size=batch_size)

    def score_batch(self, batch: list[Document]) -> None:
        images, owners = [], []
        for doc in batch:
            for media in doc.media:
                if media.media_bytes:  # an image not fetched yet has nothing to score
                    images.append(decode_bgr(media.media_bytes, f"{doc.id} image {media.id}"))
                    owners.append((doc, media))
        per_doc: dict[int, float] = {}
        for (doc, media), value in zip(owners, self.classifier.image_scores(images), strict=True):
            media.metadata["nsfw"] = value
            per_doc[id(doc)] = max(per_doc.get(id(doc), 0.0), value)
        for doc in batch:
            if id(doc) in per_doc:
                set_score(doc, "nsfw", per_doc[id(doc)])

    def decide(self, doc: Document) -> bool | tuple[bool, str]:
        value = scores(doc).get("nsfw")
        if value is not None and value >= self.max_score:
            return False, "nsfw"
        return True

    def thresholds(self) -> dict[str, dict]:
        return {
            "nsfw": {"max": self.max_score, "rule": f"drop records with an image scoring >= {self.max_score}"}
        }


def _with_classifier(kwargs: dict, ctx: StageContext) -> dict:
    return {
        **kwargs,
        "classifier": make_nsfw_classifier(ctx.option("nsfw_classifier"), batch_size=kwargs["batch_size"]),
    }


FILTER = StepSpec(
    NsfwFilter,
    switch="nsfw",
    description="NSFW score (NudeNet), drop explicit images",
    exclusions="nsfw",
    errors="nsfw",
    args=(
        arg(NsfwFilter, "max_score", "nsfw_max_score", type=float, minimum=0, maximum=1,
            help="drop records with an image scoring at least this"),
        arg(NsfwFilter, "batch_size", "nsfw_batch_size", type=int, minimum=1, help="images per batch"),
    ),
    options=(
        Option.arg(make_nsfw_classifier, "name", "nsfw_classifier", type=str,
                   help="nudenet, or package.module:Class of your own NsfwClassifier"),
    ),
    prepare=_with_classifier,
)  # fmt: skip
