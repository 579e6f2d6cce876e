"""Sharpness: drop records with a blurred or nearly uniform image (out-of-focus shots, heavy upscales,
blank placeholders), which teach a model little about what their caption says.

An image's score is the variance of its Laplacian (the classic focus measure, Pech-Pacheco et al. 2000)
on its grey levels, after resizing its longer side to `side` pixels so the score does not depend on the
resolution. A record's score is its lowest image score. Writes `metadata["sharpness"]` on each image
and `scores["sharpness"]` on the record.

The default cut (50) is measured on ../shared/data/images: the 24 real photos score 129 to 4127; the
same photos blurred with a Gaussian of 1% of their side score 4 to 45, faded to 3% of their contrast
at most 9, and a blank image 0 (tests/test_filters_sharpness.py).
"""

from __future__ import annotations

import io

import numpy as np
from datatrove.data import Document
from datatrove.pipeline.writers.disk_base import DiskWriter

from curate.errors import decoding_image
from curate.record import scores, set_score
from curate.steps import ScoreFilter
from curate.wiring import StepSpec, arg


def image_sharpness(data: bytes, side: int = 256) -> float:
    """Variance of the Laplacian of the image's grey levels at `side` px on its longer side."""
    from PIL import Image

    with Image.open(io.BytesIO(data)) as image:
        image.draft("L", (side, side))  # JPEG: decode at a reduced scale, much faster on large photos
        gray = image.convert("L")
    scale = side / max(gray.size)
    gray = gray.resize(
        (max(3, round(gray.width * scale)), max(3, round(gray.height * scale))), Image.BILINEAR
    )
    a = np.asarray(gray, dtype=np.float32)
    laplacian = a[1:-1, :-2] + a[1:-1, 2:] + a[:-2, 1:-1] + a[2:, 1:-1] - 4 * a[1:-1, 1:-1]
    return float(laplacian.var())


class SharpnessFilter(ScoreFilter):
    """Drops records whose least sharp image scores below `min_sharpness` (None: score only).

    Args:
        min_sharpness: variance of the Laplacian at `side` px; measured cut, see the module docstring
        side: the longer side images are resized to before scoring (the cut holds for this size)
    """

    name = "🔍 Sharpness"

    def __init__(
        self,
        min_sharpness: float | None = 50.0,
        side: int = 256,
        exclusion_writer: DiskWriter | None = None,
        error_writer: DiskWriter | None = None,
    ):
        super().__init__(exclusion_writer, error_writer)
        self.min_sharpness = min_sharpness
        self.side = side

    def score(self, doc: Document) -> None:
        values = []
        for media in doc.media:
            if media.media_bytes:  # an image not fetched has nothing to score
                with decoding_image(media.url or media.id or doc.id):  # bad bytes are the record's error
                    value = image_sharpness(media.media_bytes, self.side)
                media.metadata["sharpness"] = value
                values.append(value)
        if values:
            set_score(doc, "sharpness", min(values))

    def decide(self, doc: Document) -> bool | tuple[bool, str]:
        value = scores(doc).get("sharpness")
        if self.min_sharpness is not None and value is not None and value < self.min_sharpness:
            return False, "image_blurred"
        return True

    def thresholds(self) -> dict[str, dict]:
        rule = f"variance of the Laplacian at {self.side} px" + (
            f" >= {self.min_sharpness}" if self.min_sharpness is not None else ", score only"
        )
        return {"sharpness": {"min": self.min_sharpness, "rule": rule}}


FILTER = StepSpec(
    SharpnessFilter,
    switch="sharpness",
    description="sharpness (variance of the Laplacian), drop blurred or blank images",
    exclusions="sharpness",
    errors="sharpness",
    args=(
        arg(SharpnessFilter, "min_sharpness", type=float, minimum=0,
            help="drop records with an image less sharp than this (none: score only)",
            source="measured on shared/data/images: photos >= 129, 1%-blurred copies <= 45"),
    ),
)  # fmt: skip
