"""LLM servers: the embedded llama.cpp server (default, CPU) and the `vllm serve` command line (GPUs).

Both speak the OpenAI chat-completions API; the rest of `synth` only sees a base URL.
"""

from __future__ import annotations

import contextlib
import os
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
        from curate.synth.models import resolve_model

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
