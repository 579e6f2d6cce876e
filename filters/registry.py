"""A filter declares, once and in its own module, how it is wired into a run: `FILTER = FilterSpec(...)`.

The spec names the filter's switch (`--set NAME=false`), the run options its constructor arguments
come from (`arg`: default and type from the constructor's own signature), and any further options
its `prepare` reads. Generic code (`filters.stages`) finds a spec by name among the modules of this
package, builds the step with the stage's exclusion and error sinks, calls the step's `preflight()`
in the driver before any task, and records the step's `thresholds()` for the report.
"""

from __future__ import annotations

import functools
import importlib
import pkgutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from datatrove.pipeline.base import PipelineStep

from curate.options import Option
from curate.recipe import StageContext
from curate.wiring import StepSpec, arg

__all__ = ["DatasetCut", "FilterSpec", "arg", "filter_spec", "registered_filters"]

OptionReader = Callable[[str], Any]


@dataclass(frozen=True)
class DatasetCut:
    """A cut of a fraction of the whole dataset by the filter's stored score, in a stage after the
    filter's (`filters.stages.cut_stage`): the threshold is one percentile over every stored score."""

    fraction: Option  # unset (None) or 0: no cut
    score: str
    highest: bool  # drop the highest scores (perplexity), else the lowest (CLIP)
    description: str
    keep: bool = False  # `fraction` is the fraction kept, not dropped

    def drop_fraction(self, option: OptionReader) -> float | None:
        value = option(self.fraction.name)
        return None if value is None else (1 - value if self.keep else value)


@dataclass(frozen=True)
class FilterSpec:
    """How one filter becomes a step of a run."""

    name: str  # the switch, the exclusion/error sink names, the key in `filters_stage(..., [names])`
    step: Callable[..., PipelineStep]  # the filter class; takes exclusion_writer= and error_writer=
    description: str
    args: tuple[tuple[str, Option], ...] = ()  # (constructor argument, its option), made with `arg`
    options: tuple[Option, ...] = ()  # further options that `prepare` reads
    # adjust the constructor arguments read from the options: (kwargs, ctx.option) -> kwargs
    prepare: Callable[[dict[str, Any], OptionReader], dict[str, Any]] | None = None
    cut: DatasetCut | None = None  # a dataset-wide percentile cut this filter's scores allow
    enabled_by_default: bool = True

    @property
    def switch(self) -> Option:
        return Option(self.name, bool, self.enabled_by_default, help=f"{self.description} (false: left out)")

    @property
    def all_options(self) -> tuple[Option, ...]:
        return (self.switch, *(option for _, option in self.args), *self.options)

    def enabled(self, ctx: StageContext) -> bool:
        return ctx.flag(self.name, self.enabled_by_default)

    def build(self, ctx: StageContext) -> PipelineStep:
        prepare = self.prepare
        spec = StepSpec(self.step, self.args, exclusions=self.name, errors=self.name,
                        prepare=(lambda kwargs, ctx: prepare(kwargs, ctx.option)) if prepare else None)  # fmt: skip
        return spec.build(ctx)


@functools.cache
def registered_filters() -> Mapping[str, FilterSpec]:
    """Every `FILTER` spec declared by a module of this package, by name."""
    import filters

    specs: dict[str, FilterSpec] = {}
    for module_info in pkgutil.iter_modules(filters.__path__):
        module = importlib.import_module(f"filters.{module_info.name}")
        spec = getattr(module, "FILTER", None)
        if isinstance(spec, FilterSpec):
            if spec.name in specs:
                raise ValueError(f"two filters are named {spec.name!r}: {module.__name__} and another")
            specs[spec.name] = spec
    return specs


def filter_spec(name: str) -> FilterSpec:
    specs = registered_filters()
    if name not in specs:
        raise ValueError(f"unknown filter {name!r}; known: {', '.join(sorted(specs))}")
    return specs[name]
