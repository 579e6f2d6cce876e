"""A filter declares, once and in its own module, how it is wired into a run: `FILTER = StepSpec(...)`
(`curate.wiring`) with a `switch`, the filter's name.

The spec names the filter's switch (`--set NAME=false`), the run options its constructor arguments
come from (`arg`: default and type from the constructor's own signature), any further options its
`prepare` reads, and its dataset-wide `cut`. Generic code (`curate.filters.stages`) finds a spec by name among
the modules of this package, builds the step with the stage's exclusion and error sinks, calls the
step's `preflight()` in the driver before any task, and records the step's `thresholds()` for the report.
"""

from __future__ import annotations

import functools
import importlib
import pkgutil
from collections.abc import Mapping

from curate.wiring import StepSpec


@functools.cache
def registered_filters() -> Mapping[str, StepSpec]:
    """Every `FILTER` spec declared by a module of this package, by name."""

    specs: dict[str, StepSpec] = {}
    for module_info in pkgutil.iter_modules(filters.__path__):
        module = importlib.import_module(f"filters.{module_info.name}")
        spec = getattr(module, "FILTER", None)
        if isinstance(spec, StepSpec):
            if not spec.switch:
                raise ValueError(f"{module.__name__}.FILTER has no switch: a filter is named by its switch")
            if spec.switch in specs:
                raise ValueError(f"two filters are named {spec.switch!r}: {module.__name__} and another")
            specs[spec.switch] = spec
    return specs


def filter_spec(name: str) -> StepSpec:
    specs = registered_filters()
    if name not in specs:
        raise ValueError(f"unknown filter {name!r}; known: {', '.join(sorted(specs))}")
    return specs[name]
