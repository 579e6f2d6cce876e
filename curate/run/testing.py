"""Local stand-ins for cluster components, for tests, benchmarks and trying the cluster runbook on one
machine: an S3-compatible server (moto's server mode) and a Ray cluster of two nodes (two `ray start`
processes with their own temp dirs, token authentication on). Both listen on 127.0.0.1 on free ports
and are stopped when the context ends.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

# any key works with moto; s3fs and boto read these from the environment
DUMMY_S3_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for_port(port: int, process: subprocess.Popen, what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with code {process.returncode} before listening on {port}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return
        time.sleep(0.2)
    raise RuntimeError(f"{what} did not listen on port {port} within {timeout:.0f}s")


@contextlib.contextmanager
def s3_server(buckets: tuple[str, ...] = ("curate",)) -> Iterator[dict[str, str]]:
    """A moto S3 server; yields the environment that points s3fs/boto at it (AWS_ENDPOINT_URL and
    dummy keys), already applied to os.environ (restored on exit), with `buckets` created."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    env = {**DUMMY_S3_ENV, "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}"}
    saved = {key: os.environ.get(key) for key in env}
    try:
        _wait_for_port(port, process, "moto S3 server")
        os.environ.update(env)
        import boto3

        client = boto3.client("s3", endpoint_url=env["AWS_ENDPOINT_URL"])
        for bucket in buckets:
            client.create_bucket(Bucket=bucket)
        _forget_cached_filesystems()
        yield env
    finally:
        process.terminate()
        process.wait(timeout=30)
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        _forget_cached_filesystems()


def _forget_cached_filesystems() -> None:
    """fsspec caches filesystem instances (with their endpoint): a new server needs new ones."""
    import fsspec

    with contextlib.suppress(Exception):
        fsspec.get_filesystem_class("s3").clear_instance_cache()


def upload_folder(local: Path, url: str) -> None:
    import fsspec

    fs, root = fsspec.core.url_to_fs(url)
    for path in sorted(local.rglob("*")):
        if path.is_file():
            fs.put_file(str(path), f"{root}/{path.relative_to(local).as_posix()}")


@dataclass
class RayCluster:
    address: str
    env: dict[str, str]  # what a driver needs to connect (RAY_AUTH_MODE, RAY_AUTH_TOKEN)
    temp_dirs: list[Path]


@contextlib.contextmanager
def ray_cluster(root: Path, nodes: int = 2, cpus_per_node: int = 1) -> Iterator[RayCluster]:
    """A Ray head and `nodes - 1` more nodes on this machine, each its own `ray start` with its own temp
    dir, token authentication on (a token made here). The nodes get only PATH, HOME and the Ray
    settings: what their tasks need (object store endpoint and keys, this checkout's code) must come
    from the driver's runtime environment, as on a real cluster."""
    ray = str(Path(sys.executable).with_name("ray"))
    if not Path(ray).exists():
        ray = shutil.which("ray") or "ray"
    port = free_port()
    token = secrets.token_hex(32)
    home = root / "home"
    home.mkdir(parents=True, exist_ok=True)
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(home),
        "RAY_AUTH_MODE": "token",
        "RAY_AUTH_TOKEN": token,
        "RAY_USAGE_STATS_ENABLED": "0",
    }
    # short temp dirs: Ray's socket paths must stay under 107 characters
    temp_dirs = [Path(f"/tmp/ray-{port}-{i}") for i in range(nodes)]
    started: list[Path] = []
    try:
        head = [ray, "start", "--head", f"--num-cpus={cpus_per_node}", f"--port={port}"]
        head += ["--node-ip-address=127.0.0.1", f"--temp-dir={temp_dirs[0]}", "--include-dashboard=false"]
        head += ["--disable-usage-stats", f"--dashboard-port={free_port()}"]
        started.append(temp_dirs[0])
        subprocess.run(head, env=env, check=True, capture_output=True, timeout=180)
        for temp_dir in temp_dirs[1:]:
            worker = [ray, "start", f"--address=127.0.0.1:{port}", f"--num-cpus={cpus_per_node}"]
            worker += ["--node-ip-address=127.0.0.1", f"--temp-dir={temp_dir}"]
            started.append(temp_dir)
            subprocess.run(worker, env=env, check=True, capture_output=True, timeout=180)
        yield RayCluster(f"127.0.0.1:{port}", {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": token}, temp_dirs)
    finally:
        for temp_dir in reversed(started):
            _stop_node(temp_dir)
        for temp_dir in temp_dirs:
            shutil.rmtree(temp_dir, ignore_errors=True)


def _stop_node(temp_dir: Path) -> None:
    """Stop the Ray processes of one node: those whose command line names its temp dir or its session."""
    import psutil

    session = temp_dir / "session_latest"
    marker = str(temp_dir)
    victims = []
    for proc in psutil.process_iter(["pid", "cmdline"]):
        cmdline = " ".join(proc.info.get("cmdline") or [])
        if marker in cmdline or (session.exists() and str(session.resolve()) in cmdline):
            victims.append(proc)
    for proc in victims:
        with contextlib.suppress(psutil.Error):
            proc.terminate()
    _, alive = psutil.wait_procs(victims, timeout=15)
    for proc in alive:
        with contextlib.suppress(psutil.Error):
            proc.kill()
