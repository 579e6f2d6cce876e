"""A progress bar per stage: completed tasks, polled from datatrove's completion markers (works the
same for local and Ray runs, since markers are files in the stage's logging folder)."""

from __future__ import annotations

import sys
import threading


class StageProgress:
    """A progress bar of completed tasks, polled from datatrove's completion markers."""

    def __init__(self, stage, ctx):
        self.stage, self.ctx = stage, ctx
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def _watch(self):
        from tqdm import tqdm

        total = self.stage.tasks(self.ctx)
        marks = self.ctx.logs_dir / "completions"
        with tqdm(total=total, desc=f"stage {self.stage.name}", unit="task", file=sys.stderr) as bar:
            while True:
                done = len(list(marks.glob("*"))) if marks.exists() else 0
                bar.update(done - bar.n)
                if self._stop.wait(0.5):
                    bar.update((len(list(marks.glob("*"))) if marks.exists() else 0) - bar.n)
                    return

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
