"""The `curate` CLI as a user runs it, and the Hub push plan (checked offline through --dry-run)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from curate.output.hub import push_plan

CURATE = [sys.executable, "-m", "curate.cli"]


def _curate(*args, env=None, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([*CURATE, *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=600)


def test_push_dry_run_lists_exactly_what_would_be_uploaded(pdf_run):
    env = {**os.environ, "HF_TOKEN": "hf_notARealTokenButSecret123", "HF_HUB_OFFLINE": "1"}
    result = _curate("push", str(pdf_run), "--repo", "someorg/pdf-pages", "--dry-run", env=env)
    assert result.returncode == 0, result.stderr
    assert "hf_notARealTokenButSecret123" not in result.stdout + result.stderr
    manifest = json.loads((pdf_run / "shards" / "manifest.json").read_text())
    plan = push_plan(pdf_run, "someorg/pdf-pages")
    expected = {f"shards/{s['name']}" for s in manifest["shards"]} | {
        "shards/manifest.json",
        "README.md",
        "funnel.json",
        "run.json",
        "images/funnel.png",
    }
    assert set(plan.allow_patterns) == expected
    for path in expected:
        assert path in result.stdout
    assert not (pdf_run / "README.md").exists() and not (pdf_run / "images").exists()  # nothing written
    card = next(f.content for f in plan.files if f.path == "README.md").decode()
    assert 'load_dataset("someorg/pdf-pages"' in card and "wds.WebDataset" in card
    assert "| `pages` |" in card and "![Funnel" in card  # the funnel table and chart


def test_push_without_shards_is_a_clear_error(tmp_path):
    result = _curate("push", str(tmp_path), "--repo", "a/b", "--dry-run")
    assert result.returncode != 0
    assert "run a recipe to the end first" in result.stderr


def test_inspect_prints_samples_and_saves_images(pdf_run, tmp_path):
    result = _curate("inspect", str(pdf_run), "-n", "2", "--save-images", str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("=== ") == 2
    assert len(list(tmp_path.glob("*.png"))) == 2


def test_report_prints_the_funnel_and_errors(pdf_run):
    result = _curate("report", str(pdf_run), "--errors")
    assert result.returncode == 0, result.stderr
    assert "pages" in result.stdout and "ok" in result.stdout and "encrypted" in result.stdout
    assert "MISMATCH" not in result.stdout


def test_run_with_missing_input_fails_with_a_clear_message(tmp_path):
    result = _curate("run", "pdf-pages", "--input", str(tmp_path / "nope"), "--output", str(tmp_path / "out"))
    assert result.returncode != 0
    assert f"no such input {tmp_path / 'nope'}" in result.stderr


def test_unknown_recipe_and_stage_are_clear_errors(tmp_path):
    result = _curate("run", "no-such-recipe", "--input", str(tmp_path), "--output", str(tmp_path / "o"))
    assert result.returncode != 0 and "unknown recipe" in result.stderr
    result = _curate(
        "run", "pdf-pages", "--input", str(tmp_path), "--output", str(tmp_path / "o"), "--stage", "x"
    )
    assert result.returncode != 0 and "has no stage 'x'" in result.stderr


def test_recipes_lists_pdf_pages():
    result = _curate("recipes")
    assert result.returncode == 0 and "pdf-pages" in result.stdout and Path(".").exists()


def test_missing_clip_weights_fail_the_run_before_any_work(shared_data, tmp_path):
    env = {**os.environ, "HF_HUB_CACHE": str(tmp_path / "empty-hub-cache"), "HOME": str(tmp_path)}
    output = tmp_path / "out"
    result = _curate("run", "pairs", "--input", str(shared_data / "warc"), "--output", str(output), env=env)
    assert result.returncode != 0
    assert "--set clip_weights=PATH" in result.stderr and "--set clip=false" in result.stderr
    assert not (output / "stages").exists(), "stages ran before the missing weights were noticed"
