"""Recipes: short files that wire stages with their thresholds. `RECIPES` maps a name to its module."""

from __future__ import annotations

import importlib

from curate.stage import Recipe

RECIPES = {
    "pdf-pages": "pipelines.pdf_pages",
}


def get_recipe(name: str) -> Recipe:
    if name not in RECIPES:
        raise KeyError(f"unknown recipe {name!r}; recipes: {', '.join(sorted(RECIPES))}")
    return importlib.import_module(RECIPES[name]).recipe()
