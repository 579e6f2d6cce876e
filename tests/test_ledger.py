"""No silent loss and an explicit error policy (issue 14): the run-level ledger between stages, unique
sample keys, ids from file names that are not UTF-8, the output-folder lock, bugs that fail the task
instead of becoming error rows, and the per-stage error-rate limit."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import unquote_to_bytes

import pytest
from curate.pipelines import get_recipe
from curate.pipelines.common import shards_stage
from datatrove.data import Document

from curate.errors import ImageError, LLMResponseError, PdfError
from curate.io import RecordWriter
from curate.output.loader import make_dataset
from curate.output.shards import DuplicateKeys, WebDatasetWriter, merge_manifests
from curate.recipe import Recipe, Stage, StageContext, StageFailed
from curate.run import ledger
from curate.run.executors import ExecutorConfig
from curate.run.lock import LOCK_NAME, OutputLock, OutputLocked
from curate.run.report import error_lines, format_funnel, run_funnel
from curate.run.runner import active_stage_names, run_recipe
from curate.steps import RecordStep, ScoreFilter

REPO = Path(__file__).resolve().parent.parent
ONE_WORKER = ExecutorConfig("local", workers=1)
# three small born-digital PDFs (text layer, no OCR): three tasks, three Parquet files, a few seconds
SMALL_PDFS = ["scotus-transcript-p1.pdf", "la-precinct-bulletin-2014-p1.pdf", "multi_page.pdf"]


@pytest.fixture
def pdfs(shared_data, tmp_path) -> Path:
    folder = tmp_path / "pdfs"
    folder.mkdir()
    for name in SMALL_PDFS:
        shutil.copy(shared_data / "pdf" / "born_digital" / name, folder / name)
    return folder


def _keys(output: Path) -> list[str]:
    return [s["__key__"] for s in make_dataset(output, decode_images=False)]


# ---- 1. the run-level ledger ------------------------------------------------------------------------


def test_a_parquet_file_deleted_between_stages_fails_the_run_naming_it(pdfs, tmp_path):
    out = tmp_path / "out"
    run_recipe(get_recipe("pdf-pages"), str(pdfs), out, ONE_WORKER, only_stage="pages")
    recorded = json.loads((out / "stages" / "pages" / "ledger.json").read_text())["data"]
    files = sorted((out / "stages" / "pages" / "data").glob("*.parquet"))
    assert len(files) == 3 and recorded["files"] == {f.name: recorded["files"][f.name] for f in files}
    victim = files[1]
    victim.unlink()
    missing = f"{victim.name} missing ({recorded['files'][victim.name]} records)"
    # the next stage alone (as on a cluster) refuses its input
    next_stage = active_stage_names(get_recipe("pdf-pages"), str(pdfs), out, {})[1]
    with pytest.raises(StageFailed) as failed:
        run_recipe(get_recipe("pdf-pages"), str(pdfs), out, ONE_WORKER, only_stage=next_stage)
    assert f"stage {next_stage!r}: its input" in str(failed.value)
    assert f"changed since stage 'pages' wrote it: {missing}" in str(failed.value)
    assert not (out / "stages" / next_stage / "logs" / "completions").exists()  # it did not run
    # `curate report` sees it too
    assert f"failed: data/ changed since the stage finished: {missing}" in format_funnel(run_funnel(out))
    # the whole recipe stops too: pages completed (a rerun writes nothing there), and the stage after it
    # refuses the changed input, naming the file and how to redo pages
    with pytest.raises(StageFailed, match=rf"its input .* changed since stage 'pages' wrote it: {re.escape(missing)}"
                       r"\. Delete .*pages/logs/completions and rerun to redo stage 'pages'"):  # fmt: skip
        run_recipe(get_recipe("pdf-pages"), str(pdfs), out, ONE_WORKER)
    assert not (out / "shards" / "manifest.json").exists()


def test_a_complete_run_shows_each_stage_reading_what_the_one_before_kept(pdfs, tmp_path):
    out = tmp_path / "out"
    run_recipe(get_recipe("pdf-pages"), str(pdfs), out, ONE_WORKER)
    funnels = {f.stage: f for f in run_funnel(out)}
    pages = funnels["pages"]
    assert pages.upstream is None and pages.check == "ok"
    assert funnels["shards"].upstream is not None and funnels["shards"].follows_upstream
    assert "ok, in = " in format_funnel(list(funnels.values()))
    assert len(_keys(out)) == pages.kept


def test_a_stage_whose_data_lost_a_file_before_its_ledger_is_written_fails(pdfs, tmp_path):
    """The stage's own output is checked against what its writer counted, task by task."""
    from curate.pipelines.pdf_pages import pages_stage

    out = tmp_path / "out"
    recipe = get_recipe("pdf-pages")
    run_recipe(recipe, str(pdfs), out, ONE_WORKER, only_stage="pages")
    ctx = StageContext("pages", str(pdfs), out, recipe.resolve({}), recipe.declared())
    victim = sorted(ctx.data_dir.glob("*.parquet"))[0]
    victim.unlink()
    with pytest.raises(ledger.LedgerError, match=rf"{victim.name} missing"):
        ledger.record_output("pages", ctx.stage_dir, ctx.data_dir, pages_stage().build(ctx))


