"""One run at a time per output folder: a lock file `OUTPUT/.curate.lock` naming its holder.

Two runs writing the same stages at once would overwrite each other's files (one crashed on the
other's `.tar.tmp`). The lock holds the pid, host and start time of the run, and a token of its own.

Taken atomically:
- a local folder (or a shared file system: NFS, Lustre): the lock is written whole to a file of its
  own, then hard-linked to `.curate.lock` (a link fails if the name exists, atomically, on NFS too),
  so a contender never reads a half-written lock, which it took for a stale one (two of three racing
  runs held the lock in 21 of 300 trials). Taking over a stale lock, and releasing, are serialized
  between the runs of one host by an OS lock (flock) on the folder;
- an object store (`s3://`, `gs://`...): fsspec's exclusive create where the store has one (a
  conditional write), else write-then-verify: the lock is written only where none exists, then read
  back after `settle` seconds; a run that reads another run's token there gave way to it. Two runs
  whose check and write are more than `settle` apart (default 2 s) could both win: said so here.

A lock left by a run that died is stale when its host is this host and its pid is gone (or now belongs
to a process started later): it is taken over. A lock from another host cannot be checked from here,
so it is refused, saying how to remove it.
"""

from __future__ import annotations

import contextlib
import fcntl
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


@contextlib.contextmanager
def _host_mutex(folder: str) -> Iterator[None]:
    """An OS lock on `folder` for the runs of this host (flock on the folder itself: nothing to clean)."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        with contextlib.suppress(OSError):  # no flock here (some NFS mounts): the link still is atomic
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the flock


class OutputLock:
    """The lock of one output folder (a local path or an fsspec URL).

    `method`: "link" (local and shared file systems), "exclusive" (fsspec's exclusive create) or
    "verify" (write-then-verify, for stores with neither); None chooses by the file system."""

    def __init__(self, output: str | os.PathLike, method: str | None = None, settle: float = 2.0):
        from fsspec.core import url_to_fs
        from fsspec.implementations.local import LocalFileSystem

        self.output = str(output)
        self.fs, root = url_to_fs(self.output)
        self.folder = root.rstrip("/") or "/"
        self.path = f"{root.rstrip('/')}/{LOCK_NAME}"
        self.token = uuid.uuid4().hex
        self.held = False
        self.local = isinstance(self.fs, LocalFileSystem)
        self.method = method or ("link" if self.local else "exclusive")
        self.mutex = self.method == "link"  # a local folder: this host's runs take turns
        self.settle = settle

    def _info(self) -> dict:
        return {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "process_start": _process_start(os.getpid()),
            "token": self.token,
        }

    def _create(self) -> bool:
        """Create the lock file, whole, if it does not exist; False if it does (or another run won)."""
        data = json.dumps(self._info()).encode()
        if self.method == "link":
            return self._create_by_link(data)
        if self.method == "exclusive":
            try:
                with self.fs.open(self.path, "xb") as f:
                    f.write(data)
                return True
            except FileExistsError:
                return False
            except (ValueError, NotImplementedError):  # the store has no exclusive create
                self.method = "verify"
        return self._create_then_verify(data)

    def _create_by_link(self, data: bytes) -> bool:
        own = f"{self.path}.{self.token}"
        with open(own, "wb") as f:
            f.write(data)
        try:
            os.link(own, self.path)
            return True
        except FileExistsError:
            return False
        except OSError:  # no hard links on this file system: exclusive create (this host's runs wait on
            self.method = "exclusive"  # the mutex, so none reads it half-written)
            return self._create()
        finally:
            os.unlink(own)

    def _create_then_verify(self, data: bytes) -> bool:
        if self.fs.exists(self.path):
            return False
        if self.local:  # (tests) an object store's PUT is seen whole or not at all: so is this
            own = f"{self.path}.{self.token}"
            Path(own).write_bytes(data)
            os.replace(own, self.path)
        else:
            with self.fs.open(self.path, "wb") as f:
                f.write(data)
        time.sleep(self.settle)  # a run that saw no lock when we did writes within this time
        return self.holder().get("token") == self.token

    def holder(self) -> dict:
        try:
            with self.fs.open(self.path, "rb") as f:
                return json.loads(f.read() or b"{}")
        except FileNotFoundError:
            return {}
        except ValueError:  # damaged (a lock is written whole before it gets its name)
            return {}

    def _serialized(self):
        """The host mutex for a local folder (takeover and release are check-then-act); else nothing."""
        return _host_mutex(self.folder) if self.mutex else contextlib.nullcontext()

    def acquire(self) -> None:
        self.fs.makedirs(self.folder, exist_ok=True)
        with self._serialized():
            for _ in range(2):
                if self._create():
                    self.held = True
                    return
                holder = self.holder()
                if not holder and self.method == "verify":  # gone or damaged since: never guess
                    break
                if holder and not holder_is_gone(holder):
                    raise OutputLocked(
                        f"output folder {self.output} is in use by another curate run ({describe_holder(holder)}); "
                        f"wait for it to finish, or delete {self.output.rstrip('/')}/{LOCK_NAME} if that run is gone"
                    )
                # stale (its run died; or unreadable: locks are never seen half-written): remove it and try
                # once more. Locally this host's runs wait on the mutex, so none removes a fresh lock.
                with contextlib.suppress(FileNotFoundError):
                    self.fs.rm_file(self.path)
        raise OutputLocked(f"output folder {self.output}: another run took the lock {LOCK_NAME} just now")

    def release(self) -> None:
        if self.held:
            with self._serialized():
                if self.holder().get("token") == self.token:
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
