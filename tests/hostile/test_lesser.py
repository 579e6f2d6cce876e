"""The lesser failures of the second hostile round: a driver killed alone leaves no worker behind; a
truncated stage Parquet is a one-line error naming the file (in `run` and `report`); the loader names
the shard and key of a bad member and checks the manifest's sha256; an unreachable robots.txt is not
reported as a disallow."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import tarfile
import time
from http.server import BaseHTTPRequestHandler
from io import BytesIO
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import hostile_inputs as hostile  # noqa: E402
from test_hostile import run_cli  # noqa: E402

PYTHON = sys.executable


# ---- SIGKILL of the driver alone ---------------------------------------------------------------------


def _processes_of(driver: int) -> list[int]:
    """Processes (other than the driver) whose environment names `driver` as their run's driver."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == driver:
            continue
        try:
            environ = Path(f"/proc/{entry}/environ").read_bytes()
        except OSError:
            continue
        for item in environ.split(b"\0"):
            if item.startswith(b"CURATE_DRIVER=") and json.loads(item.split(b"=", 1)[1])[1] == driver:
                found.append(int(entry))
    return found


def _descendants(driver: int) -> list[int]:
    """Processes started by `driver` or by its children, found by parent pid while it runs (a page
    worker forked from the driver has the driver's environment and command line)."""
    parents = {}
    for entry in os.listdir("/proc"):
        try:
            parents[int(entry)] = int(Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[1])
        except (ValueError, OSError, IndexError):
            continue
    found, frontier = [], [driver]
    while frontier:
        children = [pid for pid, parent in parents.items() if parent in frontier]
        found += children
        frontier = children
    return found


def _page_workers(driver: int) -> list[int]:
    """The driver's page workers: `python -m curate.pdf.worker`, or forked, each leading its own session."""
    workers = []
    for pid in set(_processes_of(driver)) | set(_descendants(driver)):
        try:
            session = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[3])
            if session == pid or b"curate.pdf.worker" in Path(f"/proc/{pid}/cmdline").read_bytes():
                workers.append(pid)
        except (OSError, ValueError, IndexError):
            pass
    return workers


def _alive(pids: list[int]) -> list[int]:
    alive = []
    for pid in pids:
        try:
            if Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z":
                alive.append(pid)
        except (OSError, IndexError):
            pass
    return alive


def test_killing_the_driver_stops_its_workers(tmp_path):
    pdfs = tmp_path / "pdfs"
    pdfs.mkdir()
    hostile.slow_pdf(pdfs / "slow.pdf", depth=7)  # renders for minutes
    command = [
        PYTHON, "-m", "curate.cli", "run", "pdf-pages", "--input", str(pdfs), "--output", str(tmp_path / "out"),
        "--stage", "pages", "--workers", "1", "--set", "ocr=false", "--set", "max_seconds_per_page=600",
    ]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    driver = subprocess.Popen(command, env=env, start_new_session=True, stderr=subprocess.DEVNULL)
    workers: set[int] = set()
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not _page_workers(driver.pid):
            time.sleep(0.5)
        assert _page_workers(driver.pid), "no page worker started"
        time.sleep(2)  # the page is rendering
        # every process it started: pool and page workers, and the Manager server datatrove forks
        workers = (
            set(_processes_of(driver.pid)) | set(_page_workers(driver.pid)) | set(_descendants(driver.pid))
        )
        driver.send_signal(signal.SIGKILL)
        driver.wait()
        deadline = time.monotonic() + 20
        while _alive(list(workers)) and time.monotonic() < deadline:
            time.sleep(0.5)
        assert _alive(list(workers)) == [], "workers outlived their driver"
    finally:
        for pid in [driver.pid, *_alive(list(workers))]:  # only what this test started
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        driver.wait()


# ---- a truncated stage Parquet -----------------------------------------------------------------------


