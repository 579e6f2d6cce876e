"""`curate push` for real, against a local stand-in for the Hub's HTTP API (tests/hub_standin.py):
huggingface_hub's own upload code runs unchanged (HF_ENDPOINT points it at the stand-in)."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from curate.pipelines import get_recipe
from hub_standin import StandInHub

from curate.run.executors import ExecutorConfig
from curate.run.runner import run_recipe

TOKEN = "hf_standinSecretToken0123456789"
REPO = "someorg/pdf-pages"
PDFS = [
    "la-precinct-bulletin-2014-p1.pdf",
    "multi_page.pdf",
    "scotus-transcript-p1.pdf",
    "senate-expenditures.pdf",
]


@pytest.fixture(scope="module")
def run_output(shared_data, tmp_path_factory) -> Path:
    """pdf-pages over 3 PDFs with the language filter on (a score with a threshold), 1 sample a shard."""
    pdfs = tmp_path_factory.mktemp("pdfs")
    for name in PDFS:
        (pdfs / name).write_bytes((shared_data / "pdf" / "born_digital" / name).read_bytes())
    output = tmp_path_factory.mktemp("run")
    options = {"max_pages": 2, "shard_samples": 1, "language": True}
    run_recipe(
        get_recipe("pdf-pages"), str(pdfs), output, ExecutorConfig("local", workers=1), options=options
    )
    return output


@pytest.fixture
def hub():
    hub = StandInHub.start()
    yield hub
    hub.stop()


def _env(hub: StandInHub, tmp_path: Path, protocol: str = "lfs") -> dict:
    env = {
        **os.environ,
        "HF_ENDPOINT": hub.url,
        "HF_TOKEN": TOKEN,
        "HF_HOME": str(tmp_path / "hf-home"),  # no saved token or cache of the user's
        "HF_HUB_DISABLE_PROGRESS_BARS": "1",
    }
    if protocol == "lfs":
        env["HF_HUB_DISABLE_XET"] = "1"  # else hf_xet's protocol, the default of huggingface_hub 2.x
    return env


def _push(output, env, *extra) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "curate.cli", "push", str(output), "--repo", REPO, *extra]
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)


def _tree(folder: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns) for p in folder.rglob("*")}


def _expected_files(output: Path) -> dict[str, bytes]:
    manifest = json.loads((output / "shards" / "manifest.json").read_text())
    files = {f"shards/{s['name']}": (output / "shards" / s["name"]).read_bytes() for s in manifest["shards"]}
    files["shards/manifest.json"] = (output / "shards" / "manifest.json").read_bytes()
    return files


def _assert_token_nowhere(output: Path, *texts: str) -> None:
    for text in texts:
        assert TOKEN not in text
    for path in output.rglob("*"):
        if path.is_file():
            assert TOKEN.encode() not in path.read_bytes(), f"the token was written to {path}"


def test_dry_run_writes_nothing_and_sends_nothing(run_output, hub, tmp_path):
    before = _tree(run_output)
    result = _push(run_output, _env(hub, tmp_path), "--dry-run")
    assert result.returncode == 0, result.stderr
    assert "nothing uploaded" in result.stdout and "README.md" in result.stdout
    assert _tree(run_output) == before and not (run_output / "README.md").exists()
    assert hub.requests == []
    _assert_token_nowhere(run_output, result.stdout, result.stderr)


@pytest.mark.parametrize("protocol", ["xet", "lfs"])
def test_interrupted_push_resumes_without_sending_finished_shards_again(run_output, hub, tmp_path, protocol):
    env = _env(hub, tmp_path, protocol)
    expected = _expected_files(run_output)
    shards = [p for p in expected if p.endswith(".tar")]
    assert len(shards) >= 3
    hub.fail_after_uploads = 2  # the Hub stops taking files after two shards
    first = _push(run_output, env, "--batch-gb", "0.000001")  # one shard per batch (commit)
    assert first.returncode == 1
    assert "rerun the same command to resume" in first.stderr
    committed = [p for p in hub.repos[REPO] if p.endswith(".tar")]
    assert len(committed) == 2 and len(hub.uploads) == 2
    sent_first, commits_first = set(hub.uploads), len(hub.commits)

    hub.fail_after_uploads = None
    hub.requests.clear()
    second = _push(run_output, env, "--batch-gb", "0.000001")
    assert second.returncode == 0, second.stderr
    assert "2 of" in second.stdout and "already on the Hub" in second.stdout
    resent = sent_first & set(hub.uploads[2:])
    assert not resent, "finished shards were uploaded again"
    committed_again = {path for commit in hub.commits[commits_first:] for path in commit} & set(committed)
    assert not committed_again, "finished shards were committed again"
    charts_sent = [p for p in hub.repos[REPO] if p.endswith(".png")]
    if protocol == "lfs":  # one object per file (Xet packs chunks of several files into one xorb)
        assert len(hub.uploads) - 2 == len(shards) - 2 + len(charts_sent)  # the other shards, the charts

    repo = hub.repos[REPO]
    for path, data in expected.items():  # every shard and the manifest
        assert hub.file_sha256(REPO, path) == hashlib.sha256(data).hexdigest(), path
        if protocol == "lfs":
            assert hub.file_bytes(REPO, path) == data, path
    card = hub.file_bytes(REPO, "README.md").decode()
    assert hub.cards[-1] == card  # validated by the Hub's YAML check
    assert "configs:" in card and "path: shards/*.tar" in card
    charts = [p for p in repo if p.startswith("images/") and p.endswith(".png")]
    assert "images/funnel.png" in charts and len(charts) >= 2  # the funnel and the language histogram
    for chart in charts:
        assert f"]({chart})" in card
    assert protocol == "xet" or hub.file_bytes(REPO, charts[0]).startswith(b"\x89PNG")
    applied = json.loads((run_output / "stages" / "filter" / "thresholds.json").read_text())["language"]
    assert f"`language` (filter): kept at least {applied['min']:.4g}" in card  # the threshold applied
    section = card.split("## Stages and their options")[1]
    filter_row = next(line for line in section.splitlines() if line.startswith("| `filter` |"))
    assert "`language=true`" in filter_row and "## Licence and opt-out" in card
    assert json.loads(hub.file_bytes(REPO, "funnel.json"))[0]["stage"] == "pages"
    if protocol == "xet":
        assert hub.xet_shards and not [r for r in hub.requests if r.method == "PUT"]

    # every request carried the token to the stand-in, and it appears nowhere else
    hub_api = [
        r for r in hub.requests if r.path.startswith("/api/datasets/") or r.path == "/api/repos/create"
    ]
    assert {r.authorization for r in hub_api} == {f"Bearer {TOKEN}"}
    _assert_token_nowhere(run_output, first.stdout, first.stderr, second.stdout, second.stderr)

    pushed = sorted(repo)
    repo["shards/shard-00009-00000.tar"] = dict(repo[shards[0]])  # a shard of an earlier, larger run
    third = _push(run_output, env, "--batch-gb", "0.000001")  # nothing changed: nothing sent
    assert third.returncode == 0, third.stderr
    assert f"{len(pushed)} of {len(pushed)} files are already on the Hub" in third.stdout
    assert "removed 1 files" in third.stdout and sorted(hub.repos[REPO]) == pushed


def test_push_reads_an_object_store_output_through_fsspec(run_output, hub, tmp_path):
    """The output in an fsspec store (here `memory://`, as `s3://` would be): shards staged by download."""
    script = f"""
