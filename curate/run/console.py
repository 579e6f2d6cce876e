"""What a `curate run` prints: progress bars, warnings, errors and the summary.

datatrove writes every task's INFO lines (the pipeline, per-task stats) to stderr, which buries the
progress bars on a run of many tasks. They stay in the task logs (`stages/NAME/logs/logs/`); on the
console `curate run` keeps warnings and errors unless `--verbose`. The choice travels to worker
processes in an environment variable, read when they import `curate`.
"""

from __future__ import annotations

import functools
import json
import os
import re
import socket
import sys
import sysconfig
import threading
import time

QUIET_ENV = "CURATE_QUIET_LOGS"
# the process that runs a recipe, [host, pid, start time], for its workers to stop when it is gone
DRIVER_ENV = "CURATE_DRIVER"
DRIVER_GONE_EXIT = 137
# loguru's line as datatrove formats it: "[NODE n] 2026-01-01 12:00:00.000 | INFO     | ..."
_CHATTER = re.compile(
    r"^(?:\[NODE \d+\] )?\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+ \| (?:\x1b\[[0-9;]*m)*(?:TRACE|DEBUG|INFO|SUCCESS)\b"
)


class QuietStderr:
    """stderr without datatrove's INFO-level lines; everything else passes through."""

    def __init__(self, stream):
        self._stream = stream

    def write(self, text: str) -> int:
        if _CHATTER.match(text):
            return len(text)
        return self._stream.write(text)

    def __getattr__(self, name):
        return getattr(self._stream, name)


def quiet_logs(enabled: bool = True) -> None:
    """Hide datatrove's INFO lines in this process and in the workers it starts."""
    if enabled:
        os.environ[QUIET_ENV] = "1"
        install_from_environment()
        from loguru import logger

        logger.remove()  # loguru's default sink holds the stream it found at import: point it at ours
        logger.add(sys.stderr)


def install_from_environment() -> None:
    if os.environ.get(QUIET_ENV) == "1" and not isinstance(sys.stderr, QuietStderr):
        sys.stderr = QuietStderr(sys.stderr)


_uncached_get_path = sysconfig.get_path


@functools.cache
def _cached_get_path(name: str, scheme: str | None, expand: bool) -> str:
    return (
        _uncached_get_path(name, scheme, expand=expand) if scheme else _uncached_get_path(name, expand=expand)
    )


def _get_path(name, scheme=None, vars=None, expand=True):
    if vars is not None:
        return _uncached_get_path(name, scheme or sysconfig.get_default_scheme(), vars, expand)
    return _cached_get_path(name, scheme, expand)


def prepare_worker() -> None:
    """Set up a process that runs stage tasks, before a task adds its log sinks.

    - datatrove adds three loguru sinks per task, and each `logger.add` resolves the interpreter's
      install paths through sysconfig (~10 ms each): measured, a third of a one-page task. They never
      change while a process runs, so `sysconfig.get_path` is made to compute them once.
    - a worker of a `curate run` without --verbose hides datatrove's INFO lines, as its parent does.
    """
    sysconfig.get_path = _get_path
    install_from_environment()
    watch_driver()


def mark_driver() -> None:
    """Called by the process that runs a recipe: the workers it starts (which inherit the variable)
    stop when it is gone, also when it was killed with SIGKILL and could not stop them."""
    from curate.run.lock import _process_start

    pid = os.getpid()
    os.environ[DRIVER_ENV] = json.dumps([socket.gethostname(), pid, _process_start(pid)])
    _forked_children_die_with_driver()


def _forked_children_die_with_driver() -> None:
    """A process the driver forks from its main thread gets SIGKILL when the driver ends (Linux,
    PR_SET_PDEATHSIG): datatrove's local executor forks a multiprocessing Manager server, which outlived a
    driver killed with SIGKILL, waiting forever. Only from the main thread: the signal follows the thread
    that forked, and another thread may end before the process does."""
    if not sys.platform.startswith("linux") or getattr(_forked_children_die_with_driver, "done", False):
        return
    _forked_children_die_with_driver.done = True  # type: ignore[attr-defined]
    os.register_at_fork(before=_note_forking_thread, after_in_child=_die_with_parent_if_main_thread_forked)


_forking_from_main_thread = False


def _note_forking_thread() -> None:
    global _forking_from_main_thread
    _forking_from_main_thread = threading.current_thread() is threading.main_thread()


def _die_with_parent_if_main_thread_forked() -> None:
    if _forking_from_main_thread:
        die_with_parent()


def die_with_parent() -> None:
    """In a child (forked, or before exec): SIGKILL when the thread that started it ends (Linux)."""
    if sys.platform.startswith("linux"):
        import ctypes
        import signal

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # 1: PR_SET_PDEATHSIG


def watch_driver(interval: float = 1.0) -> None:
    """In a worker: a thread that ends this process once the driver (`mark_driver`) is gone. A worker
    of a pool outlives a driver killed with SIGKILL (its parent is the forkserver), holding its memory
    and writing on for a run that no one will finish. Only on the driver's host (a Ray node elsewhere
    has Ray's own driver check)."""
    try:
        host, pid, started = json.loads(os.environ.get(DRIVER_ENV, "null") or "null")
    except (TypeError, ValueError):
        return
    if host != socket.gethostname() or pid == os.getpid() or getattr(watch_driver, "watching", None) == pid:
        return
    watch_driver.watching = pid  # type: ignore[attr-defined]
    threading.Thread(
        target=_watch, args=(pid, started, interval), name="curate-driver-watch", daemon=True
    ).start()


def _watch(pid: int, started: str | None, interval: float) -> None:
    from curate.run.lock import holder_is_gone

    holder = {"host": socket.gethostname(), "pid": pid, "process_start": started}
    while not holder_is_gone(holder):
        time.sleep(interval)
    print(f"curate: the run's driver (pid {pid}) is gone: this worker (pid {os.getpid()}) stops", file=sys.stderr)
    os._exit(DRIVER_GONE_EXIT)
