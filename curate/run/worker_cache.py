"""Models loaded once per worker process.

A pipeline step reaches each task as a fresh copy (datatrove pickles the pipeline for every task), so a
model kept on the step loads once per task; kept here, it loads once per process and later tasks run by
the same local worker reuse it. (A Ray task runs in its own actor process: there it is once per task.)
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any

_LOADED: dict[Hashable, Any] = {}


def worker_model(key: tuple, load: Callable[[], Any]) -> Any:
    """`load()` once per process for `key` (e.g. the model name and file); unhashable keys load afresh."""
    try:
        hash(key)
    except TypeError:
        return load()
    if key not in _LOADED:
        _LOADED[key] = load()
    return _LOADED[key]