def test_input_count_differing_from_upstream_kept_is_reported():
    assert ledger.check_input_count("shards", {"stage": "pages", "records": 94}, 94) is None
    problem = ledger.check_input_count("shards", {"stage": "pages", "records": 94}, 92)
    assert problem == "stage 'shards' read 92 records, but stage 'pages' kept 94"


def test_footers_read_from_the_files_ends_match_pyarrow_and_a_cut_file_is_named(pdfs, tmp_path):
    """The ledger reads each file's footer with one ranged read (a second for a footer longer than
    the first read) and finds a truncated file, naming it."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from curate.location import FOOTER_READ, DamagedParquet, parquet_footers

    out = tmp_path / "out"
    run_recipe(get_recipe("pdf-pages"), str(pdfs), out, ONE_WORKER, only_stage="pages")
    data = out / "stages" / "pages" / "data"
    records = pq.read_table(sorted(data.glob("*.parquet"))[0]).drop_columns(["media"])  # any real rows
    many_groups = tmp_path / "records" / "many_groups.parquet"  # a footer longer than FOOTER_READ
    many_groups.parent.mkdir()
    pq.write_table(pa.concat_tables([records] * 300), many_groups, row_group_size=1)
    shutil.copy(sorted(data.glob("*.parquet"))[0], many_groups.parent / "pages.parquet")
    folder = ledger.get_datafolder(str(many_groups.parent))
    sizes = {p.name: p.stat().st_size for p in sorted(many_groups.parent.iterdir())}
    footers = parquet_footers(folder, sizes)
    assert list(footers) == list(sizes)
    for name, meta in footers.items():
        expected = pq.ParquetFile(many_groups.parent / name).metadata
        assert (meta.num_rows, meta.num_row_groups) == (expected.num_rows, expected.num_row_groups)
    assert pq.ParquetFile(many_groups).metadata.serialized_size > FOOTER_READ
    assert ledger.rows_per_file(folder) == {n: m.num_rows for n, m in footers.items()}
    cut = many_groups.parent / "pages.parquet"
    cut.write_bytes(cut.read_bytes()[:-100])
    with pytest.raises(DamagedParquet, match=r"pages\.parquet is not a readable Parquet file"):
        ledger.rows_per_file(folder)


def test_the_next_stage_reads_only_the_files_changed_since_the_ledger(pdfs, tmp_path, monkeypatch):
    """Unchanged files (same size and version as in the ledger) are not read again; a file rewritten
    with fewer records is read and fails the next stage, naming it."""
    import pyarrow.parquet as pq

    out = tmp_path / "out"
    run_recipe(get_recipe("pdf-pages"), str(pdfs), out, ONE_WORKER, only_stage="pages")
    stage = out / "stages" / "pages"
    recorded = json.loads((stage / "ledger.json").read_text())["data"]
    assert set(recorded["versions"]) == set(recorded["files"])
    read = []
    footers = ledger.parquet_footers
    monkeypatch.setattr(
        ledger, "parquet_footers", lambda folder, sizes: read.extend(sizes) or footers(folder, sizes)
    )
    assert ledger.data_changes(stage, json.loads((stage / "ledger.json").read_text())) is None
    assert read == []
    victim = max((stage / "data").glob("*.parquet"), key=lambda p: recorded["files"][p.name])
    table = pq.read_table(victim)
    pq.write_table(table.slice(0, table.num_rows - 1), victim)
    next_stage = active_stage_names(get_recipe("pdf-pages"), str(pdfs), out, {})[1]
    with pytest.raises(
        StageFailed, match=rf"{victim.name} holds {table.num_rows - 1} records, stage 'pages' wrote"
    ):
        run_recipe(get_recipe("pdf-pages"), str(pdfs), out, ONE_WORKER, only_stage=next_stage)
    assert set(read) == {victim.name}  # by the check, and by the funnel that reports it


def test_the_ledger_trusts_a_file_at_the_size_its_writer_closed_it_and_reads_any_other(
    pdfs, tmp_path, monkeypatch
):
    """Each task's stats carry the bytes its writer closed its file at: files at that size are not read
    back; a file rewritten since (other size) is read and its records compared."""
    import pyarrow.parquet as pq
    from curate.pipelines.pdf_pages import pages_stage

    out = tmp_path / "out"
    recipe = get_recipe("pdf-pages")
    run_recipe(recipe, str(pdfs), out, ONE_WORKER, only_stage="pages")
    ctx = StageContext("pages", str(pdfs), out, recipe.resolve({}), recipe.declared())
    read = []
    footers = ledger.parquet_footers
    monkeypatch.setattr(
        ledger, "parquet_footers", lambda folder, sizes: read.extend(sizes) or footers(folder, sizes)
    )
    part = ledger.record_output("pages", ctx.stage_dir, ctx.data_dir, pages_stage().build(ctx))
    assert read == [] and part["records"] == sum(part["files"].values()) > 0
    victim = max(ctx.data_dir.glob("*.parquet"), key=lambda p: part["files"][p.name])
    table = pq.read_table(victim)
    pq.write_table(table.slice(1), victim)
    with pytest.raises(
        ledger.LedgerError, match=rf"{victim.name} holds {table.num_rows - 1} records, stage 'pages' wrote"
    ):
        ledger.record_output("pages", ctx.stage_dir, ctx.data_dir, pages_stage().build(ctx))
    assert read == [victim.name]


# ---- 2. unique sample keys ---------------------------------------------------------------------------


def _extract_then_shards() -> Recipe:
    """Web pages -> records -> shards, with nothing in between (as `--set dedup=false` and no filter)."""
    from curate.web.document import WEB_SUFFIXES, WebPageReader

    def build(ctx: StageContext):
        return [
            WebPageReader(ctx.input, use_stored_images=False, error_writer=ctx.error_writer("pages")),
            ctx.writer(),
        ]

    return Recipe("web", [Stage("extract", build, input_suffixes=WEB_SUFFIXES), shards_stage()])


def test_the_same_warc_given_twice_gives_unique_keys_and_a_valid_shard(shared_data, tmp_path):
    import webdataset as wds

    warc = shared_data / "warc" / "example.warc.gz"
    single, twice = tmp_path / "single", tmp_path / "twice"
    single.mkdir()
    twice.mkdir()
    shutil.copy(warc, single / "a.warc.gz")
    shutil.copy(warc, twice / "a.warc.gz")
    shutil.copy(warc, twice / "copy.warc.gz")
    options = {"shard_bytes": 1 << 30}  # one shards task: both copies go to one tar
    run_recipe(_extract_then_shards(), str(single), tmp_path / "out1", ONE_WORKER, options=options)
    run_recipe(_extract_then_shards(), str(twice), tmp_path / "out2", ONE_WORKER, options=options)
    one, two = _keys(tmp_path / "out1"), _keys(tmp_path / "out2")
    assert len(one) >= 1 and len(two) == 2 * len(one) == len(set(two))
    assert set(one) < set(two)  # keys depend on the file's path in the input folder only: stable
    # webdataset's own reader (which refuses a tar with a repeated key) reads every sample
    shards = sorted((tmp_path / "out2" / "shards").glob("*.tar"))
    assert len(shards) == 1
    assert len(list(wds.WebDataset([str(shards[0])], shardshuffle=False))) == len(two)


def _doc(record_id: str, source: str) -> Document:
    return Document(text=f"text of {source}", id=record_id, metadata={"kind": "page", "source": source})


def test_the_shard_writer_refuses_a_duplicate_key_with_an_error_naming_both(tmp_path):
    import webdataset as wds

    from curate.io import ErrorWriter

    writer = WebDatasetWriter(tmp_path / "shards", error_writer=ErrorWriter(str(tmp_path / "errors")))
    docs = [_doc("page#1", "first.pdf"), _doc("page#2", "other.pdf"), _doc("page#1", "second.pdf")]
    list(writer.run(iter(docs), rank=0))
    errors = [json.loads(line) for line in (tmp_path / "errors" / "00000.jsonl").read_text().splitlines()]
    assert len(errors) == 1
    assert "duplicate sample key" in errors[0]["reason"]
    assert "first.pdf" in errors[0]["reason"] and "second.pdf" in errors[0]["reason"]
    assert writer.stats["errored_duplicate_key"].total == 1 and writer.stats["total"].total == 2
    (shard,) = (tmp_path / "shards").glob("*.tar")
    samples = list(wds.WebDataset([str(shard)], shardshuffle=False))
    assert sorted(json.loads(s["json"])["source"] for s in samples) == ["first.pdf", "other.pdf"]


def test_two_tasks_writing_one_key_fail_the_manifest(tmp_path):
    folder = tmp_path / "shards"
    list(WebDatasetWriter(folder).run(iter([_doc("x#1", "a.pdf")]), rank=0))
    list(WebDatasetWriter(folder).run(iter([_doc("x#1", "b.pdf"), _doc("y", "c.pdf")]), rank=1))
    with pytest.raises(DuplicateKeys, match=r"a\.pdf.*b\.pdf"):
        merge_manifests(folder)
    list(WebDatasetWriter(folder).run(iter([_doc("y", "c.pdf")]), rank=1))  # the task redone, fixed
    assert merge_manifests(folder)["total_samples"] == 2


# ---- 3. file names that are not UTF-8 ----------------------------------------------------------------

RAW_NAME = b"x_\xe9\xff"


def test_a_pdf_whose_name_is_not_utf8_is_processed_with_an_escaped_id(shared_data, tmp_path):
    folder = tmp_path / "pdfs"
    folder.mkdir()
    target = os.fsencode(folder) + b"/" + RAW_NAME + b".pdf"
    shutil.copy(shared_data / "pdf" / "born_digital" / "scotus-transcript-p1.pdf", target)
    out = tmp_path / "out"
    run_recipe(get_recipe("pdf-pages"), str(folder), out, ONE_WORKER)
    samples = list(make_dataset(out, decode_images=False))
    assert len(samples) == 1
    record = samples[0]["json"]
    assert record["id"] == "x_\\xe9\\xff.pdf#page=1"
    assert record["metadata"]["file"] == "x_\\xe9\\xff.pdf"
    assert unquote_to_bytes(record["metadata"]["raw_name"]) == RAW_NAME + b".pdf"  # lossless
    (pages,) = [f for f in run_funnel(out) if f.stage == "pages"]
    assert pages.errored_total == 0


@pytest.mark.parametrize("source", ["warc/example.warc.gz", "html/blog.python.org.html"])
def test_web_inputs_whose_name_is_not_utf8_give_records_parquet_accepts(shared_data, tmp_path, source):
    from curate.web.document import WebPageReader

    folder = tmp_path / "in"
    folder.mkdir()
    suffix = source.split(".", 1)[1].encode()
    shutil.copy(shared_data / source, os.fsencode(folder) + b"/" + RAW_NAME + b"." + suffix)
    docs = list(WebPageReader(str(folder), use_stored_images=False).run())
    assert docs
    for doc in docs:
        assert doc.id.startswith("x_\\xe9\\xff.")
        assert unquote_to_bytes(doc.metadata["raw_name"]) == RAW_NAME + b"." + suffix
    writer = RecordWriter(str(tmp_path / "records"))
    with writer:
        for doc in docs:
            writer.write(doc, rank=0)
    rows = ledger.rows_per_file(ledger.get_datafolder(str(tmp_path / "records")))
    assert list(rows.values()) == [len(docs)]


def test_utf8_names_keep_their_ids():
    from curate.names import escape_name, raw_name_metadata

    assert escape_name("ü/a b.pdf") == "ü/a b.pdf" and raw_name_metadata("ü/a b.pdf") == {}
    assert escape_name(os.fsdecode(RAW_NAME)) == "x_\\xe9\\xff"


# ---- 4. the output-folder lock ----------------------------------------------------------------------

HOLD_LOCK = """
import sys, time
from curate.run.lock import OutputLock
OutputLock(sys.argv[1]).acquire()
print("held", flush=True)
time.sleep(120)
"""


def test_a_second_run_on_a_locked_output_is_refused_naming_the_holder(pdfs, tmp_path):
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(out)], stdout=subprocess.PIPE, env=env)
    try:
        assert holder.stdout.readline().strip() == b"held"
        with pytest.raises(StageFailed, match=rf"in use by another curate run \(pid {holder.pid} on host "):
            run_recipe(get_recipe("pdf-pages"), str(pdfs), out, ONE_WORKER)
        assert sorted(p.name for p in out.iterdir()) == [LOCK_NAME]  # the refused run wrote nothing
    finally:
        holder.kill()  # SIGKILL: the lock file stays behind, stale
        holder.wait()
    assert (out / LOCK_NAME).exists()
    run_recipe(get_recipe("pdf-pages"), str(pdfs), out, ONE_WORKER)  # a dead holder's lock is taken over
    assert not (out / LOCK_NAME).exists() and len(_keys(out)) >= 3


def test_the_lock_works_on_an_fsspec_url():
    first = OutputLock("memory://curate-test/out")
    first.acquire()
    try:
        with pytest.raises(OutputLocked, match=rf"pid {os.getpid()} on host "):
            OutputLock("memory://curate-test/out").acquire()
    finally:
        first.release()
    second = OutputLock("memory://curate-test/out")
    second.acquire()  # released: free again
    second.release()


def test_a_lock_from_another_host_is_never_taken_over(tmp_path):
    (tmp_path / LOCK_NAME).write_text(json.dumps({"pid": 1, "host": "elsewhere", "started": "yesterday"}))
    with pytest.raises(
        Exception, match=r"pid 1 on host elsewhere, started yesterday.*delete .*\.curate\.lock"
    ):
        OutputLock(tmp_path).acquire()


# ---- 5. the error policy -----------------------------------------------------------------------------


class Raises:
    """A step whose work on every record raises `exc`."""

    def __init__(self, exc: Exception):
        super().__init__()
        self.exc = exc

    def fail(self, doc: Document) -> None:
        raise self.exc


class Failing(Raises, RecordStep):
    name = "failing"
    process = Raises.fail


class FailingScore(Raises, ScoreFilter):
    name = "failing score"
    score = Raises.fail

    def decide(self, doc: Document) -> bool:
        return True


@pytest.mark.parametrize("step", [Failing, FailingScore])
def test_a_data_error_becomes_an_error_record_with_its_reason(step):
    runner = step(PdfError("unreadable", "not a readable PDF"))
    assert list(runner.run(iter([_doc("a", "a.pdf")]))) == []
    assert runner.stats["errored_unreadable"].total == 1
    image = step(ImageError(None, "corrupt"))
    assert list(image.run(iter([_doc("a", "a.pdf")]))) == [] and image.stats["errored_image"].total == 1


@pytest.mark.parametrize("step", [Failing, FailingScore])
def test_a_programming_error_in_a_step_fails_the_task(step):
    with pytest.raises(KeyError, match="oops"):
        list(step(KeyError("oops")).run(iter([_doc("a", "a.pdf")])))


def test_a_programming_error_fails_the_stage_and_writes_no_error_rows(pdfs, tmp_path):
    from curate.pdf.reader import PdfPageReader

    def build(ctx: StageContext):
        return [PdfPageReader(ctx.input), Failing(TypeError("a bug, not bad data")), ctx.writer()]

    recipe = Recipe("buggy", [Stage("pages", build, input_suffixes=(".pdf",))])
    out = tmp_path / "out"
    with pytest.raises(StageFailed, match="TypeError: a bug, not bad data"):
        run_recipe(recipe, str(pdfs), out, ONE_WORKER)
    assert error_lines(out) == []


def test_an_llm_reply_without_choices_is_a_response_error(monkeypatch):
    from curate.synth.client import ChatClient

    client = ChatClient("http://127.0.0.1:9/v1")
    monkeypatch.setattr(
        client, "_post", lambda payload, deadline: {"object": "error", "message": "overloaded"}
    )
    with pytest.raises(LLMResponseError, match="not a chat completion") as caught:
        client.chat([{"role": "user", "content": "hi"}])
    assert caught.value.kind == "bad_response"


# ---- 6. the error-rate limit -------------------------------------------------------------------------


def _broken_pdfs(folder: Path, n: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        (folder / f"broken-{i:02d}.pdf").write_bytes(b"%PDF-1.7\nnot really a PDF " + bytes([i]))


def test_a_stage_with_too_many_errors_fails_naming_the_top_reason(pdfs, tmp_path):
    _broken_pdfs(pdfs, 22)  # 22 of 25 inputs broken the same way: a fault, not a dataset
    out = tmp_path / "out"
    with pytest.raises(
        StageFailed,
        match=r"22 of \d\d records errored \(\d\d% > max_error_rate=0.2\); most often unreadable \(22\)",
    ):
        run_recipe(get_recipe("pdf-pages"), str(pdfs), out, ONE_WORKER, options={"max_pages": 1})
    assert not (out / "shards" / "manifest.json").exists()
    assert "failed: stage 'pages'" in format_funnel(run_funnel(out))
    # the user says these inputs are expected to fail: the same run resumes and finishes
    run_recipe(
        get_recipe("pdf-pages"), str(pdfs), out, ONE_WORKER, options={"max_pages": 1, "max_error_rate": 1}
    )
    assert len(_keys(out)) == 3


def test_few_records_are_not_judged_by_rate(pdfs, tmp_path):
    """One broken file next to a few good ones is the data, not a fault (fewer than 20 records)."""
    _broken_pdfs(pdfs, 2)
    out = tmp_path / "out"
    run_recipe(get_recipe("pdf-pages"), str(pdfs), out, ONE_WORKER, options={"max_pages": 1})
    (pages,) = [f for f in run_funnel(out) if f.stage == "pages"]
    assert pages.errored_total == 2 and pages.records_in < 20 and not pages.failed


def test_the_lock_is_released_when_a_stage_fails(pdfs, tmp_path):
    _broken_pdfs(pdfs, 22)
    out = tmp_path / "out"
    with pytest.raises(StageFailed):
        run_recipe(get_recipe("pdf-pages"), str(pdfs), out, ONE_WORKER, options={"max_pages": 1})
    assert not (out / LOCK_NAME).exists()


def test_cut_llm_output_with_an_invalid_escape_keeps_the_backslash():
    """An invalid escape is a backslash the model did not double (a TeX command, a path): kept as written."""
    from curate.synth.generate import parse_pairs

    text = '[{"question": "bad \\x escape?", "answer": "a"}, {"question": "ok?", "answer": "b"}, {"q'
    pairs, problem = parse_pairs(text)
    assert pairs == [{"question": "bad \\x escape?", "answer": "a"}, {"question": "ok?", "answer": "b"}]
    assert problem.startswith("malformed")
