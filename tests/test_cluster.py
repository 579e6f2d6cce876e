"""Cluster scale for real: input and output on an S3-compatible server (moto, started here), a Ray
cluster of two nodes (two `ray start` processes, token authentication), tasks free of the file count."""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from curate.pipelines import get_recipe
from samples import copy_pdfs, sample_digests

from curate.output.loader import make_dataset
from curate.recipe import StageFailed
from curate.run.executors import ExecutorConfig
from curate.run.runner import run_recipe

REPO = Path(__file__).resolve().parent.parent
SMALL_SET = [
    "born_digital/scotus-transcript-p1.pdf",
    "born_digital/multi_page.pdf",
    "scanned/ocr_test.pdf",
]


def _pages(folder: Path) -> set[str]:
    """Every page id the PDFs of `folder` have (`file#page=N`)."""
    import pymupdf

    ids = set()
    for path in folder.rglob("*.pdf"):
        with pymupdf.open(path) as pdf:
            ids.update(f"{path.relative_to(folder).as_posix()}#page={n + 1}" for n in range(pdf.page_count))
    return ids


@pytest.fixture(scope="module")
def s3():
    pytest.importorskip("moto", reason="moto[server] is a dev dependency (make install)")
    from curate.run.testing import s3_server

    with s3_server(("curate",)) as env:
        yield env


@pytest.fixture(scope="module")
def s3_pdfs(s3, shared_data, tmp_path_factory) -> tuple[str, Path]:
    from curate.run.testing import upload_folder

    local = copy_pdfs(shared_data, SMALL_SET, tmp_path_factory.mktemp("pdfs"))
    upload_folder(local, "s3://curate/pdfs")
    return "s3://curate/pdfs", local


@pytest.fixture(scope="module")
def s3_run(s3_pdfs, tmp_path_factory) -> str:
    """pdf-pages with input and output in the bucket, local executor, run from an empty folder."""
    workdir = tmp_path_factory.mktemp("cwd")
    before = os.getcwd()
    os.chdir(workdir)
    try:
        run_recipe(
            get_recipe("pdf-pages"),
            s3_pdfs[0],
            "s3://curate/output-local",
            ExecutorConfig("local", workers=2),
            options={"shard_samples": 3, "formats": ["webdataset", "parquet"]},
        )
    finally:
        os.chdir(before)
    assert not any(workdir.iterdir()), "an s3:// output must not create a local folder"
    return "s3://curate/output-local"


def test_pdf_pages_on_s3_end_to_end(s3_run, s3_pdfs):
    import fsspec

    fs = fsspec.filesystem("s3")
    manifest = json.loads(fs.cat(f"{s3_run}/shards/manifest.json"))
    assert manifest["shards"] and not fs.glob(f"{s3_run}/shards/*.tmp")
    for shard in manifest["shards"]:
        data = fs.cat(f"{s3_run}/shards/{shard['name']}")
        assert hashlib.sha256(data).hexdigest() == shard["sha256"] and len(data) == shard["bytes"]
    samples = list(make_dataset(s3_run, decode_images=False))
    assert len(samples) == manifest["total_samples"]
    # every readable page once; the recorded source is the object's URL, not "s3:/..."
    pages = {s["json"]["id"] for s in samples}
    assert pages <= _pages(s3_pdfs[1]) and len(pages) == len(samples) >= 3
    assert all(s["json"]["source"].startswith("s3://curate/pdfs/") for s in samples)
    funnel = json.loads(fs.cat(f"{s3_run}/funnel.json"))
    assert [f["stage"] for f in funnel] == ["pages", "shards"] and all(f["balanced"] for f in funnel)
    assert fs.exists(f"{s3_run}/stages/pages/logs/completions") and fs.exists(f"{s3_run}/run.json")


