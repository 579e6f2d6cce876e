"""One run at a time per output folder: a lock file `OUTPUT/.curate.lock` naming its holder.

Two runs writing the same stages at once would overwrite each other's files (one crashed on the
other's `.tar.tmp`). The lock is created atomically (exclusive create); it holds the pid, host and
start time of the run. A lock left by a run that died is stale when its host is this host and its
pid is gone (or now belongs to a process started later): it is taken over. A lock from another host
cannot be checked from here, so it is refused, saying how to remove it.

Locations go through fsspec, so an `s3://...` output is locked the same way where the store supports
exclusive create; where it does not, the check is existence-then-write (a narrow race, said so).
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

LOCK_NAME = ".curate.lock"


class OutputLocked(RuntimeError):
    """Another run holds the output folder."""


def _process_start(pid: int) -> str | None:
    """When a process started (clock ticks since boot, Linux), to tell a reused pid from the holder."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[-1].split()[19]  # field 22: starttime


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by another user
        return True
    return True


def holder_is_gone(holder: dict) -> bool:
    """True only when we can tell the holder died: same host, pid gone or reused."""
    if holder.get("host") != socket.gethostname():
        return False
    pid = holder.get("pid")
    if not isinstance(pid, int):
        return False
    if not _pid_alive(pid):
        return True
    started = holder.get("process_start")
    return started is not None and _process_start(pid) not in (None, started)


def describe_holder(holder: dict) -> str:
    return (
        f"pid {holder.get('pid', '?')} on host {holder.get('host', '?')}, "
        f"started {holder.get('started', '?')}"
    )


class OutputLock:
    """The lock of one output folder (a local path or an fsspec URL)."""

    def __init__(self, output: str | os.PathLike):
        from fsspec.core import url_to_fs

        self.output = str(output)
        self.fs, root = url_to_fs(self.output)
        self.path = f"{root.rstrip('/')}/{LOCK_NAME}"
        self.token = uuid.uuid4().hex
        self.held = False

    def _info(self) -> dict:
        return {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "process_start": _process_start(os.getpid()),
            "token": self.token,
        }

    def _create(self) -> bool:
        """Create the lock file if it does not exist; False if it does."""
        data = json.dumps(self._info()).encode()
        try:
            with self.fs.open(self.path, "xb") as f:
                f.write(data)
            return True
        except FileExistsError:
            return False
        except (ValueError, NotImplementedError):  # the store has no exclusive create
            if self.fs.exists(self.path):
                return False
            with self.fs.open(self.path, "wb") as f:
                f.write(data)
            return True

    def holder(self) -> dict:
        try:
            with self.fs.open(self.path, "rb") as f:
                return json.loads(f.read() or b"{}")
        except FileNotFoundError:
            return {}
        except ValueError:  # half-written by a run killed while creating it
            return {}

    def acquire(self) -> None:
        self.fs.makedirs(self.path.rsplit("/", 1)[0], exist_ok=True)
        for _ in range(2):
            if self._create():
                self.held = True
                return
            holder = self.holder()
            if holder and not holder_is_gone(holder):
                raise OutputLocked(
                    f"output folder {self.output} is in use by another curate run ({describe_holder(holder)}); "
                    f"wait for it to finish, or delete {self.output.rstrip('/')}/{LOCK_NAME} if that run is gone"
                )
            # stale (its run died) or empty: remove it and try once more; a racing run may win
            with contextlib.suppress(FileNotFoundError):
                self.fs.rm_file(self.path)
        raise OutputLocked(f"output folder {self.output}: another run took the lock {LOCK_NAME} just now")

    def release(self) -> None:
        if self.held and self.holder().get("token") == self.token:
            with contextlib.suppress(FileNotFoundError):
                self.fs.rm_file(self.path)
        self.held = False


@contextlib.contextmanager
def output_lock(output: str | os.PathLike) -> Iterator[OutputLock]:
    """Hold the output folder's lock for the duration of the block; raise OutputLocked if taken."""
    lock = OutputLock(output)
    lock.acquire()
    try:
        yield lock
    finally:
        lock.release()
