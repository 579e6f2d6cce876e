"""The LLMs the QA stage can run, by name; files are located, verified and cached by `curate.models`.

`resolve_model` takes a packaged name (see MODELS) or a GGUF file path (`--set embedded_model=...` of
the docmatix recipe, or `curate serve-llm --model`).
"""

from __future__ import annotations

from pathlib import Path

from curate.models import (
    QWEN_CODER_05B,
    QWEN_CODER_15B,
    SMOLLM2_135M,
    ModelNotAvailable,
    PackagedModel,
    cache_dir,
    file_sha256,
    part_paths,
)
from curate.models import model_path as _model_path

__all__ = [
    "DEFAULT_MODEL",
    "MODELS",
    "ModelNotAvailable",
    "PackagedModel",
    "cache_dir",
    "file_sha256",
    "model_path",
    "part_paths",
    "resolve_model",
]

# SmolLM2 is faster (~80 tok/s here) but weaker: kept for comparison (`--set embedded_model=smollm2-135m`).
MODELS = {
    "qwen2.5-coder-0.5b": QWEN_CODER_05B,
    "qwen2.5-coder-1.5b": QWEN_CODER_15B,
    "smollm2-135m": SMOLLM2_135M,
}
DEFAULT_MODEL = QWEN_CODER_05B


def model_path(model: PackagedModel = DEFAULT_MODEL, folder: Path | None = None) -> Path:
    """The model's GGUF file, verified (default: the QA model)."""
    return _model_path(model, folder)


def resolve_model(name_or_path: str | None) -> Path:
    """A packaged model by name (see MODELS), or a GGUF file path; default: the packaged default."""
    if not name_or_path:
        return model_path(DEFAULT_MODEL)
    if name_or_path in MODELS:
        return model_path(MODELS[name_or_path])
    path = Path(name_or_path).expanduser()
    if not path.is_file():
        raise ModelNotAvailable(
            f"model {name_or_path!r} is neither a packaged model ({', '.join(MODELS)}) nor a file"
        )
    return path