def test_hub_parquet_on_s3_is_published_whole_and_a_rerun_replaces_its_files(s3_run):
    """Hub Parquet in the bucket, beside the shards: files roll over at shard_samples, appear whole (no
    .tmp), match their manifest, hold every sample once; a task run again deletes its earlier files."""
    import fsspec
    import pyarrow.parquet as pq

    from curate.io import RecordReader
    from curate.output.hub_parquet import HubParquetWriter, parquet_files

    fs = fsspec.filesystem("s3")
    folder = f"{s3_run}/parquet"
    manifest = json.loads(fs.cat(f"{folder}/manifest.json"))
    assert manifest["configs"] == {"captioned": "captioned-*.parquet"} and not fs.glob(f"{folder}/*.tmp")
    assert len(manifest["files"]) >= 2 and all(1 <= f["samples"] <= 3 for f in manifest["files"])
    assert parquet_files(s3_run) == sorted(f"{folder}/{f['name']}" for f in manifest["files"])
    ids = []
    for entry in manifest["files"]:
        data = fs.cat(f"{folder}/{entry['name']}")
        assert hashlib.sha256(data).hexdigest() == entry["sha256"] and len(data) == entry["bytes"]
        table = pq.read_table(io.BytesIO(data))
        assert b"huggingface" in table.schema.metadata  # the `datasets` features: images decode on load
        ids += table.column("id").to_pylist()
    assert sorted(ids) == sorted(s["json"]["id"] for s in make_dataset(s3_run, decode_images=False))

    docs = list(RecordReader(f"{s3_run}/stages/pages/data").run())
    rerun = "s3://curate/parquet-rerun"
    list(HubParquetWriter(rerun, max_samples=1).run(iter(docs), rank=0))
    assert len(fs.glob(f"{rerun}/*.parquet")) == len(docs) >= 3
    list(HubParquetWriter(rerun, max_samples=1).run(iter(docs[:1]), rank=0))  # the task again, less input
    assert [p.rsplit("/", 1)[1] for p in fs.glob(f"{rerun}/*.parquet")] == ["captioned-00000-00000.parquet"]
    assert [f["samples"] for f in json.loads(fs.cat(f"{rerun}/manifests/00000.json"))] == [1]


@pytest.mark.slow
def test_dedup_and_filters_keep_their_files_in_the_bucket(s3_pdfs, tmp_path, monkeypatch):
    """Dedup index, thresholds and the percentile cut read and write the bucket like any stage."""
    import fsspec

    monkeypatch.chdir(tmp_path)
    output = "s3://curate/output-filters"
    options = {"dedup": True, "language": True, "perplexity": True, "shard_samples": 3}
    run_recipe(
        get_recipe("pdf-pages"), s3_pdfs[0], output, ExecutorConfig("local", workers=2), options=options
    )
    assert not any(tmp_path.iterdir())
    fs = fsspec.filesystem("s3")
    funnel = json.loads(fs.cat(f"{output}/funnel.json"))
    assert [f["stage"] for f in funnel] == [
        "pages", "dedup-keys", "dedup-match", "dedup-filter", "filter", "perplexity_cut", "shards"
    ]  # fmt: skip
    assert all(f["balanced"] for f in funnel)
    assert fs.glob(f"{output}/stages/dedup-keys/index/*/p*/*.bin") and fs.glob(
        f"{output}/stages/dedup-match/decisions/*"
    )
    assert "language" in json.loads(fs.cat(f"{output}/stages/filter/thresholds.json"))
    # 7 pages: 5% of them is no page, so the cut (computed from the scores in the bucket) drops none
    assert fs.exists(f"{output}/stages/perplexity_cut/thresholds.json")
    kept = funnel[-1]["kept"]
    assert kept == json.loads(fs.cat(f"{output}/shards/manifest.json"))["total_samples"] > 0


def test_report_and_inspect_read_an_s3_output(s3_run, capsys, tmp_path, monkeypatch):
    from curate.cli import main

    assert main(["report", s3_run]) == 0
    assert "pages" in capsys.readouterr().out
    # the HTML report of an s3:// run is written locally (where a browser opens it), not into the bucket
    monkeypatch.chdir(tmp_path)
    assert main(["report", s3_run, "--html"]) == 0
    index = tmp_path / "curate-report" / "curate-output-local" / "index.html"
    assert f"HTML report: {index.relative_to(tmp_path)}" in capsys.readouterr().out
    page = index.read_text()
    assert "<td class=l>pages</td>" in page and "<td class=l>shards</td>" in page
    # the scanned page's routing, with its page image from the bucket's records
    assert "ocr_test.pdf" in page and list((index.parent / "pages").glob("*.jpg"))
    assert main(["inspect", s3_run, "-n", "1"]) == 0
    assert "s3://curate/pdfs/" in capsys.readouterr().out


