"""Local and Ray executors give the same samples; a run killed with SIGKILL resumes without loss or duplicates."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
from curate.pipelines import get_recipe
from samples import copy_pdfs, sample_digests

from curate.run.executors import ExecutorConfig
from curate.run.runner import run_recipe

SMALL_SET = [
    "born_digital/scotus-transcript-p1.pdf",
    "born_digital/la-precinct-bulletin-2014-p1.pdf",
    "born_digital/multi_page.pdf",
    "scanned/ocr_test.pdf",
    "broken/password-example.pdf",
]


@pytest.mark.slow
def test_local_and_ray_executors_give_the_same_samples(shared_data, tmp_path):
    pdfs = copy_pdfs(shared_data, SMALL_SET, tmp_path / "pdfs")
    run_recipe(get_recipe("pdf-pages"), str(pdfs), tmp_path / "local", ExecutorConfig("local", workers=2))
    run_recipe(get_recipe("pdf-pages"), str(pdfs), tmp_path / "ray", ExecutorConfig("ray", workers=2))
    local, ray_ = sample_digests(tmp_path / "local"), sample_digests(tmp_path / "ray")
    assert len(local) >= 5
    assert local == ray_


@pytest.mark.slow
def test_sigkill_midway_then_rerun_keeps_each_page_exactly_once(shared_data, tmp_path):
    names = sorted(
        str(p.relative_to(shared_data / "pdf")) for p in (shared_data / "pdf" / "born_digital").glob("*.pdf")
    )
    pdfs = copy_pdfs(shared_data, names, tmp_path / "pdfs")
    output = tmp_path / "out"
    command = [
        sys.executable,
        "-m",
        "curate.cli",
        "run",
        "pdf-pages",
        "--input",
        str(pdfs),
        "--output",
        str(output),
        "--workers",
        "1",
        "--set",
        "shard_samples=7",
    ]
    completions = output / "stages" / "pages" / "logs" / "completions"
    run = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    deadline = time.monotonic() + 300
    while (
        time.monotonic() < deadline and len(list(completions.glob("*")) if completions.exists() else []) < 3
    ):
        time.sleep(0.05)
    os.killpg(run.pid, signal.SIGKILL)
    run.wait()
    done_at_kill = len(list(completions.glob("*")))
    assert 3 <= done_at_kill < len(names), "the kill did not land midway"

    rerun = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    reference = tmp_path / "reference"
    run_recipe(
        get_recipe("pdf-pages"),
        str(pdfs),
        reference,
        ExecutorConfig("local", workers=2),
        options={"shard_samples": 7},
    )
    resumed, clean = sample_digests(output), sample_digests(reference)
    assert resumed == clean
    assert not list((output / "shards").glob("*.tmp"))


def test_largest_tasks_start_first_and_read_the_same_files(shared_data, tmp_path):
    """The executor starts tasks by input bytes, largest first; each task still reads its own files."""
    from curate.pipelines.pdf_pages import pages_stage

    from curate.recipe import StageContext
    from curate.run.executors import make_executor

    folder = copy_pdfs(shared_data, SMALL_SET, tmp_path / "in")
    stage = pages_stage()
    ctx = StageContext("pages", str(folder), tmp_path / "out")
    executor = make_executor(stage, ctx, ExecutorConfig("local", workers=2))
    from datatrove.io import get_shard_from_paths_file

    reader = executor.pipeline[0]
    order = executor.get_incomplete_ranks()
    shares = {  # what each task reads: its lines of the stage's plan (empty lines pad shorter shares)
        rank: [f for f in get_shard_from_paths_file(reader.paths_file, rank, executor.world_size) if f]
        for rank in range(executor.world_size)
    }
    sizes = {rank: sum(os.path.getsize(folder / f) for f in files) for rank, files in shares.items()}
    assert sorted(order) == list(range(executor.world_size)) == list(range(len(SMALL_SET)))
    assert sorted(f for files in shares.values() for f in files) == sorted(SMALL_SET)
    assert [sizes[rank] for rank in order] == sorted(sizes.values(), reverse=True)


SECOND_RUN_ON_S3 = """
import sys
from pathlib import Path

from curate.pipelines import get_recipe
from curate.run.executors import ExecutorConfig
from curate.run.runner import run_recipe
from curate.run.testing import s3_server, upload_folder


def main(pdfs, local):
    workers = ExecutorConfig("local", workers=2)
    run_recipe(get_recipe("pdf-pages"), pdfs, local, workers)  # starts the process's forkserver
    with s3_server(("curate",)):  # credentials and endpoint set only now
        upload_folder(Path(pdfs), "s3://curate/pdfs")
        run_recipe(get_recipe("pdf-pages"), "s3://curate/pdfs", "s3://curate/out", workers)
    print("second run ok")


if __name__ == "__main__":
    main(*sys.argv[1:])
"""


@pytest.mark.slow
def test_a_second_run_in_one_process_gives_its_workers_the_environment_set_since_the_first(
    shared_data, tmp_path
):
    """Pool workers fork from a forkserver that keeps the environment of its start: the S3 run's workers
    had no credentials (NoCredentialsError) until each task took the driver's environment of its run."""
    pytest.importorskip("moto", reason="moto[server] is a dev dependency (make install)")
    pdfs = copy_pdfs(shared_data, SMALL_SET[:3], tmp_path / "pdfs")
    script = tmp_path / "two_runs.py"
    script.write_text(SECOND_RUN_ON_S3)
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    done = subprocess.run(
        [sys.executable, str(script), str(pdfs), str(tmp_path / "local")],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert done.returncode == 0 and "second run ok" in done.stdout, done.stderr[-3000:]
