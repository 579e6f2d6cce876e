"""Page records made in a child process, so a page whose render or OCR never ends can be stopped.

MuPDF's render and Tesseract cannot be interrupted from Python: a page with a pathological content
stream rendered for 685 s while `max_seconds_per_pdf` waited for it to finish. `PageWorker` runs the
reader's own `_page_record` in one long-lived child per process (`shared_worker`: started once, reused
by every task and PDF that process runs, so a normal page pays only for sending its record back; the next page is asked for ahead,
so the child renders it while this process writes the last one), waits for each page at most
`seconds`, and when a page takes longer kills the child and its process group (Tesseract included);
the next page starts a fresh child. A child that dies (a MuPDF crash, the OOM killer) costs its page
only, with the exit status as the reason.

The child is not a multiprocessing child (stage tasks may run in daemonic pool workers, which may not
have multiprocessing children): it is forked with `os.fork` from the task's process, with everything
already imported, or, where a fork is not safe there (`_can_fork`), a plain `python -m curate.pdf.worker`.
"""

from __future__ import annotations

import atexit
import gc
import os
import pickle
import signal
import subprocess
import sys
import threading
import time
import traceback
from multiprocessing.connection import Connection

from curate.run.console import die_with_parent

START_TIMEOUT = 120.0  # seconds a worker may take to start (imports), before any page is timed
# glibc: keep a page's render buffers (a few MB each) in the worker's heap between pages. With its defaults
# a small process like this one hands each freed render back to the kernel and faults it in again on the
# next page: ~1,700 page faults a page, ~6% of the stage's CPU in kernel time
MMAP_THRESHOLD, TRIM_THRESHOLD = 32 << 20, 64 << 20


def _plain(value) -> bool:
    """A setting that can travel to the worker as it is: numbers, strings and containers of them."""
    if value is None or isinstance(value, bool | int | float | str | bytes):
        return True
    if isinstance(value, list | tuple | set | frozenset):
        return all(_plain(v) for v in value)
    if isinstance(value, dict):
        return all(_plain(k) and _plain(v) for k, v in value.items())
    return False


class PageTimeout(Exception):
    """The page took longer than the per-page limit; the worker was killed."""

    kind = "time_limit"


class WorkerDied(Exception):
    """The worker process ended while making the page (a crash in MuPDF or Tesseract, or killed)."""

    kind = "worker_died"


class WorkerBug(Exception):
    """An unexpected exception in the worker: a bug, not a data problem; re-raised with its traceback."""