def test_missing_input_and_missing_bucket_are_clear_errors(s3_pdfs, tmp_path):
    import fsspec

    with pytest.raises(StageFailed, match=r"no such input s3://curate/nothing \(check --input\)"):
        run_recipe(get_recipe("pdf-pages"), "s3://curate/nothing", tmp_path / "out")
    with pytest.raises(
        StageFailed, match=r"stage 'pages': no such input s3://curate/nothing \(check --input\)"
    ):
        run_recipe(get_recipe("docmatix"), "s3://curate/nothing", "s3://curate/out-none", only_stage="pages")
    with pytest.raises(StageFailed, match=r"stages/documents/data \(run stage 'documents' first\)"):
        run_recipe(get_recipe("docmatix"), "s3://curate/pdfs", "s3://curate/out-none", only_stage="qa")
    fs = fsspec.filesystem("s3")
    fs.invalidate_cache()
    assert not (tmp_path / "out").exists() and not fs.exists("s3://curate/out-none")  # nothing created
    with pytest.raises(StageFailed, match="no such bucket 'no-bucket'"):
        run_recipe(get_recipe("pdf-pages"), "s3://curate/pdfs", "s3://no-bucket/out")
    assert not Path("s3:").exists()


# docmatix up to `documents`, with input and output in the bucket (the filters off: what is tested here is
# the storage, and they are tested on the bucket above); max_pages=5 keeps multi_page.pdf whole
DOCMATIX_OPTIONS = {"dedup": False, "language": False, "perplexity": False, "max_pages": 5, "ocr": False}


@pytest.fixture(scope="module")
def s3_documents(s3_pdfs, tmp_path_factory) -> tuple[str, str]:
    """docmatix's stages up to `documents` run one by one (as the runbook does) from and to the bucket,
    local executor, progress bars on; returns (output URL, what the bars printed)."""
    from curate.run.runner import active_stage_names

    workdir = tmp_path_factory.mktemp("cwd-docmatix")
    output = "s3://curate/docmatix"
    recipe = get_recipe("docmatix")
    names = active_stage_names(recipe, s3_pdfs[0], output, DOCMATIX_OPTIONS)
    before, printed = os.getcwd(), io.StringIO()
    os.chdir(workdir)
    try:
        for name in names[: names.index("documents") + 1]:
            saved, sys.stderr = sys.stderr, printed  # the bars' output (tqdm writes to sys.stderr)
            try:
                run_recipe(recipe, s3_pdfs[0], output, ExecutorConfig("local", workers=2), only_stage=name,
                           options=DOCMATIX_OPTIONS, progress=True)  # fmt: skip
            finally:
                sys.stderr = saved
    finally:
        os.chdir(before)
    assert not any(workdir.iterdir()), "an s3:// output must not create a local folder"
    return output, printed.getvalue()


def test_docmatix_documents_on_s3_join_each_pdfs_pages_and_every_bar_reaches_100(s3_documents, s3_pdfs):
    import fsspec
    import pymupdf

    from curate.io import RecordReader

    output, bars = s3_documents
    documents = list(RecordReader(f"{output}/stages/documents/data").run())
    expected = {}
    for path in sorted(s3_pdfs[1].rglob("*.pdf")):
        with pymupdf.open(path) as pdf:
            expected[path.relative_to(s3_pdfs[1]).as_posix()] = list(range(1, pdf.page_count + 1))
    assert {d.id.removeprefix("s3://curate/pdfs/"): [p["page"] for p in d.metadata["pages"]]
            for d in documents} == expected  # fmt: skip
    fs = fsspec.filesystem("s3")
    fs.invalidate_cache()
    for stage in ("pages", "documents"):
        done = len(fs.ls(f"{output}/stages/{stage}/logs/completions"))
        # the last state of each stage's bar (tqdm redraws the line with \r)
        states = bars.replace("\n", "\r").split("\r")
        last = [part for part in states if part.startswith(f"stage {stage}:")][-1]
        assert "100%" in last and f"{done}/{done}" in last, last


