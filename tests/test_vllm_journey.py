"""The docmatix journey with vLLM serving the LLM: the runbook on the two-node cluster and the S3
server (tests/journey.py), vLLM started with the runbook's vLLM command (`--device cpu` added: no GPU
here). Needs `.venv-vllm` (`make test-vllm` installs it); ~7 GB of RAM and minutes, so not in `make test`."""

from __future__ import annotations

import pytest
from curate.synth.models import MODELS, ModelNotAvailable
from curate.synth.vllm import vllm_cpu_python
from journey import blocks, run_journey, served_llm, stand_ins

pytestmark = pytest.mark.vllm


def test_runbook_journey_docmatix_with_vllm(shared_data, tmp_path_factory, tmp_path):
    try:
        vllm_cpu_python()
    except ModelNotAvailable as exc:
        pytest.skip(str(exc))
    replace = {"--port 8000": "--device cpu --port {port}"}
    home = tmp_path_factory.mktemp("vllm")
    with (
        served_llm(blocks()["llm-server-vllm"][1], replace, home, timeout=900) as server,
        stand_ins(tmp_path_factory.mktemp("stand-ins")) as stand_in,
    ):
        server["model"] = MODELS["qwen2.5-coder-0.5b"].name  # the name vLLM serves the converted model by
        run_journey("docmatix", stand_in, shared_data, tmp_path, server=server)
