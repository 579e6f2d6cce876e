"""A progress bar per stage: completed tasks, polled from datatrove's completion markers (works the
same for local and Ray runs, and for an output on an object store, since markers are files in the
stage's logging folder)."""

from __future__ import annotations

import sys
import threading

from curate.location import is_url


class StageProgress:
    """A progress bar of completed tasks, polled from datatrove's completion markers."""

    def __init__(self, stage, ctx, total: int):
        self.stage, self.ctx, self.total = stage, ctx, total
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        # a listing request on an object store: not every half second
        self.interval = 5.0 if is_url(ctx.logs_dir) else 0.5

    def _done(self) -> int:
        marks = self.ctx.logs_dir / "completions"
        try:
            if is_url(marks):  # fsspec keeps listings: without this the bar stops at the first one it saw
                marks.fs.invalidate_cache(marks.path)
            return sum(1 for _ in marks.iterdir()) if marks.exists() else 0
        except OSError:
            return 0

    def _watch(self):
        from tqdm import tqdm

        with tqdm(total=self.total, desc=f"stage {self.stage.name}", unit="task", file=sys.stderr) as bar:
            while True:
                bar.update(self._done() - bar.n)
                if self._stop.wait(self.interval):
                    bar.update(self._done() - bar.n)
                    return

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
