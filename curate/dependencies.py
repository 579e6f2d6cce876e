"""datatrove's check that a step's dependencies are installed, answered without reading every package's
metadata.

Every datatrove step checks its `_requires_dependencies` when it is created or unpickled (in each pool
worker): for each, datatrove parses the METADATA file of every installed distribution (~500 here) to
find one by name, ~0.04 CPU-s a dependency, ~0.08 CPU-s a process for the record writers (pyarrow,
orjson): ~1% of a 234-page PDF stage's CPU. `importlib.metadata.distribution` finds it by name.
Imported by the modules that define curate's steps, so it is in place before any step is made.
"""

from __future__ import annotations

import importlib.metadata
from functools import lru_cache

from datatrove.utils import _import_utils

DATATROVE_CHECK = _import_utils._is_distribution_available  # the scan it replaces (tests compare them)


@lru_cache
def distribution_available(distribution_name: str) -> bool | None:
    """datatrove's answer (True, or None when absent): a distribution whose Name is this name, lower case."""
    try:
        name = importlib.metadata.distribution(distribution_name).metadata.get("Name")
    except importlib.metadata.PackageNotFoundError:
        return None
    return True if name and name.lower() == distribution_name else None


_import_utils._is_distribution_available = distribution_available
