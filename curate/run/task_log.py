"""What a failed task said: the error at the end of its datatrove log (`logs/logs/task_RANK.log`, in the
output folder, local or on an object store), so the driver can print the cause in one line instead of
only "see the logs"."""

from __future__ import annotations

import re
from pathlib import Path

from curate.location import location

# the last line of a Python traceback: `package.module.ErrorName: message`
_EXCEPTION_LINE = re.compile(r"^((?:[A-Za-z_]\w*\.)*[A-Z]\w*): (.+)$")
MAX_CHARS = 400


def task_log(logs_dir: str | Path, rank: int) -> Path:
    return location(logs_dir) / "logs" / f"task_{rank:05d}.log"


def task_error(text: str) -> str | None:
    """`ErrorName: message` of the last exception a task log shows (the one raised last, when one was
    raised from another), or None when it shows none."""
    lines = text.splitlines()
    starts = [i for i, line in enumerate(lines) if line.startswith("Traceback (most recent call last)")]
    if not starts:
        return None
    found = None
    for line in lines[starts[-1] :]:
        match = _EXCEPTION_LINE.match(line.strip())
        if match:
            found = match
    if found is None:
        return None
    name, message = found.group(1).rsplit(".", 1)[-1], found.group(2).strip()
    return f"{name}: {message[:MAX_CHARS]}{'...' if len(message) > MAX_CHARS else ''}"


def first_task_error(logs_dir: str | Path, ranks: list[int]) -> tuple[int, str] | None:
    """(rank, its error) of the first of `ranks` whose log shows an error; None if none does (a task
    killed from outside leaves no error)."""
    for rank in ranks:
        path = task_log(logs_dir, rank)
        try:
            text = path.read_text(errors="replace") if path.exists() else ""
        except OSError:
            continue
        error = task_error(text)
        if error:
            return rank, error
    return None
