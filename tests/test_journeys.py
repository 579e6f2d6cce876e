"""Journeys on every recipe: the cluster runbook's commands, taken from the documentation, on a two-node
Ray cluster with input and output in an S3 server, the LLM served separately by the project's
llama.cpp server as the runbook starts it, the output pushed to a stand-in Hub and loaded back from
there with `datasets` (what is checked: tests/journey.py). Two short PDFs and one WARC keep it inside
CI's time; the LLM is the packaged 0.5B model instead of the runbook's 1.5B."""

from __future__ import annotations

import pytest
from curate.synth.models import MODELS
from journey import blocks, run_journey, served_llm, stand_ins

pytestmark = pytest.mark.slow
CI_MODEL = "qwen2.5-coder-0.5b"  # the runbook serves qwen2.5-coder-1.5b; CI the smaller one


@pytest.fixture(scope="module")
def stand_in(tmp_path_factory):
    pytest.importorskip("moto", reason="moto[server] is a dev dependency (make install)")
    with stand_ins(tmp_path_factory.mktemp("ray")) as running:
        yield running


@pytest.fixture(scope="module")
def llama_cpp_server(tmp_path_factory):
    replace = {"--port 8080": "--port {port}", "qwen2.5-coder-1.5b": CI_MODEL}
    with served_llm(blocks()["llm-server"][1], replace, tmp_path_factory.mktemp("llm")) as server:
        yield {**server, "model": MODELS[CI_MODEL].name}


@pytest.mark.parametrize("name", ["pdf-pages", "interleaved", "pairs"])
def test_runbook_journey(name, stand_in, shared_data, tmp_path):
    run_journey(name, stand_in, shared_data, tmp_path)


def test_runbook_journey_docmatix_with_the_llama_cpp_server(
    stand_in, shared_data, tmp_path, llama_cpp_server
):
    run_journey("docmatix", stand_in, shared_data, tmp_path, server=llama_cpp_server)
