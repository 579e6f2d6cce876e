"""Shared fixtures: the real test data in ../shared/data (tests skip, saying why, where it is absent)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

# curate first, as every curate process does: it keeps PyMuPDF's optional layout analyser out, which
# otherwise changes what get_text returns (tests importing pymupdf first would see other text)
import curate  # noqa: F401

REPO = Path(__file__).resolve().parent.parent
# reading an option no stage declares fails the test (curate/recipe.py), not only a warning
os.environ.setdefault("CURATE_STRICT_OPTIONS", "1")
SHARED_DATA = Path(os.environ.get("CURATE_SHARED_DATA", REPO.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real test data not found at {SHARED_DATA} (set CURATE_SHARED_DATA to its folder)")
    return SHARED_DATA


@pytest.fixture
def multi_page_dir(shared_data, tmp_path) -> Path:
    """A folder holding the real 5-page born-digital multi_page.pdf."""
    folder = tmp_path / "pdfs"
    folder.mkdir()
    shutil.copy(shared_data / "pdf" / "born_digital" / "multi_page.pdf", folder)
    return folder


@pytest.fixture(scope="session")
def pdf_run(shared_data, tmp_path_factory) -> Path:
    """The pdf-pages recipe run once over all of ../shared/data/pdf, in small shards (shared by tests)."""
    from curate.pipelines import get_recipe

    from curate.run.executors import ExecutorConfig
    from curate.run.runner import run_recipe

    output = tmp_path_factory.mktemp("pdf_run")
    run_recipe(
        get_recipe("pdf-pages"),
        str(shared_data / "pdf"),
        output,
        ExecutorConfig("local", workers=2),
        options={"shard_samples": 20},
    )
    return output
