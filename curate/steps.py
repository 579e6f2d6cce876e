"""Base classes for our pipeline steps: every record is kept, dropped with a reason, or errored with one.

`RecordStep` transforms records; `ScoreFilter` scores records, then decides. Both catch a data
problem on one record (a `curate.errors.RecordError`, or a library error listed in `data_errors()`),
send that record to the stage's error sink with the reason, and go on; any other exception is a bug
and fails the task with its traceback (see curate/errors.py). Counts are kept
in datatrove's per-step stats under fixed names that the funnel report reads:
`total`, `forwarded`, `dropped`, `dropped_<reason>`, `errored`, `errored_<kind>`.
"""

from __future__ import annotations

import contextlib
import os
import posixpath
from abc import abstractmethod

from datatrove.data import Document, DocumentsPipeline
from datatrove.io import DataFolder
from datatrove.pipeline.base import PipelineStep
from datatrove.pipeline.filters.base_filter import BaseFilter, get_filter_result
from datatrove.pipeline.readers.base import BaseDiskReader
from datatrove.pipeline.writers.disk_base import DiskWriter
from datatrove.utils.batching import batched
from loguru import logger

import curate.dependencies  # noqa: F401 (datatrove's dependency check, made cheap, before any step)
from curate.errors import data_errors, error_kind
from curate.names import escape_name, plan_name, raw_name_metadata
from curate.record import mark_error
from curate.secrets import redact_text, strip_credentials


def describe_error(exc: BaseException) -> str:
    return redact_text(f"{type(exc).__name__}: {exc}")[:500]  # no credentials of a URL in the message


class ErrorSinkMixin:
    """Routes a failed record to the error writer, with its reason, and counts it."""

    error_writer: DiskWriter | None = None

    def _error_context(self):
        return self.error_writer if self.error_writer else contextlib.nullcontext()

    def send_to_errors(self, doc: Document, reason: str, kind: str, rank: int) -> None:
        reason = redact_text(reason)
        mark_error(doc, self.name, reason)
        self.stat_update("errored", f"errored_{kind}")
        source = doc.metadata.get("source", doc.id)
        logger.warning(f"{self.name}: {source}: {reason}")
        if self.error_writer:
            self.error_writer.write(doc, rank)

    def send_warning(self, doc: Document, reason: str, rank: int) -> None:
        """Record a problem with a record that is still kept (it is not counted as an error)."""
        reason = redact_text(reason)
        self.stat_update("warnings")
        source = doc.metadata.get("source", doc.id)
        logger.warning(f"{self.name}: {source}: {reason}")
        if self.error_writer:
            note = Document(text="", id=doc.id, metadata={"source": source})
            note.metadata["error"] = {"stage": self.name, "reason": reason, "severity": "warning"}
            self.error_writer.write(note, rank)