import fsspec
from curate.output.hub import push
fs = fsspec.filesystem("memory")
fs.put({str(run_output)!r}, "/bucket/run", recursive=True)
push("memory://bucket/run", {REPO!r}, batch_bytes=1 << 20)
"""
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=_env(hub, tmp_path), timeout=300
    )
    assert result.returncode == 0, result.stderr
    for path, data in _expected_files(run_output).items():
        assert hub.file_sha256(REPO, path) == hashlib.sha256(data).hexdigest(), path
    assert "images/funnel.png" in hub.repos[REPO] and "README.md" in hub.repos[REPO]
    assert "images/00-filter-language.png" in hub.repos[REPO]  # the histogram, from the records' scores
    _assert_token_nowhere(run_output, result.stdout, result.stderr)


def test_card_configs_name_every_format_the_run_wrote(run_output, tmp_path):
    """Parquet files beside the shards (e.g. OUT/parquet/) are pushed and get their own config."""
    import shutil

    import yaml

    from curate.output.hub import push_plan

    output = tmp_path / "run"
    shutil.copytree(run_output, output)
    (output / "parquet").mkdir()
    shutil.copy(
        next((output / "stages" / "pages" / "data").glob("*.parquet")), output / "parquet" / "part-0.parquet"
    )
    plan = push_plan(output, REPO)
    assert "parquet/part-0.parquet" in plan.allow_patterns
    assert not any(p.startswith("stages/") for p in plan.allow_patterns)  # internal state stays home
    card = next(f.content for f in plan.files if f.path == "README.md").decode()
    meta = yaml.safe_load(card.split("---\n")[1])
    assert meta["configs"] == [
        {"config_name": "default", "data_files": [{"split": "train", "path": "shards/*.tar"}]},
        {"config_name": "parquet", "data_files": [{"split": "train", "path": "parquet/*.parquet"}]},
    ]
    assert meta["license"] == "other" and "webdataset" in meta["tags"]