def test_a_qa_task_failed_by_the_server_on_ray_shows_the_cause_from_its_log_in_the_bucket(
    cluster, s3, s3_documents
):
    """The qa stage on the two-node cluster, its logs in the bucket, against a server that is up but
    answers every completion with HTTP 500: the driver prints the first task's error, in one line."""
    from stub_llm import StubLLM

    output = s3_documents[0]
    with StubLLM(fail_first=10**6) as failing:
        result = _curate(
            ["run", "docmatix", "--input", "s3://curate/pdfs", "--output", output, "--executor", "ray",
             "--ray-address", cluster.address, "--stage", "qa", "--set", f"llm_url={failing.url}",
             "--set", "llm_retries=0", *(f"--set={k}={str(v).lower()}" for k, v in DOCMATIX_OPTIONS.items())],
            {**cluster.env, **s3},
        )  # fmt: skip
    assert result.returncode == 1, result.stderr[-3000:]
    (failed,) = [line for line in result.stderr.splitlines() if line.startswith("FAILED")]
    assert "stage 'qa': tasks [" in failed and "did not complete; task " in failed
    assert (
        f"failed with ServerUnavailable: the LLM server at {failing.url} failed 1 times (HTTP 500" in failed
    )


def test_the_progress_bar_counts_markers_other_processes_write_to_the_bucket(s3):
    """Tasks on Ray nodes (or local worker processes) write their completion markers; the driver's bar
    must not keep its first listing (fsspec caches listings: the bars stopped at 2/4 and 1/3)."""
    import boto3

    from curate.recipe import StageContext
    from curate.run.progress import StageProgress

    ctx = StageContext("pages", "s3://curate/pdfs", "s3://curate/out-progress")
    progress = StageProgress(get_recipe("pdf-pages").stage("pages"), ctx, 2)
    client = boto3.client("s3", endpoint_url=s3["AWS_ENDPOINT_URL"])
    assert progress._done() == 0
    for rank in range(2):
        client.put_object(
            Bucket="curate", Key=f"out-progress/stages/pages/logs/completions/{rank:05d}", Body=b""
        )
        assert progress._done() == rank + 1


def test_more_tasks_than_pdfs_give_every_page_exactly_once(shared_data, tmp_path):
    """`--tasks 8` on 3 PDFs: 3 tasks (a task with nothing to read is not made); a rerun with the same
    `--tasks` resumes the plan, another count is refused naming the first."""
    pdfs = copy_pdfs(shared_data, SMALL_SET, tmp_path / "pdfs")
    output = tmp_path / "out"
    run_recipe(get_recipe("pdf-pages"), str(pdfs), output, ExecutorConfig("local", workers=2, tasks=8))
    logs = output / "stages" / "pages" / "logs"
    assert len(list((logs / "completions").iterdir())) == len(list((logs / "logs").glob("task_*.log"))) == 3
    plan = json.loads((output / "stages" / "pages" / "plan.json").read_text())
    assert plan["tasks"] == 3 and plan["asked"] == 8 and plan["files"] == 3
    ids = [s["json"]["id"] for s in make_dataset(output, decode_images=False)]
    assert sorted(ids) == sorted(_pages(pdfs))  # these three PDFs have no unreadable page
    (logs / "completions" / "00001").unlink()  # a task to redo: the same --tasks resumes the plan
    run_recipe(get_recipe("pdf-pages"), str(pdfs), output, ExecutorConfig("local", workers=2, tasks=8),
               only_stage="pages")  # fmt: skip
    assert len(list((logs / "completions").iterdir())) == 3
    (logs / "completions" / "00001").unlink()
    with pytest.raises(StageFailed, match="was started with --tasks 8, not 5"):
        run_recipe(
            get_recipe("pdf-pages"), str(pdfs), output, ExecutorConfig("local", tasks=5), only_stage="pages"
        )


