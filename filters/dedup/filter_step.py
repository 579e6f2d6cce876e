"""Dedup stage 3 (one task per input task of the keys stage, same reading order): apply the decisions.

- a duplicate record is dropped to the exclusion sink with its reason and `duplicate_of` (the kept id);
- an image whose URL is frequent is removed from a web document (noted in `removed_images`), and a
  pair or page whose only image it is, is dropped (`frequent_image_url`);
- repeated paragraphs are removed (noted in `removed_paragraphs` with the record that keeps each); a
  record left with neither text nor images is dropped (`duplicate_paragraph`).
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

from curate.filters.dedup.decisions import FREQUENT_FILE
from curate.filters.dedup.index import decisions_path
from curate.filters.dedup.kinds import DedupKind, paragraph_slots
from curate.filters.dedup.normalize import hash64
from datatrove.data import Document, DocumentsPipeline
from datatrove.pipeline.base import PipelineStep
from datatrove.pipeline.writers.disk_base import DiskWriter

from curate.errors import data_errors, error_kind
from curate.location import load_npy, location
from curate.record import set_sequence
from curate.steps import ErrorSinkMixin, describe_error


def remove_paragraphs(doc: Document, positions: set[int]) -> None:
    """Remove paragraphs (positions as enumerated by `paragraph_slots`) and emptied text blocks."""
    texts = doc.metadata.get("texts")
    blocks = list(texts) if texts is not None else [doc.text]
    kept: dict[int, list[str]] = {}
    for position, (block, paragraph) in enumerate(paragraph_slots(doc)):
        if position not in positions:
            kept.setdefault(block, []).append(paragraph)
    new_blocks = [None if b is None else "\n\n".join(kept.get(i, [])) for i, b in enumerate(blocks)]
    if texts is None:
        doc.text = new_blocks[0]
        return
    _set_sequence(doc, new_blocks, doc.media)


def _set_sequence(doc: Document, blocks: list[str | None], media: list) -> None:
    """Rewrite a web document from new text blocks (None where an image sat), keeping only `media`."""
    images, keep = iter(doc.media), {id(m) for m in media}
    sequence = []
    for block in blocks:
        if block is None:
            image = next(images)
            if id(image) in keep:
                sequence.append(image)
        else:
            sequence.append(block)
    set_sequence(doc, sequence)


class DedupFilter(ErrorSinkMixin, PipelineStep):
    type = "🫂 - DEDUP"
    name = "🧹 Dedup filter"

    def __init__(
        self,
        kinds: list[DedupKind],
        match_dir: str | Path,
        exclusion_writer: DiskWriter | None = None,
        error_writer: DiskWriter | None = None,
    ):
        super().__init__()
        self.kinds, self.match_dir = kinds, location(match_dir)
        self.exclusion_writer, self.error_writer = exclusion_writer, error_writer

    def _load(self, rank: int) -> None:
        path = decisions_path(self.match_dir, rank)
        decisions = json.loads(path.read_text()) if path.exists() else {}
        self.drops = {int(i): v for i, v in decisions.get("drop", {}).items()}
        self.paragraphs = {int(i): v for i, v in decisions.get("paragraphs", {}).items()}
        self.frequent: dict[int, int] = {}  # url hash -> count; frequent URLs are few (logos, icons)
        for kind in self.kinds:
            if kind.mode == "frequency":
                path = self.match_dir / FREQUENT_FILE.format(kind=kind.name)
                table = load_npy(path) if path.exists() else []
                self.frequent.update(zip(table["key"].tolist(), table["count"].tolist(), strict=True))
        self.url_reason = next((k.reason for k in self.kinds if k.mode == "frequency"), "frequent_image_url")
        self.paragraph_reason = next((k.reason for k in self.kinds if k.mode == "paragraph"), "")

    def decide(self, doc: Document, idx: int) -> str | None:
        """Apply the decisions to one record; return the drop reason, or None to keep it."""
        if idx in self.drops:
            reason, kept_id = self.drops[idx]
            doc.metadata["duplicate_of"] = kept_id
            return reason
        if self.frequent:
            frequent = [m for m in doc.media if m.url and hash64(m.url) in self.frequent]
            if frequent:
                counts = {m.url: self.frequent[hash64(m.url)] for m in frequent}
                if doc.metadata.get("texts") is None:
                    doc.metadata["image_url_count"] = max(counts.values())
                    return self.url_reason
                doc.metadata.setdefault("removed_images", []).extend(
                    {"url": url, "reason": self.url_reason, "count": n} for url, n in counts.items()
                )
                _set_sequence(doc, doc.metadata["texts"], [m for m in doc.media if m not in frequent])
        if idx in self.paragraphs:
            removed = self.paragraphs[idx]
            remove_paragraphs(doc, {position for position, _ in removed})
            doc.metadata.setdefault("removed_paragraphs", []).extend(
                {"paragraph": position, "duplicate_of": kept_id} for position, kept_id in removed
            )
            if not doc.text.strip() and not doc.media:
                doc.metadata["duplicate_of"] = removed[0][1]
                return self.paragraph_reason
        return None

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        self._load(rank)
        exclusion = self.exclusion_writer if self.exclusion_writer else contextlib.nullcontext()
        with exclusion as excluded, self._error_context():
            for idx, doc in enumerate(data):
                self.stat_update("total")
                try:
                    with self.track_time():
                        reason = self.decide(doc, idx)
                except data_errors() as exc:  # one bad record must not stop the run; a bug does
                    self.send_to_errors(doc, describe_error(exc), error_kind(exc), rank)
                    continue
                if reason is None:
                    self.stat_update("forwarded")
                    yield doc
                    continue
                self.stat_update("dropped", f"dropped_{reason}")
                if self.exclusion_writer:
                    doc.metadata["filter_reason"] = reason
                    excluded.write(doc, rank)
