"""Ratios a shared machine can judge: each variant runs in a fresh process (its start-up and imports
counted, as a user's run pays them), the variants take turns round after round, and each ratio is
printed as the median over rounds with its spread (lowest-highest), so "0.93x [0.88-0.97]" says
whether a 0.9x goal is met or the machine's noise cannot tell.

CPU-seconds are the process tree's: `os.wait4` on the child gives its user + system time and that of
every descendant it waited for (Tesseract, the page worker, a fork pool's workers); processes it does not
wait for (a forkserver's pool workers) are sampled with psutil every 0.1 s, and the larger of the two
sums counts. Peak RSS is sampled over the whole tree too, so a driver and its workers count together.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


@dataclass
class Run:
    items: int  # pages, documents, images: what the call returned
    wall: float  # seconds
    cpu: float  # CPU-seconds of the process tree
    peak_rss: int  # bytes, the tree's highest sampled sum
    extra: dict  # what else the call returned (e.g. its own timings)

    @property
    def per_wall(self) -> float:
        return self.items / self.wall if self.wall else 0.0

    @property
    def per_cpu(self) -> float:
        return self.items / self.cpu if self.cpu else 0.0


def in_child(target: str, *args, env: dict | None = None, timeout: float = 3600) -> Run:
    """Run `module:function(*args)` in a fresh Python process; the function returns an item count (or a
    dict with "items"). Measures the child's wall time, its tree's CPU-seconds and peak RSS."""
    module, function = target.split(":")
    code = (
        "import json, sys\n"
        f"from {module} import {function} as f\n"
        "out = f(*json.loads(sys.argv[1]))\n"
        "print('\\nRESULT ' + json.dumps(out if isinstance(out, dict) else {'items': out}))\n"
    )
    child_env = dict(os.environ, **(env or {}))
    child_env["PYTHONPATH"] = os.pathsep.join([str(REPO), child_env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-c", code, json.dumps(list(args))],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=child_env,
        cwd=REPO,
    )
    tree = _TreeSampler(process.pid)
    out: list[bytes] = []
    readers = [
        threading.Thread(target=lambda s=s: out.append(s.read()), daemon=True)
        for s in (process.stdout, process.stderr)
    ]
    for reader in readers:
        reader.start()
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    tree.stop()
    for reader in readers:
        reader.join(timeout)
    text = b"".join(out).decode(errors="replace")
    result = next((line for line in reversed(text.splitlines()) if line.startswith("RESULT ")), None)
    if process.returncode or result is None:
        raise RuntimeError(f"{target}{args} failed (exit {process.returncode}):\n{text[-3000:]}")
    data = json.loads(result.removeprefix("RESULT "))
    items = data.pop("items")
    data["peak_process_rss"] = tree.peak_process_rss  # the largest single process of the tree
    return Run(items, wall, max(usage.ru_utime + usage.ru_stime, tree.cpu), tree.peak_rss, data)


class _TreeSampler:
    """The highest sum of RSS over a process and its descendants (and the highest RSS of any one of
    them), and their CPU-seconds (each process's last sample), sampled every `interval` seconds."""

    def __init__(self, pid: int, interval: float = 0.1):
        self.peak_rss, self._pid, self._interval = 0, pid, interval
        self.peak_process_rss = 0
        self._cpu: dict[tuple[int, float], float] = {}  # (pid, start time) -> its CPU-seconds so far
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    @property
    def cpu(self) -> float:
        return sum(self._cpu.values())

    def _sample(self) -> None:
        import psutil

        try:
            root = psutil.Process(self._pid)
        except psutil.Error:
            return
        while not self._done.is_set():
            total = 0
            try:
                processes = [root, *root.children(recursive=True)]
            except psutil.Error:
                return
            for process in processes:
                try:
                    with process.oneshot():
                        rss = process.memory_info().rss
                        total += rss
                        self.peak_process_rss = max(self.peak_process_rss, rss)
                        times = process.cpu_times()
                        self._cpu[(process.pid, process.create_time())] = times.user + times.system
                except psutil.Error:
                    pass
            self.peak_rss = max(self.peak_rss, total)
            self._done.wait(self._interval)

    def stop(self) -> None:
        self._done.set()
        self._thread.join()


def interleaved(variants: dict[str, Callable[[], Run]], rounds: int) -> dict[str, list[Run]]:
    """Each variant once per round, in turn (the order rotating each round, so neither always runs on a
    machine warmed or loaded by the other)."""
    names = list(variants)
    runs: dict[str, list[Run]] = {name: [] for name in names}
    for i in range(rounds):
        order = names[i % len(names) :] + names[: i % len(names)]
        for name in order:
            runs[name].append(variants[name]())
    return runs


def ratios(ours: Sequence[float], base: Sequence[float]) -> list[float]:
    """Round-by-round ratios of two rates measured in the same rounds."""
    return [o / b for o, b in zip(ours, base, strict=True) if b]


def spread(values: Sequence[float], unit: str = "x", digits: int = 2) -> str:
    """'median [lowest-highest]' of values, e.g. '0.93x [0.88-0.97]'."""
    if not values:
        return "n/a"
    return f"{statistics.median(values):.{digits}f}{unit} [{min(values):.{digits}f}-{max(values):.{digits}f}]"


def verdict(values: Sequence[float], goal: float) -> str:
    """Whether a ratio meets `goal`: all rounds at or above it, none, or the noise cannot tell."""
    if not values:
        return ""
    if min(values) >= goal:
        return f"meets >= {goal}x"
    if max(values) < goal:
        return f"below {goal}x"
    return f"median {'meets' if statistics.median(values) >= goal else 'below'} {goal}x, spread crosses it"
