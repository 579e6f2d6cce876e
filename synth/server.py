"""LLM servers: the embedded llama.cpp server (default, CPU) and the `vllm serve` command line (GPUs).

Both speak the OpenAI chat-completions API; the rest of `synth` only sees a base URL.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

# Small context and few threads: the default must run on a 2-core laptop next to other work. A page's
# first ~2,500 characters (QAGenerator.max_chunk_chars, about 700-1,000 tokens), the prompt and the
# answer fit 2048 tokens; a larger context only costs memory on a CPU. With a GPU server: 8192.
DEFAULT_N_CTX = 2048
DEFAULT_VLLM_MODEL = "Qwen/Qwen2.5-7B-Instruct"


class ServerStartError(RuntimeError):
    pass


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def llama_server_command(
    model: str | Path,
    port: int,
    host: str = "127.0.0.1",
    n_ctx: int = DEFAULT_N_CTX,
    threads: int | None = None,
) -> list[str]:
    threads = threads or max(1, min(4, os.cpu_count() or 1))
    return [
        sys.executable, "-m", "llama_cpp.server",
        "--model", str(model),
        "--host", host,
        "--port", str(port),
        "--n_ctx", str(n_ctx),
        "--n_threads", str(threads),
        "--n_threads_batch", str(threads),
    ]  # fmt: skip


def wait_until_ready(
    base_url: str, process: subprocess.Popen | None, timeout: float, log: Path | None
) -> None:
    """Poll `/v1/models` until it answers; fail early if the server process exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            tail = log.read_text()[-2000:] if log and log.exists() else ""
            raise ServerStartError(
                f"the LLM server exited with code {process.returncode} while starting:\n{tail}"
            )
        with contextlib.suppress(requests.RequestException):
            if requests.get(f"{base_url}/models", timeout=2).ok:
                return
        time.sleep(0.5)
    raise ServerStartError(f"the LLM server at {base_url} was not ready after {timeout:.0f}s (log: {log})")


def _stop_with_parent() -> None:
    """In the server's process, before exec: on Linux, get SIGTERM when the run's process dies, so a
    killed run (which cannot reach its cleanup) does not leave a server behind."""
    if sys.platform.startswith("linux"):
        import ctypes
        import signal

        pr_set_pdeathsig = 1
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


def launch_server(command: list[str], log_path: Path, env: dict | None = None) -> subprocess.Popen:
    """Start a server process, its output to `log_path`; `wait_until_ready` then waits for it."""
    with open(log_path, "wb") as log:
        # own process group: stopping it cannot touch the caller's processes
        return subprocess.Popen(
            command,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=_stop_with_parent,
            env={**os.environ, **(env or {})},
        )


def stop_server(process: subprocess.Popen | None) -> None:
    """Stop a server started by `launch_server` and its children (vLLM starts engine processes)."""
    if process is None or process.poll() is not None:
        return
    import signal

    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


class LocalServer:
    """A server process of ours on 127.0.0.1 (`port`, `process`, `log_path`, `start_timeout` set by the
    subclass); a context manager that always stops it."""

    port: int | None
    process: subprocess.Popen | None
    log_path: Path | None
    start_timeout: float

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def _launch(self, command: list[str], env: dict | None = None) -> None:
        """Start `command` and wait until it answers; stopped again if it does not."""
        self.process = launch_server(command, self.log_path, env=env)
        try:
            wait_until_ready(self.base_url, self.process, self.start_timeout, self.log_path)
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        stop_server(self.process)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


@dataclass
class EmbeddedServer(LocalServer):
    """A llama.cpp server on 127.0.0.1 with a packaged model (by name, see synth.models.MODELS) or a GGUF
    path; a context manager that always stops it."""

    model: str | Path | None = None
    n_ctx: int = DEFAULT_N_CTX
    threads: int | None = None
    port: int | None = None
    log_path: Path | None = None
    start_timeout: float = 300
    process: subprocess.Popen | None = field(default=None, init=False)

    @property
    def model_name(self) -> str:
        return Path(str(self.model)).name

    def start(self) -> EmbeddedServer:
        from synth.models import resolve_model

        self.model = resolve_model(str(self.model) if self.model else None)
        self.port = self.port or free_port()
        self.log_path = self.log_path or Path(f"/tmp/curate-llama-{self.port}.log")
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        # OpenMP threads that spin between tokens starve every other process on shared cores (one
        # request: 168 s spinning vs 10 s passive, with two servers on 2 cores)
        env = {"OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY", "PASSIVE")}
        self._launch(
            llama_server_command(self.model, self.port, n_ctx=self.n_ctx, threads=self.threads), env=env
        )
        return self


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


DEFAULT_LLAMA_CPP_MODEL = "qwen2.5-coder-1.5b"  # the docmatix recipe's QA model (pipelines/docmatix.py)


def _serve_llm_llama_cpp(args) -> int:
    """llama-cpp-python's OpenAI-compatible server with a packaged model (or a GGUF path), as the embedded
    server runs it, but on the host and port given, for every node of a cluster to reach."""
    from synth.models import MODELS, resolve_model

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
    from synth.models import MODELS
    from synth.vllm import CPU_ENV, converted_model, converted_model_dir, vllm_cpu_command, vllm_cpu_python

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