def test_record_stage_splits_row_groups_and_reads_each_record_once(tmp_path):
    """One Parquet file of 5 row groups -> 5 tasks, each reading its own row groups."""
    import pyarrow.parquet as pq

    from curate.io import RecordReader, RecordWriter
    from curate.record import pdf_page_record
    from curate.run.plan import make_plan

    writer = RecordWriter(str(tmp_path / "in"))
    with writer:
        for n in range(5 * 64):  # the writer puts 64 records in a row group
            writer.write(pdf_page_record(f"doc#page={n}", f"text {n}", None, source="x", page=n), rank=0)
    (written,) = (tmp_path / "in").glob("*.parquet")
    assert pq.ParquetFile(written).metadata.num_row_groups == 5
    reader = RecordReader(str(tmp_path / "in"))
    plan = make_plan(reader, tasks=None, slots=2)
    assert plan.tasks == 5 and len(plan.units) == 5 and plan.listed_files == 1
    (tmp_path / "inputs.txt").write_text("".join(line + "\n" for line in plan.lines()))
    reader.paths_file = str(tmp_path / "inputs.txt")
    ids = [doc.id for rank in range(plan.tasks) for doc in reader.run(rank=rank, world_size=plan.tasks)]
    assert sorted(ids) == sorted(f"doc#page={n}" for n in range(320))


def test_docmatix_on_a_cluster_without_llm_url_is_refused_before_any_work(shared_data, tmp_path):
    pdfs = copy_pdfs(shared_data, SMALL_SET, tmp_path / "pdfs")
    out = tmp_path / "out"
    result = subprocess.run(
        [sys.executable, "-m", "curate.cli", "run", "docmatix", "--input", str(pdfs), "--output", str(out),
         "--executor", "ray", "--ray-address", "127.0.0.1:1"],
        capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(REPO)}, timeout=300,
    )  # fmt: skip
    assert result.returncode == 1
    assert "needs an LLM server every node can reach: pass --set llm_url=" in result.stderr
    assert not (out / "stages" / "pages").exists()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    pytest.importorskip("ray")
    from curate.run.testing import ray_cluster

    with ray_cluster(tmp_path_factory.mktemp("ray"), nodes=2, cpus_per_node=1) as running:
        yield running


def _curate(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "curate.cli", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO), **env},
        timeout=900,
    )


@pytest.mark.slow
def test_two_node_ray_run_on_s3_equals_the_local_run_and_resumes(cluster, s3, s3_pdfs, s3_run):
    import fsspec

    output = "s3://curate/output-ray"
    args = ["run", "pdf-pages", "--input", s3_pdfs[0], "--output", output, "--executor", "ray"]
    args += ["--ray-address", cluster.address, "--set", "shard_samples=3"]
    first = _curate(args, {**cluster.env, **s3})
    assert first.returncode == 0, first.stderr[-3000:]
    assert sample_digests(output) == sample_digests(s3_run)

    # a task that did not finish: its completion marker is gone; the rerun redoes only that task
    fs = fsspec.filesystem("s3")
    fs.invalidate_cache()
    marks = sorted(fs.ls(f"{output}/stages/pages/logs/completions"))
    data = {p: fs.info(p)["LastModified"] for p in fs.ls(f"{output}/stages/pages/data")}
    fs.rm(marks[0])
    again = _curate(args, {**cluster.env, **s3})
    assert again.returncode == 0, again.stderr[-3000:]
    fs.invalidate_cache()
    redone = {p for p in data if fs.info(p)["LastModified"] != data[p]}
    rank = Path(marks[0]).name  # the data files of a task end in _RANK.parquet
    assert redone and redone == {p for p in data if p.endswith(f"_{rank}.parquet")} != set(data)
    assert sample_digests(output) == sample_digests(s3_run)


