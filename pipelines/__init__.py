"""Recipes: short files that wire stages with their thresholds. `RECIPES` maps a name to its module."""

from __future__ import annotations

import importlib
import importlib.util

from curate.recipe import Recipe, UnknownName

RECIPES = {
    "pdf-pages": "curate.pipelines.pdf_pages",
    "docmatix": "curate.pipelines.docmatix",
    "interleaved": "curate.pipelines.interleaved",
    "pairs": "curate.pipelines.pairs",
}


def get_recipe(name: str) -> Recipe:
    if name not in RECIPES:
        raise UnknownName(f"unknown recipe {name!r}; recipes: {', '.join(sorted(RECIPES))}")
    return importlib.import_module(RECIPES[name]).recipe()


def available_recipes() -> list[str]:
    """Recipe names whose module exists in this checkout."""
    return [name for name, module in sorted(RECIPES.items()) if importlib.util.find_spec(module) is not None]