class InputReader(ErrorSinkMixin, BaseDiskReader):
    """A reader of raw inputs (PDFs, WARCs, URL lists) whose bad inputs go to the error sink by name."""

    def __init__(self, data_folder, error_writer: DiskWriter | None = None, **reader_kwargs):
        super().__init__(data_folder, **reader_kwargs)
        if not self.paths_file and self.data_folder.isfile(""):
            # one input file (`--input shard.tar`): datatrove lists folders, so read its folder, that file only
            folder, name = posixpath.split(self.data_folder.path.rstrip("/"))
            self.data_folder = DataFolder(folder, fs=self.data_folder.fs)
            self.glob_pattern = name
        self.error_writer = error_writer
        self._rank = 0

    def run(self, data: DocumentsPipeline = None, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        self._rank = rank
        with self._error_context():
            yield from super().run(data, rank, world_size)

    def input_names(self, filepath: str) -> tuple[str, str, dict]:
        """(source, id prefix, metadata) of an input file, valid UTF-8 whatever its name.

        `source` is its full path; the id prefix is its path relative to the input folder, so ids (and
        sample keys) do not change when the folder moves; the metadata keeps the exact name
        (`raw_name`) where it had to be escaped (curate/names.py)."""
        source = self.data_folder.resolve_paths(filepath)
        # keep a URL's `//`, not its `user:password@` (the source is written in every record)
        source = strip_credentials(source) if "://" in source else os.path.normpath(source)
        return escape_name(source), escape_name(filepath.lstrip("/")), raw_name_metadata(filepath)

    skips_empty_paths = True

    def read_files_shard(self, shard: list[str]) -> DocumentsPipeline:
        # a task's share from the stage's plan has empty lines where it has fewer files than others
        return super().read_files_shard([plan_name(path) for path in shard if path])


class RecordStep(ErrorSinkMixin, PipelineStep):
    """A step that changes records one at a time. Subclasses implement `process`."""

    type = "🧩 - STEP"

    def __init__(self, error_writer: DiskWriter | None = None):
        super().__init__()
        self.error_writer = error_writer

    @abstractmethod
    def process(self, doc: Document) -> Document:
        """Return the (modified) record; raise to send it to the error sink."""

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        with self._error_context():
            for doc in data:
                self.stat_update("total")
                try:
                    with self.track_time():
                        doc = self.process(doc)
                except data_errors() as exc:  # one bad record must not stop the run; a bug does
                    self.send_to_errors(doc, describe_error(exc), error_kind(exc), rank)
                    continue
                self.stat_update("forwarded")
                yield doc


class ScoreFilter(ErrorSinkMixin, BaseFilter):
    """Score, then decide: `score_batch` writes scores into the records, `decide` applies thresholds.

    The two are separate so a threshold can be retuned on stored scores without rescoring.
    Dropped records go to the exclusion writer with `filter_reason`; failures to the error writer.
    """

    def __init__(
        self,
        exclusion_writer: DiskWriter | None = None,
        error_writer: DiskWriter | None = None,
        batch_size: int = 1,
    ):
        super().__init__(exclusion_writer=exclusion_writer, batch_size=batch_size)
        self.error_writer = error_writer

    def score_batch(self, batch: list[Document]) -> None:
        """Write this filter's score(s) into each record (`curate.record.set_score`). Default: one by one."""
        for doc in batch:
            self.score(doc)

    def score(self, doc: Document) -> None:
        raise NotImplementedError

    @abstractmethod
    def decide(self, doc: Document) -> bool | tuple[bool, str]:
        """Keep (True) or drop ((False, reason)) a scored record."""

    def thresholds(self) -> dict[str, dict]:
        """The cuts `decide` applies, per score name: `{"min"|"max": value, "rule": text}` (for the report)."""
        return {}

    def preflight(self) -> None:
        """Raise, in the driver before any task starts, when something this filter needs is missing."""

    def filter(self, doc: Document) -> bool | tuple[bool, str]:
        self.score_batch([doc])
        return self.decide(doc)

    def filter_batch(self, batch: list[Document]) -> list[bool | tuple[bool, str]]:
        self.score_batch(batch)
        return [self.decide(doc) for doc in batch]

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        exclusion = self.exclusion_writer if self.exclusion_writer else contextlib.nullcontext()
        with exclusion as excluded, self._error_context():
            for batch in batched(data, self.batch_size):
                with self.track_time("batch" if self.batch_size > 1 else None):
                    try:
                        self.score_batch(batch)
                        failures = {}
                    except data_errors():
                        # a batch failed on bad data: score one by one to find which records are at fault
                        failures = {}
                        for doc in batch:
                            try:
                                self.score_batch([doc])
                            except data_errors() as exc:
                                failures[id(doc)] = exc
                for doc in batch:
                    self.stat_update("total")
                    if id(doc) in failures:
                        exc = failures[id(doc)]
                        self.send_to_errors(doc, describe_error(exc), error_kind(exc), rank)
                        continue
                    try:
                        keep, reason = get_filter_result(self.decide(doc))
                    except data_errors() as exc:
                        self.send_to_errors(doc, describe_error(exc), error_kind(exc), rank)
                        continue
                    if keep:
                        self.stat_update("forwarded")
                        yield doc
                    else:
                        reason = reason or self.name
                        self.stat_update("dropped", f"dropped_{reason}")
                        if self.exclusion_writer:
                            doc.metadata["filter_reason"] = reason
                            excluded.write(doc, rank)