@pytest.mark.slow
def test_far_more_tasks_than_pdfs_on_ray_start_only_the_tasks_with_work(cluster, s3, s3_pdfs, s3_run):
    """`--tasks 8000` on 3 PDFs (the runbook's command on a small input): 3 tasks on the cluster, none
    with nothing to read; the bar reaches 3/3; the same samples as the local run."""
    import fsspec

    output = "s3://curate/out-ray-tasks"
    args = ["run", "pdf-pages", "--input", s3_pdfs[0], "--output", output, "--executor", "ray"]
    args += ["--ray-address", cluster.address, "--set", "shard_samples=3"]
    pages = _curate([*args, "--stage", "pages", "--tasks", "8000"], {**cluster.env, **s3})
    assert pages.returncode == 0, pages.stderr[-3000:]
    fs = fsspec.filesystem("s3")
    fs.invalidate_cache()
    assert len(fs.ls(f"{output}/stages/pages/logs/completions")) == 3
    assert len(fs.glob(f"{output}/stages/pages/logs/logs/task_*.log")) == 3
    bar = [p for p in pages.stderr.replace("\n", "\r").split("\r") if p.startswith("stage pages:")][-1]
    assert "100%" in bar and "3/3" in bar, bar
    shards = _curate([*args, "--stage", "shards"], {**cluster.env, **s3})
    assert shards.returncode == 0, shards.stderr[-3000:]
    assert sample_digests(output) == sample_digests(s3_run)


