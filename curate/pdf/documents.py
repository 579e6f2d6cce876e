"""PDF pages -> one document record per PDF (Docmatix's sample unit: a whole PDF of at most 4 pages).

Pages travel as their own records through dedup and filters; this step joins the pages of one PDF that
are still there into one record: its images in page order, its text the pages' texts separated by form
feeds, and `metadata["pages"]` saying which page each one is. A page dropped upstream (a duplicate, a
non-English page) is missing from its document: the document keeps its other pages and lists the
missing ones in `metadata["missing_pages"]` (or, with `incomplete="drop"`, is dropped, counted as
`incomplete_document`).

The pages of one PDF meet in one task because every stage before this keeps each task's records in one
file, in order (one task per input file, files split over tasks the same way at every stage), and the
pages stage reads a PDF in one task. The step joins consecutive pages of the same PDF; a PDF whose
pages come apart anyway is an error naming it, and `check_documents_unique` fails the stage if one PDF
ended up in two tasks. Pages joined into a document are counted as `merged`, so the funnel balances:
pages in = documents out + pages merged + dropped + errored.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from datatrove.data import Document, DocumentsPipeline
from datatrove.pipeline.base import PipelineStep
from datatrove.pipeline.writers.disk_base import DiskWriter

from curate.options import Option
from curate.recipe import Stage, StageContext, StageFailed
from curate.record import DOCUMENT
from curate.steps import ErrorSinkMixin
from curate.wiring import StepSpec, arg, records_stage

PAGE_FIELDS = ("page", "text_source", "page_size_pt", "scores", "warnings", "language")


def document_key(page: Document) -> str:
    return page.metadata.get("file") or page.metadata.get("source") or page.id.split("#", 1)[0]


def merge_pages(pages: list[Document]) -> Document:
    """One record of a PDF's pages (in page order): images in order, texts separated by form feeds."""
    pages = sorted(pages, key=lambda p: p.metadata.get("page", 0))
    first = pages[0].metadata
    metadata = {k: v for k, v in first.items() if k not in PAGE_FIELDS}
    present = [p.metadata.get("page") for p in pages]
    page_count = int(first.get("page_count") or len(pages))
    metadata.update(
        kind=DOCUMENT,
        pages=[
            {
                "page": p.metadata.get("page"),
                "id": p.id,
                **{k: p.metadata[k] for k in PAGE_FIELDS[1:] if k in p.metadata},
            }
            for p in pages
        ],  # fmt: skip
        missing_pages=[n for n in range(1, page_count + 1) if n not in present],
        warnings=[w for p in pages for w in p.metadata.get("warnings") or []],
        scores={"pages": float(len(pages))},
    )
    return Document(
        text="\f".join(p.text.replace("\f", "\n") for p in pages),
        id=document_key(pages[0]),
        media=[m for p in pages for m in p.media],
        metadata=metadata,
    )


class PagesToDocuments(ErrorSinkMixin, PipelineStep):
    """Joins consecutive page records of one PDF into a document record (see the module docstring).

    Stats: `total` (pages in), `forwarded` (documents out), `merged` (pages joined into a document
    after its first), `dropped_incomplete_document`, `errored_split_document`.
    """

    name = "📚 Pages -> documents"
    type = "🧩 - STEP"

    def __init__(
        self,
        incomplete: str = "keep",
        exclusion_writer: DiskWriter | None = None,
        error_writer: DiskWriter | None = None,
    ):
        super().__init__()
        if incomplete not in ("keep", "drop"):
            raise ValueError(f"incomplete={incomplete!r}: use 'keep' or 'drop'")
        self.incomplete = incomplete
        self.exclusion_writer, self.error_writer = exclusion_writer, error_writer

    def _groups(self, data: DocumentsPipeline) -> Iterator[tuple[str, list[Document]]]:
        key, group = None, []
        for page in data:
            self.stat_update("total")
            if group and document_key(page) != key:
                yield key, group
                group = []
            key = document_key(page)
            group.append(page)
        if group:
            yield key, group

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        exclusion = self.exclusion_writer or contextlib.nullcontext()
        done: set[str] = set()
        with exclusion as excluded, self._error_context():
            for key, pages in self._groups(data):
                if key in done:  # its other pages were already joined: never two half documents
                    for page in pages:
                        reason = f"pages of {key} are not consecutive in this task's input"
                        self.send_to_errors(page, reason, "split_document", rank)
                    continue
                done.add(key)
                with self.track_time():
                    doc = merge_pages(pages)
                if doc.metadata["missing_pages"] and self.incomplete == "drop":
                    self.stat_update("dropped", "dropped_incomplete_document", value=len(pages))
                    for page in pages:
                        page.metadata["filter_reason"] = "incomplete_document"
                        if self.exclusion_writer:
                            excluded.write(page, rank)
                    continue
                if len(pages) > 1:
                    self.stat_update("merged", value=len(pages) - 1)
                self.stat_update("forwarded")
                yield doc


def check_documents_unique(data_dir: str | Path) -> None:
    """Raise if one PDF became documents in two tasks (its pages were not in one task's input).
    `data_dir` is a local folder or a URL (`s3://...`): read through the same DataFolder as the writer."""
    import pyarrow.parquet as pq

    from curate.location import datafolder

    folder = datafolder(data_dir)
    owner: dict[str, str] = {}
    for name in sorted(folder.list_files(recursive=False, glob_pattern="*.parquet")):
        with folder.open(name, "rb") as f:
            ids = pq.read_table(f, columns=["id"]).column("id").to_pylist()
        for record_id in ids:
            if record_id in owner:
                raise RuntimeError(
                    f"the pages of {record_id} were split between tasks ({owner[record_id]} and {name});"
                    " each PDF's pages must stay in one file from the pages stage on"
                )
            owner[record_id] = name


# a sample per PDF or per page: read by this stage's switch and by the pages stage (longer PDFs skipped)
SAMPLE_UNIT = Option("sample_unit", str, "page", choices=("document", "page"),
                     help="a sample per PDF (its pages in order, questions about all of it) or per page",
                     source="Docmatix: a whole PDF of at most 4 pages")  # fmt: skip
DOCUMENTS = StepSpec(
    PagesToDocuments,
    args=(arg(PagesToDocuments, "incomplete", "incomplete_documents", type=str, choices=("keep", "drop"),
              help="a document some of whose pages dedup or the filters dropped: keep the rest, or drop it"),),
    exclusions="documents",
    errors="documents",
)  # fmt: skip


def _check_unique(ctx: StageContext) -> None:
    try:
        check_documents_unique(ctx.data_dir)
    except RuntimeError as exc:
        raise StageFailed(f"stage 'documents': {exc}") from exc


def documents_stage() -> Stage:
    """The pages of each PDF joined into one document record; left out with `--set sample_unit=page`."""
    return records_stage(
        "documents",
        [DOCUMENTS],
        options=(SAMPLE_UNIT,),
        finish=_check_unique,
        active=lambda ctx: ctx.option("sample_unit") == "document",
        description="the pages of each PDF joined into one document sample (--set sample_unit=page: off)",
    )
