"""The run's record (run.json, appended by every stage run), a rerun of completed stages writing
nothing, and the dataset card's account of the run: options per stage and commands that make it again."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from runbook import commands
from samples import copy_pdfs, sample_digests

from curate.cli import build_parser
from curate.output.card_provenance import reproduce_commands
from curate.output.hub import push_plan

REPO = Path(__file__).resolve().parent.parent
PDFS = ["born_digital/la-precinct-bulletin-2014-p1.pdf", "born_digital/multi_page.pdf"]
KEY = "sk-recordTestSecret0123456789"


def _curate(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO), **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "curate.cli", *args], capture_output=True, text=True, env=env, timeout=600
    )


def _tree(folder: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns) for p in folder.rglob("*")}


@pytest.fixture(scope="module")
def staged_run(shared_data, tmp_path_factory) -> tuple[Path, Path]:
    """pdf-pages over two real PDFs, one stage per command as on a cluster: the shards stage with its own
    options (a list among them), and an API key in the environment."""
    pdfs = copy_pdfs(shared_data, PDFS, tmp_path_factory.mktemp("pdfs"))
    out = tmp_path_factory.mktemp("run") / "out"
    base = ["run", "pdf-pages", "--input", str(pdfs), "--output", str(out), "--workers", "2"]
    env = {"LLM_API_KEY": KEY}
    for stage, sets in (("pages", ["max_pages", "3"]), ("shards", ["shard_samples", "2"])):
        extra = [
            "--set",
            f"{sets[0]}={sets[1]}",
            "--set",
            "max_pages=3",
            "--set",
            "formats=webdataset,parquet",
        ]
        result = _curate(*base, "--stage", stage, *extra, env=env)
        assert result.returncode == 0, result.stderr[-3000:]
    return pdfs, out


def test_every_stage_run_is_appended_to_the_record(staged_run):
    _, out = staged_run
    record = json.loads((out / "run.json").read_text())
    assert record["recipe"] == "pdf-pages" and record["stages"] == ["pages", "shards"]
    runs = record["runs"]
    assert [r["stage"] for r in runs] == ["pages", "shards"]  # both commands, not only the last
    assert runs[0]["options"]["shard_samples"] != 2 and runs[1]["options"]["shard_samples"] == 2
    assert runs[1]["options"]["formats"] == ["webdataset", "parquet"]
    for entry in runs:
        assert re.fullmatch(r"curate \S+( \(git [\w.-]+\))?", entry["version"]), entry["version"]
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00", entry["started"])
        assert entry["executor"] == {"kind": "local", "ray_address": None, "tasks": None}
    assert KEY not in (out / "run.json").read_text()


def test_a_rerun_of_completed_stages_writes_nothing(staged_run):
    pdfs, out = staged_run
    before = _tree(out)
    base = ["run", "pdf-pages", "--input", str(pdfs), "--output", str(out), "--workers", "2"]
    for extra in (["--stage", "shards", "--set", "shard_samples=2"], ["--stage", "pages"], []):
        result = _curate(*base, "--set", "max_pages=3", "--set", "formats=webdataset,parquet", *extra)
        assert result.returncode == 0, result.stderr[-3000:]
        assert _tree(out) == before, f"rerun {extra} wrote to the output"


def test_a_stage_with_a_missing_task_is_run_again_and_recorded(staged_run, tmp_path):
    import shutil

    pdfs, done = staged_run
    out = tmp_path / "out"
    shutil.copytree(done, out)
    marks = sorted((out / "stages" / "shards" / "logs" / "completions").iterdir())
    marks[0].unlink()  # as if the task had been killed before finishing
    result = _curate("run", "pdf-pages", "--input", str(pdfs), "--output", str(out), "--stage", "shards",
                     "--set", "max_pages=3", "--set", "formats=webdataset,parquet", "--set", "shard_samples=2")  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    runs = json.loads((out / "run.json").read_text())["runs"]
    assert [r["stage"] for r in runs] == ["pages", "shards", "shards"]
    assert sample_digests(out) == sample_digests(done)


def test_card_gives_the_options_of_each_stage_and_a_command_that_runs(staged_run, tmp_path):
    pdfs, out = staged_run
    card = next(f.content for f in push_plan(out, "org/pages").files if f.path == "README.md").decode()
    assert "| `pages` |" in card and "`max_pages=3`" in card
    section = card.split("## Stages and their options")[1]
    shards_row = next(line for line in section.splitlines() if line.startswith("| `shards` |"))
    assert "`shard_samples=2`" in shards_row and "`formats=webdataset,parquet`" in shards_row
    assert "llm_api_key" not in card and KEY not in card and "null" not in card.split("## Make it again")[1]
    block = re.search(r"## Make it again\n.*?```bash\n(.*?)```", card, re.DOTALL).group(1)
    (argv,) = commands(block, {"INPUT": str(pdfs), "OUTPUT": str(tmp_path / "again")})
    args = build_parser().parse_args(argv[1:])  # parses as `curate` takes it
    assert dict(args.options) == {"max_pages": "3", "shard_samples": "2", "formats": "webdataset,parquet"}
    result = _curate(*argv[1:])
    assert result.returncode == 0, result.stderr[-3000:]
    assert sample_digests(tmp_path / "again") == sample_digests(out)


def test_conflicting_options_give_one_command_per_stage():
    record = {
        "recipe": "pdf-pages",
        "stages": ["pages", "shards"],
        "defaults": {"max_error_rate": 0.2, "dpi": 150},
        "runs": [
            {"stage": "pages", "reads": ["dpi"], "options": {"max_error_rate": 0.5, "dpi": 200}},
            {"stage": "shards", "reads": [], "options": {"max_error_rate": 0.1, "dpi": 150}},
        ],
    }
    pages, shards = reproduce_commands(record)
    assert "--stage pages" in pages and "max_error_rate=0.5" in pages and "dpi=200" in pages
    assert "--stage shards" in shards and "max_error_rate=0.1" in shards and "dpi" not in shards
    for command in (pages, shards):
        build_parser().parse_args(command.split()[1:])


def test_push_dry_run_prints_the_card(staged_run):
    _, out = staged_run
    result = _curate("push", str(out), "--repo", "org/pages", "--dry-run", env={"HF_HUB_OFFLINE": "1"})
    assert result.returncode == 0, result.stderr
    assert "--- README.md (the dataset card) ---" in result.stdout
    assert "## Make it again" in result.stdout and "## Stages and their options" in result.stdout