def test_truncated_stage_parquet_is_named_in_run_and_report(multi_page_dir, tmp_path):
    out = tmp_path / "out"
    run_cli(
        "run", "pdf-pages", "--input", str(multi_page_dir), "--output", str(out), "--stage", "pages",
        "--set", "ocr=false",
    )  # fmt: skip
    (data,) = (out / "stages" / "pages" / "data").glob("*.parquet")
    hostile.truncate(data)
    for args in (
        ["run", "pdf-pages", "--input", str(multi_page_dir), "--output", str(out), "--set", "ocr=false"],
        ["report", str(out)],
    ):
        result = hostile.measure([PYTHON, "-m", "curate.cli", *args], timeout=240)
        assert result["returncode"] != 0
        assert f"{data} is not a readable Parquet file" in result["stderr"], result["stderr"][-2000:]
        assert "Traceback" not in result["stderr"]


# ---- the loader --------------------------------------------------------------------------------------


def _shard(path: Path, samples: dict[str, dict[str, bytes]]) -> None:
    with tarfile.open(path, "w") as tar:
        for key, members in samples.items():
            for ext, data in members.items():
                info = tarfile.TarInfo(f"{key}.{ext}")
                info.size = len(data)
                tar.addfile(info, BytesIO(data))


def _run_with_shard(folder: Path, samples: dict) -> Path:
    shards = folder / "shards"
    shards.mkdir(parents=True)
    _shard(shards / "00000.tar", samples)
    data = (shards / "00000.tar").read_bytes()
    manifest = {"shards": [{"name": "00000.tar", "samples": len(samples), "bytes": len(data),
                            "sha256": hashlib.sha256(data).hexdigest()}]}  # fmt: skip
    (shards / "manifest.json").write_text(json.dumps(manifest))
    return shards / "00000.tar"


def test_loader_names_shard_and_key_and_checks_the_manifest(tmp_path):
    from curate.output.loader import BadShard, make_dataloader, verify_checksums

    png = hostile.tiny_png()
    samples = {
        "good": {"json": b'{"text": "ok"}', "png": png},
        "broken": {"json": b'{"text": "damaged image"}', "png": png[:40]},
    }
    shard = _run_with_shard(tmp_path / "run", samples)
    assert verify_checksums(tmp_path / "run") == 1
    loader = make_dataloader(tmp_path / "run", batch_size=1, num_workers=0, verify=True)
    with pytest.raises(BadShard, match=rf"shard {shard}: sample 'broken', member 'png': cannot be decoded"):
        list(loader)
    data = bytearray(shard.read_bytes())
    data[600] ^= 0xFF  # one flipped byte
    shard.write_bytes(bytes(data))
    with pytest.raises(BadShard, match=r"00000\.tar: sha256 .* is not the manifest's"):
        make_dataloader(tmp_path / "run", batch_size=1, num_workers=0, verify=True)
    shard.write_bytes(bytes(data[:1500]))  # cut in the second sample's members
    loader = make_dataloader(tmp_path / "run", batch_size=1, num_workers=0, decode_images=False)
    with pytest.raises(BadShard, match=rf"shard {shard}: (cannot be read|ends) after sample 'good'"):
        list(loader)


# ---- robots.txt that cannot be read ------------------------------------------------------------------


class RobotsDown(BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path == "/robots.txt":
            return self.send_error(503)
        return hostile.send_bytes(self, 200, hostile.tiny_png(), "image/png")


def test_unreachable_robots_txt_is_not_called_a_disallow():
    from curate.web.http_client import ImageFetcher

    with hostile.LocalServer(RobotsDown) as site:
        fetcher = ImageFetcher(allow_private=True, retries=0)
        result = fetcher.fetch(f"{site.url}/ok.png")
        fetcher.close()
        assert result.kind == "robots_unreachable" and "disallowed" not in result.reason
        assert "robots.txt of http://127.0.0.1" in result.reason and "HTTP 503" in result.reason
        assert "/ok.png" not in site.requests  # still not fetched (RFC 9309)
