"""`curate serve-llm --engine llama.cpp`: the project's own llama.cpp server for a cluster's qa stage
(started for real, and queried, by tests/test_journeys.py through the runbook's command)."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def _serve(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "curate.cli", "serve-llm", *args],
        capture_output=True, text=True, timeout=120, env={**os.environ, "PYTHONPATH": str(REPO)},
    )  # fmt: skip


def test_llama_cpp_engine_prints_the_server_command():
    result = _serve("--engine", "llama.cpp", "--host", "0.0.0.0", "--port", "8080", "--dry-run")
    assert result.returncode == 0, result.stderr
    argv = shlex.split(result.stdout.strip().splitlines()[-1])
    assert argv[1:3] == ["-m", "llama_cpp.server"]
    options = dict(zip(argv[3::2], argv[4::2], strict=True))
    assert options["--host"] == "0.0.0.0" and options["--port"] == "8080" and options["--n_ctx"] == "2048"
    assert options["--model_alias"].lower().startswith("qwen2.5-coder-1.5b")  # the docmatix QA model's name
    assert "--set llm_url=http://HOST:8080/v1" in result.stderr


def test_llama_cpp_engine_with_an_unknown_model_is_one_line():
    result = _serve("--engine", "llama.cpp", "--model", "no-such-model")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "'no-such-model' is neither a packaged model" in result.stderr