class PageWorker:
    """Makes page records of the PDFs given to `open` in a child process, one page per call of `page`."""

    def __init__(self, reader, start_timeout: float = START_TIMEOUT):
        self.start_timeout = start_timeout
        self.job_token = None  # what the open PDF is, for the caller (e.g. its document object)
        self._reader_bytes = b""
        self._reader_sent = False
        self.configure(reader)
        self._process: subprocess.Popen | None = None
        self._conn: Connection | None = None
        self._job: tuple | None = None
        self._job_sent = False
        self._last = 0  # pages before this index may be asked for ahead
        self._pending: dict[int, int] = {}  # page index -> number of the request asked for it
        self._sequence = 0

    def configure(self, reader) -> None:
        """The reader whose `_page_record` makes the pages: its settings (plain values) travel to the
        child; its input folder, error sink and anything else with state stay here."""
        settings = {k: v for k, v in vars(reader).items() if _plain(v)}
        data = pickle.dumps((type(reader), settings))
        if data != self._reader_bytes:
            self._reader_bytes, self._reader_sent = data, False

    def _start(self) -> None:
        parent_read, child_write = os.pipe()
        child_read, parent_write = os.pipe()
        if _can_fork():
            # a copy of this process, with everything already imported: a fresh interpreter cost ~0.45
            # CPU-s a worker (imports), a large share of a small run
            self._process = _ForkedChild.start(child_read, child_write, (parent_read, parent_write))
        else:
            self._process = self._exec(child_read, child_write)
        os.close(child_read)
        os.close(child_write)
        self._conn = _Duplex(parent_read, parent_write)
        self._job_sent = False
        self._pending.clear()
        # started, imported and ready before any page's clock starts (imports take seconds on a busy machine)
        try:
            self._conn.send_bytes(self._reader_bytes)
            hello = self._conn.recv() if self._conn.poll(self.start_timeout) else ("bug", "no answer")
        except (EOFError, OSError) as exc:
            hello = ("bug", f"{type(exc).__name__}: {exc}")
        if hello[0] != "ready":
            status = self._stop()
            raise WorkerBug(f"the page worker did not start (exit status {status}): {hello[1]}")
        self._reader_sent = True

    @staticmethod
    def _exec(child_read: int, child_write: int) -> subprocess.Popen:
        """A fresh `python -m curate.pdf.worker` on the two pipe ends."""
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
        env.setdefault("MALLOC_MMAP_THRESHOLD_", str(MMAP_THRESHOLD))
        env.setdefault("MALLOC_TRIM_THRESHOLD_", str(TRIM_THRESHOLD))
        return subprocess.Popen(
            [sys.executable, "-m", "curate.pdf.worker", str(child_read), str(child_write)],
            pass_fds=(child_read, child_write),
            env=env,
            start_new_session=True,  # its own process group: killing it kills its Tesseract too
            # killed with this process (a worker stopped because its driver is gone): a page can render
            # for minutes, and the child would read the closed pipe only then. Only when started from
            # the main thread: the signal follows the thread that started the child
            preexec_fn=die_with_parent if threading.current_thread() is threading.main_thread() else None,
        )

    def open(
        self, data: bytes, source: str, record_id: str, page_count: int, last: int, token=None, raw=None
    ) -> None:
        """The PDF the next pages come from (sent to the child with its first page); pages up to `last`
        (exclusive) are asked for ahead."""
        if self._pending and self._process is not None:
            # the previous PDF stopped early with a page still being made: do not wait behind it
            self._stop()
        self.job_token = token
        self._job = (data, source, record_id, page_count, raw or {})
        self._job_sent = False
        self._last = last
        self._pending.clear()

    def _ask(self, index: int) -> None:
        if index < self._last and index not in self._pending:
            self._sequence += 1
            self._conn.send(("page", self._sequence, index))
            self._pending[index] = self._sequence

    def page(self, index: int, seconds: float, limit_name: str = "max_seconds_per_page"):
        """(record, stats) for page `index` of the open PDF. Raises the page's own error as
        (kind, message) in `PageError`, PageTimeout after `seconds`, WorkerDied, or WorkerBug."""
        if self._process is None or self._process.poll() is not None:
            self._start()
        ends = time.monotonic() + seconds
        self._last = max(self._last, index + 1)
        try:
            if not self._reader_sent:
                self._conn.send(("reader", self._reader_bytes))
                self._reader_sent = True
            if not self._job_sent:
                self._conn.send(("open", *self._job))
                self._job_sent = True
            self._ask(index)
            self._ask(index + 1)
        except OSError:  # the worker is gone (a broken pipe): as when it dies while working
            status = self._stop()
            raise WorkerDied(f"the worker making page {index + 1} died (exit status {status})") from None
        while True:
            try:
                ready = self._conn.poll(max(0.0, ends - time.monotonic()))
                reply = self._conn.recv() if ready else None
            except (EOFError, OSError):
                status = self._stop()
                raise WorkerDied(f"the worker making page {index + 1} died (exit status {status})") from None
            if reply is None:
                self._stop()
                raise PageTimeout(
                    f"page {index + 1} not made (render, text, OCR) within {limit_name}={seconds:g}s; "
                    "its worker was stopped"
                )
            if reply[0] == self._pending.get(index):
                break  # else an answer to a request no longer wanted
        del self._pending[index]
        _, kind, *rest = reply
        if kind == "ok":
            return rest[0], rest[1]
        if kind == "error":
            raise PageError(rest[0], rest[1], rest[2])
        raise WorkerBug(f"page worker failed on page {index + 1}:\n{rest[0]}")

    def _stop(self) -> int | None:
        if self._process is None:
            return None
        try:
            os.killpg(self._process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        status = self._process.wait()
        self._conn.close()
        self._process = self._conn = None
        self._pending.clear()
        return status

    def close(self) -> None:
        if self._process is not None and self._process.poll() is None:
            try:
                self._conn.send(("exit",))
                self._process.wait(timeout=5)
            except (OSError, subprocess.TimeoutExpired):
                pass
        self._stop()


_shared: PageWorker | None = None


def current_worker() -> PageWorker | None:
    """This process's page worker as last set up (`shared_worker`), or None before the first."""
    return _shared


def shared_worker(reader) -> PageWorker:
    """This process's page worker, set up for `reader` (started on its first page, kept for the
    next tasks this process runs; it exits with this process)."""
    global _shared
    if _shared is None:
        _shared = PageWorker(reader)
        atexit.register(_shared.close)
    else:
        _shared.configure(reader)
    return _shared


class PageError(Exception):
    """The page's own error, as the reader raised it in the child (kind, message)."""

    def __init__(self, kind: str, message: str, stats=None):
        super().__init__(message)
        self.kind, self.stats = kind, stats


class _Duplex(Connection):
    """A multiprocessing Connection over a pair of pipe ends (read fd, write fd)."""

    def __init__(self, read_fd: int, write_fd: int):
        super().__init__(read_fd, readable=True, writable=False)
        self._writer = Connection(write_fd, readable=False, writable=True)

    def send(self, obj) -> None:
        self._writer.send(obj)

    def send_bytes(self, buf) -> None:
        self._writer.send_bytes(buf)

    def close(self) -> None:
        self._writer.close()
        super().close()


def _serve(conn: _Duplex) -> None:
    import pymupdf
    from datatrove.utils.stats import Stats

    from curate.errors import RecordError
    from curate.steps import describe_error

    def load(data: bytes):
        cls, settings = pickle.loads(data)
        reader = cls.__new__(cls)
        reader.__dict__.update(settings)
        reader.stats = Stats(str(reader))
        return reader

    try:
        reader = load(conn.recv_bytes())
    except Exception:
        conn.send(("bug", traceback.format_exc()))
        return
    conn.send(("ready",))
    pdf, job = None, None
    while True:
        try:
            message = conn.recv()
        except EOFError:  # the parent is gone
            return
        if message[0] == "exit":
            return
        if message[0] == "reader":
            reader = load(message[1])
            continue
        if message[0] == "open":
            if pdf is not None:
                pdf.close()
                # MuPDF keeps a closed PDF's decoded fonts and images in its store (up to 256 MB), where
                # no other PDF can use them: ~0.5 MB a page, so a worker's memory would grow with its pages
                pymupdf.mupdf.fz_empty_store()
            pdf, job = None, message[1:]
            continue
        sequence, index = message[1], message[2]
        data, source, record_id, page_count, raw = job
        reader.stats.stats.clear()
        try:
            if pdf is None:
                pdf = pymupdf.open(stream=data, filetype="pdf")
            record = reader._page_record(pdf[index], source, record_id, index, page_count, raw)
            reply = (sequence, "ok", record, reader.stats.stats)
        # the page's own bad data (as the reader catches in-process); anything else is a bug
        except (RecordError, RuntimeError, ValueError, pymupdf.mupdf.FzErrorBase) as exc:
            kind = getattr(exc, "kind", type(exc).__name__)
            reply = (sequence, "error", kind, describe_error(exc), reader.stats.stats)
        except Exception:
            reply = (sequence, "bug", traceback.format_exc())
        conn.send(reply)


# libraries whose thread pools a fork copies in an unknown state (OpenMP after torch or Tesseract ran,
# Ray's gRPC): where one is loaded, the worker is a fresh interpreter instead
_FORK_UNSAFE = ("torch", "ray", "tesserocr")


def _can_fork() -> bool:
    """From the main thread (the child dies with it, PR_SET_PDEATHSIG), with none of the _FORK_UNSAFE
    libraries loaded. The child runs MuPDF, pickle and a pipe only: no lock that this process's other
    threads take (its object store's I/O loop, a progress bar, the driver watch; their logs) is needed
    there. Idle native pools (numpy's BLAS, jemalloc's) are as with multiprocessing's fork start."""
    return threading.current_thread() is threading.main_thread() and not any(
        name in sys.modules for name in _FORK_UNSAFE
    )


class _ForkedChild:
    """A page worker forked from this process: the `subprocess.Popen` calls `PageWorker` makes (pid,
    poll, wait), on a child that starts serving at once with this process's modules."""

    def __init__(self, pid: int):
        self.pid = pid
        self.returncode: int | None = None

    @classmethod
    def start(cls, child_read: int, child_write: int, parent_ends: tuple[int, int]) -> _ForkedChild:
        pid = os.fork()
        if pid:
            return cls(pid)
        status = 0
        try:  # the child: never returns into the caller's code
            os.setsid()  # its own process group, as start_new_session: killing it kills its Tesseract too
            for fd in parent_ends:
                os.close(fd)
            _close_fds_except(child_read, child_write)
            for sig in (signal.SIGINT, signal.SIGTERM):  # the parent's handlers are for the parent
                signal.signal(sig, signal.SIG_DFL)
            die_with_parent()
            _heap_settings()
            # the objects inherited from the parent are left to it: the cycle collector would walk them all,
            # writing to each one's header, and so copy the pages of the parent's heap (~5k page faults)
            gc.freeze()
            _serve(_Duplex(child_read, child_write))
        except BaseException:
            traceback.print_exc()
            status = 1
        finally:
            os._exit(status)  # no atexit handlers, no flush of the parent's buffers

    def poll(self) -> int | None:
        if self.returncode is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        ends = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if ends is not None and time.monotonic() > ends:
                raise subprocess.TimeoutExpired(f"page worker {self.pid}", timeout)
            time.sleep(0.005)
        return self.returncode


def _close_fds_except(*keep: int) -> None:
    """The parent's other files closed in the child (its output files, its pool's pipes), as
    `subprocess` does: a pipe the child held open would keep its reader waiting for an end."""
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        if fd > 2 and fd not in keep:
            try:
                os.close(fd)
            except OSError:  # the listing's own descriptor, already closed
                pass


def _heap_settings() -> None:
    """MMAP_THRESHOLD and TRIM_THRESHOLD in a forked child (the environment is read at start only)."""
    import ctypes

    libc = ctypes.CDLL("libc.so.6")
    if "MALLOC_MMAP_THRESHOLD_" not in os.environ:  # a user's setting stays, as in a fresh worker
        libc.mallopt(-3, MMAP_THRESHOLD)  # M_MMAP_THRESHOLD
    if "MALLOC_TRIM_THRESHOLD_" not in os.environ:
        libc.mallopt(-1, TRIM_THRESHOLD)  # M_TRIM_THRESHOLD


if __name__ == "__main__":
    _serve(_Duplex(int(sys.argv[1]), int(sys.argv[2])))
