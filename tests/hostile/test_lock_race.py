"""The output lock is taken atomically: three processes acquiring at the same instant, exactly one
holds it, in every trial. Before: a contender read the lock while it was being written, took the empty
file for a stale lock, removed it and took the lock too (two held it in 21 of 300 trials)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

# one contender: at each trial's start time, acquire the lock of that trial's folder; hold every lock it
# got until the last trial (a contender running late still meets the winner's lock); release them all;
# print one JSON line of what it got per trial. Every file opened for writing is held open and empty
# for `pause` seconds first, as when the writer is descheduled between creating and writing a file
# (the machine is busy): a contender must never take such a file for a dead run's lock.
CONTENDER = """
import builtins, json, os, sys, time
import fsspec.implementations.local as local
from curate.run.lock import OutputLock, OutputLocked
root, start, trials, step, method, settle, pause = sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), sys.argv[5], float(sys.argv[6]), float(sys.argv[7])

def paused(opener):
    def open_paused(file, mode="r", *args, **kwargs):
        f = opener(file, mode, *args, **kwargs)
        if any(c in mode for c in "wx") and ".curate.lock" in str(file):
            time.sleep(pause)
        return f
    return open_paused

builtins.open = paused(builtins.open)
local.LocalFileOpener._open = (lambda orig: lambda self: (orig(self), time.sleep(pause) if "x" in self.mode or "w" in self.mode else None)[0])(local.LocalFileOpener._open)
got, held = [], []
for trial in range(trials):
    at = start + trial * step
    while time.time() < at:
        pass  # spin: the three processes start within microseconds of each other
    lock = OutputLock(f"{root}/trial-{trial}", method=None if method == "auto" else method, settle=settle)
    try:
        lock.acquire()
        got.append(1)
        held.append(lock)
    except OutputLocked:
        got.append(0)
open(f"{root}/done-{os.getpid()}", "w").close()
while sum(name.startswith("done-") for name in os.listdir(root)) < 3:
    time.sleep(0.01)  # every contender has tried every trial: only now are locks released
for lock in held:
    lock.release()
print(json.dumps(got), flush=True)
"""


def race(
    tmp_path: Path, trials: int, method: str, step: float, settle: float = 0.0, pause: float = 0.0
) -> list[int]:
    """Holders per trial, three contenders."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    start = time.time() + 3.0  # after the three interpreters have started
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", CONTENDER, str(tmp_path), str(start), str(trials), str(step), method, str(settle), str(pause)],
            stdout=subprocess.PIPE, env=env, text=True,
        )
        for _ in range(3)
    ]  # fmt: skip
    results = [json.loads(p.communicate(timeout=60 + trials * step * 2)[0]) for p in procs]
    return [sum(r[t] for r in results) for t in range(trials)]


def test_three_processes_at_the_same_instant_exactly_one_holds(tmp_path):
    holders = race(tmp_path, trials=100, method="auto", step=0.05)
    assert holders == [1] * 100, f"holders per trial: {holders}"
    assert not any(p.name.startswith(".curate.lock") for p in tmp_path.rglob("*"))  # released, no leftovers


def test_a_writer_paused_between_create_and_write_is_not_taken_for_a_dead_one(tmp_path):
    holders = race(tmp_path, trials=30, method="auto", step=0.1, pause=0.02)
    assert holders == [1] * 30, f"holders per trial: {holders}"
    assert not any(p.name.startswith(".curate.lock") for p in tmp_path.rglob("*"))  # released, no leftovers


def test_write_then_verify_for_stores_without_exclusive_create(tmp_path):
    """The object-store method, on a local folder without the host mutex: never two holders."""
    holders = race(tmp_path, trials=8, method="verify", step=1.0, settle=0.5)
    assert holders == [1] * 8, f"holders per trial: {holders}"


@pytest.mark.parametrize("method", ["link", "verify"])
def test_a_dead_holders_lock_is_still_taken_over(tmp_path, method):
    from curate.run.lock import LOCK_NAME, OutputLock

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (tmp_path / LOCK_NAME).write_text(
        json.dumps({"pid": dead.pid, "host": socket.gethostname(), "token": "x"})
    )
    lock = OutputLock(tmp_path, method=method, settle=0.05)
    lock.acquire()
    assert json.loads((tmp_path / LOCK_NAME).read_text())["token"] == lock.token
    lock.release()
    assert not (tmp_path / LOCK_NAME).exists()
