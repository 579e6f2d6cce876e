"""Thresholds on stored scores, including percentile cuts computed over a whole dataset.

A percentile cut ("drop the 5% highest perplexity", Idefics2; "keep the top 30% CLIP score",
DataComp) needs every score before any record is dropped, so it takes two stages: one writes the
scores, the next one's `build` (which runs once, in the driver) reads all stored scores of the
previous stage (`stored_scores`, `percentile_threshold`) and builds a `ScoreThresholdFilter` with the
value (`curate.filters.stages.cut_stage`).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
from datatrove.data import Document
from datatrove.pipeline.writers.disk_base import DiskWriter

from curate.location import location
from curate.record import scores
from curate.steps import ScoreFilter


def stored_scores(folder: str | Path, name: str) -> np.ndarray:
    """Every value of score `name` in a stage's data folder (records without it are left out).

    Reads only the metadata column of each Parquet file, so it is cheap next to the stage that scored.
    """
    values: list[float] = []
    for path in sorted(location(folder).glob("*.parquet"), key=str):  # local or a URL (s3://...)
        with path.open("rb") as f:
            column = pq.read_table(f, columns=["metadata"]).column("metadata")
        for text in column.to_pylist():
            value = json.loads(text or "{}").get("scores", {}).get(name)
            if value is not None and math.isfinite(value):
                values.append(float(value))
    return np.asarray(values, dtype=np.float64)


def percentile_threshold(values: np.ndarray, fraction: float, highest: bool = True) -> float | None:
    """The cut that drops `fraction` of `values`: the highest ones (`highest`) or the lowest.

    With n values, floor(n * fraction) are beyond the returned threshold (fewer only where values tie).
    Returns None when nothing is to be dropped.
    """
    if not 0 <= fraction < 1:
        raise ValueError(f"fraction must be in [0, 1), got {fraction}")
    n = len(values)
    dropped = math.floor(n * fraction)
    if dropped == 0:
        return None
    ordered = np.sort(values)
    # keep the n - dropped lowest (or highest): the threshold is the last kept value
    return float(ordered[n - dropped - 1] if highest else ordered[dropped])


def score_cut(
    doc: Document, score_name: str, max_value: float | None = None, min_value: float | None = None
) -> bool | tuple[bool, str]:
    """A record's fate by its stored score `score_name`: dropped as `{score_name}_too_high` above
    `max_value` or `_too_low` below `min_value` (None: no bound), kept without that score."""
    value = scores(doc).get(score_name)
    if value is None:
        return True
    if max_value is not None and value > max_value:
        return False, f"{score_name}_too_high"
    if min_value is not None and value < min_value:
        return False, f"{score_name}_too_low"
    return True


class ScoreThresholdFilter(ScoreFilter):
    """Drops records whose stored score `score_name` is above `max_value` or below `min_value`.

    Records without that score are kept (nothing to judge them by). Scores are not recomputed.
    """

    name = "✂️ Score cut"

    def __init__(
        self,
        score_name: str,
        max_value: float | None = None,
        min_value: float | None = None,
        exclusion_writer: DiskWriter | None = None,
        error_writer: DiskWriter | None = None,
    ):
        super().__init__(exclusion_writer, error_writer)
        self.score_name = score_name
        self.max_value = max_value
        self.min_value = min_value
        self.name = f"✂️ {score_name} cut"

    def score(self, doc: Document) -> None:
        pass  # the scores were written by an earlier stage

    def decide(self, doc: Document) -> bool | tuple[bool, str]:
        return score_cut(doc, self.score_name, self.max_value, self.min_value)
