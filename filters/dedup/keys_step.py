"""Dedup stage 1 (one task per input file): compute every kind's key entries of every record and
write them sharded by (kind, partition); records are not copied (the filter stage rereads the input)."""

from __future__ import annotations

import json
from pathlib import Path

from curate.filters.dedup.index import EntryWriter, ids_path
from curate.filters.dedup.kinds import DecodedImages, DedupKind
from datatrove.data import DocumentsPipeline
from datatrove.pipeline.base import PipelineStep

from curate.errors import data_errors
from curate.io import BYTES_PER_BATCH
from curate.location import is_url, location
from curate.steps import ErrorSinkMixin, describe_error

BATCH = 256  # MinHash signatures are computed a batch at a time ...
# ... of at most BYTES_PER_BATCH of records: a batch holds its records whole, and 256 page records with
# their PNGs were ~90 MB (a dedup-keys worker grew 108 -> 223 MB from 32 to 1,024 pages)


class DedupKeys(ErrorSinkMixin, PipelineStep):
    type = "🫂 - DEDUP"
    name = "🔑 Dedup keys"

    def __init__(self, kinds: list[DedupKind], keys_dir: str | Path, partitions: int, error_writer=None):
        super().__init__()
        self.kinds, self.keys_dir, self.partitions = kinds, location(keys_dir), partitions
        self.error_writer = error_writer

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        entries = EntryWriter(self.keys_dir, rank, self.partitions)
        ids = ids_path(self.keys_dir, rank)
        remote = is_url(ids)  # an object appears when its one upload completes: no temporary name
        if not remote:
            ids.parent.mkdir(parents=True, exist_ok=True)
        tmp_ids = ids if remote else ids.with_name(ids.name + ".tmp")
        idx = 0
        batched_kinds = [k for k in self.kinds if k.batched]  # text only: cheap to hold a batch
        single_kinds = [k for k in self.kinds if not k.batched]  # images: decoded one record at a time
        with self._error_context(), tmp_ids.open("w", encoding="utf-8") as id_lines:
            for batch in _batches(data, BATCH, BYTES_PER_BATCH):
                with self.track_time("batch"):
                    per_kind = {k.name: self._entries(k, batch, rank) for k in batched_kinds}
                for i, doc in enumerate(batch):
                    self.stat_update("total")
                    id_lines.write(json.dumps(doc.id, ensure_ascii=False) + "\n")
                    images = DecodedImages(doc)
                    for kind in single_kinds:
                        try:
                            per_kind[kind.name] = {i: kind.entries(doc, images)}
                        except data_errors() as exc:  # no key for this record: it is kept, with a warning
                            self.send_warning(doc, f"{kind.name}: no dedup key: {describe_error(exc)}", rank)
                            per_kind[kind.name] = {i: []}
                    for kind_name, kind_entries in per_kind.items():
                        for key, aux in kind_entries[i]:
                            entries.add(kind_name, idx + i, key, aux)
                    for problem in images.problems:
                        self.send_warning(doc, problem, rank)
                idx += len(batch)
        entries.close()
        if not remote:
            tmp_ids.replace(ids)
        return
        yield  # a generator that forwards nothing: records stay where they were read

    def _entries(self, kind: DedupKind, batch, rank: int) -> list:
        try:
            return kind.entries_batch(batch, [None] * len(batch))
        except data_errors():
            # find the records at fault; they get no key (kept, with a warning) and the rest go on
            out = []
            for doc in batch:
                try:
                    out.extend(kind.entries_batch([doc], [None]))
                except data_errors() as exc:
                    self.send_warning(doc, f"{kind.name}: no dedup key: {describe_error(exc)}", rank)
                    out.append([])
            return out


def _batches(data: DocumentsPipeline, rows: int, size: int):
    """Lists of records in order, each of `rows` records or fewer when their text and media bytes reach
    `size` first."""
    batch, held = [], 0
    for doc in data:
        batch.append(doc)
        held += len(doc.text or "") + sum(len(m.media_bytes or b"") for m in doc.media)
        if len(batch) >= rows or held >= size:
            yield batch
            batch, held = [], 0
    if batch:
        yield batch