@pytest.mark.slow
def test_tasks_packed_into_one_ray_actor_give_the_local_run(cluster, s3, s3_pdfs, s3_run):
    """`ExecutorConfig.tasks_per_actor` (datatrove's `tasks_per_job`, used by the driver bench): 3 tasks run
    at once in one actor's forked processes, each with its own page worker; the same samples as locally.
    In a fresh process (no CLI flag sets it): Ray reads its auth settings from the environment at import."""
    import fsspec

    output = "s3://curate/out-ray-packed"
    script = (
        "from curate.pipelines import get_recipe\n"
        "from curate.run.executors import ExecutorConfig\n"
        "from curate.run.runner import run_recipe\n"
        f"config = ExecutorConfig('ray', ray_address={cluster.address!r}, tasks=3, tasks_per_actor=3)\n"
        f"run_recipe(get_recipe('pdf-pages'), {s3_pdfs[0]!r}, {output!r}, config, options={{'shard_samples': 3}})\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=900,
        env={**os.environ, "PYTHONPATH": str(REPO), **cluster.env, **s3},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert sample_digests(output) == sample_digests(s3_run)
    with fsspec.open(f"{output}/stages/pages/logs/executor.json") as f:  # datatrove's record of its settings
        assert json.load(f)["tasks_per_job"] == 3


def test_ray_cluster_with_token_auth_and_no_token_is_a_clear_error(cluster, shared_data, tmp_path):
    pdfs = copy_pdfs(shared_data, SMALL_SET, tmp_path / "pdfs")
    result = _curate(
        ["run", "pdf-pages", "--input", str(pdfs), "--output", str(tmp_path / "out"), "--executor", "ray",
         "--ray-address", cluster.address, "--stage", "pages"],
        {"HOME": str(tmp_path), "RAY_AUTH_MODE": "disabled", "RAY_AUTH_TOKEN": ""},
    )  # fmt: skip
    assert result.returncode == 1
    assert "RAY_AUTH_MODE=token" in result.stderr and cluster.address in result.stderr


def test_ray_token_mode_without_any_token_is_the_one_line_hint(cluster, shared_data, tmp_path):
    """RAY_AUTH_MODE=token as the runbook says, but no RAY_AUTH_TOKEN and no ~/.ray/auth_token."""
    pdfs = copy_pdfs(shared_data, SMALL_SET, tmp_path / "pdfs")
    env = {key: value for key, value in os.environ.items() if not key.startswith("RAY_AUTH_TOKEN")}
    result = subprocess.run(
        [sys.executable, "-m", "curate.cli", "run", "pdf-pages", "--input", str(pdfs), "--output",
         str(tmp_path / "out"), "--executor", "ray", "--ray-address", cluster.address, "--stage", "pages"],
        capture_output=True, text=True, timeout=300,
        env={**env, "PYTHONPATH": str(REPO), "HOME": str(tmp_path), "RAY_AUTH_MODE": "token"},
    )  # fmt: skip
    assert result.returncode == 1
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    failed = [line for line in result.stderr.splitlines() if "FAILED" in line]
    assert len(failed) == 1 and "RAY_AUTH_TOKEN (now not set)" in failed[0] and cluster.address in failed[0]


def test_llm_concurrency_is_the_total_and_each_task_checks_the_server():
    from curate.synth.client import ServerUnavailable
    from curate.synth.generate import QAGenerator
    from curate.synth.qa_config import Endpoint, LlmServers, Requests
    from curate.synth.server import free_port
    from datatrove.data import Document

    url = f"http://127.0.0.1:{free_port()}/v1"
    generator = QAGenerator(LlmServers(Endpoint(url)), requests=Requests(concurrency=1, total_concurrency=64))
    generator.share_concurrency(8)  # 8 tasks at once share 64 requests in flight
    assert generator.concurrency == 8
    generator.share_concurrency(200)
    assert generator.concurrency == 1
    read = []

    def pages():
        read.append(1)
        yield Document(text="A page about the bridge that opened on 4 May 1931.", id="p")

    with pytest.raises(ServerUnavailable, match=f"no OpenAI-compatible LLM server answers at {url}"):
        list(generator.run(pages(), rank=0, world_size=1))
    assert not read  # checked at task start, before any page


def test_the_driver_reads_finished_tasks_stats_while_they_run_and_a_changed_file_again(s3):
    """ledger.stats_read_ahead fetches the stats files present while the tasks run; after it, the ledger
    serves them without fetching again, lists the files written since (not a listing kept from before),
    and reads a file rewritten since (a task run again) anew."""
    import time

    import fsspec
    from datatrove.io import get_datafolder
    from datatrove.utils.stats import PipelineStats, Stats

    from curate.run import ledger

    def stats(total: int) -> bytes:
        step = Stats("writer")
        step.stats["total"].update(total)
        return PipelineStats([step]).to_json().encode()

    fs = fsspec.filesystem("s3")
    stage = "s3://curate/read-ahead/stages/pages"
    fs.pipe(f"{stage}/logs/stats/00000.json", stats(3))

    def read_ahead() -> bool:
        return any(key[0].startswith(stage) and key[1] == "00000.json" for key in ledger._STATS_CACHE)

    shared = get_datafolder(f"{stage}/logs")  # the process's s3fs instance, as datatrove's executors use it
    with ledger.stats_read_ahead(stage, every=0.05):
        deadline = time.monotonic() + 10
        while not read_ahead() and time.monotonic() < deadline:
            time.sleep(0.05)
        # the last task's stats land after a read-ahead pass; datatrove's Ray executor then opens every
        # task's stats file through the shared instance: no listing of the read-ahead's may hide it
        fsspec.filesystem("s3", skip_instance_cache=True).pipe(f"{stage}/logs/stats/00002.json", stats(1))
        with shared.open("stats/00002.json") as f:
            assert PipelineStats.from_json(json.load(f)).stats
    assert read_ahead(), "not read while the tasks ran"
    fsspec.filesystem("s3", skip_instance_cache=True).rm(f"{stage}/logs/stats/00002.json")
    fetched = []
    cat = ledger.DataFolder.cat
    try:
        ledger.DataFolder.cat = lambda self, paths, **kw: fetched.extend(paths) or cat(self, paths, **kw)
        assert ledger.stat_total(ledger.task_stats(stage)["00000.json"].stats[-1], "total") == 3
        assert fetched == []
        # a task finished after the last read ahead, in another process (not through this one's s3fs)
        fsspec.filesystem("s3", skip_instance_cache=True).pipe(f"{stage}/logs/stats/00001.json", stats(4))
        assert sorted(ledger.task_stats(stage)) == ["00000.json", "00001.json"]
        assert fetched == ["00001.json"]
        fetched.clear()
        fs.pipe(f"{stage}/logs/stats/00000.json", stats(5))
        assert ledger.stat_total(ledger.task_stats(stage)["00000.json"].stats[-1], "total") == 5
        assert fetched == ["00000.json"]
    finally:
        ledger.DataFolder.cat = cat
