"""What `pip install` puts into site-packages: one top-level package, `curate`, with the wings
(filters/, synth/, pipelines/: folders beside curate/ in the repository) inside it, so nothing of ours
can clash with another project's `filters` or `synth`."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import tomllib
import venv
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
WINGS = ("filters", "synth", "pipelines")
NOT_SOURCE = (".venv*", ".git", "build", "out", "*.egg-info", "__pycache__", ".*_cache")


def installed_name(folder: Path) -> str:
    """The name a package folder of the repository installs as (pyproject's package-dir)."""
    parts = folder.relative_to(REPO).parts
    return ".".join(parts if parts[0] == "curate" else ("curate", *parts))


def test_every_package_folder_is_installed_under_curate():
    setuptools = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    folders = [p.parent for top in ("curate", *WINGS) for p in (REPO / top).rglob("__init__.py")]
    assert sorted(setuptools["packages"]) == sorted(installed_name(f) for f in folders)
    assert setuptools["package-dir"] == {f"curate.{wing}": wing for wing in WINGS}


@pytest.mark.slow
def test_the_wheel_installs_alone_and_runs(tmp_path):
    """The wheel, installed by pip into a clean venv that sees the dependencies but not this checkout,
    runs `curate recipes`; `filters`, `synth` and `pipelines` are not importable at the top level there."""
    pip = [sys.executable, "-m", "pip"]
    source = tmp_path / "source"  # a copy: setuptools builds in the source tree (build/, *.egg-info)
    shutil.copytree(REPO, source, ignore=shutil.ignore_patterns(*NOT_SOURCE))
    built = subprocess.run(
        [*pip, "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(tmp_path), str(source)],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert built.returncode == 0, built.stderr[-2000:]
    (wheel,) = tmp_path.glob("curate-*.whl")
    tops = {name.split("/")[0] for name in zipfile.ZipFile(wheel).namelist()}
    assert {top for top in tops if not top.endswith(".dist-info")} == {"curate"}

    clean = tmp_path / "clean"
    venv.create(clean, with_pip=False)
    python = clean / "bin" / "python"
    installed = subprocess.run(
        [*pip, "--python", str(python), "install", "--no-deps", "--no-index", "-q", str(wheel)],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert installed.returncode == 0, installed.stderr[-2000:]
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    # the dependencies from this venv's site-packages, added as a plain path: its .pth files (this
    # checkout's editable install among them) are not run, so only the wheel's curate is found
    Path(site, "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    listed = subprocess.run(
        [str(clean / "bin" / "curate"), "recipes"], capture_output=True, text=True, cwd=tmp_path, env=env,
        timeout=300,
    )  # fmt: skip
    assert listed.returncode == 0, listed.stderr[-2000:]
    assert all(name in listed.stdout for name in ("docmatix", "pdf-pages", "interleaved", "pairs"))
    where = subprocess.run(
        [str(python), "-c", "import curate.synth, importlib.util as u; print(curate.synth.__file__); "
         "print([n for n in ('filters', 'synth', 'pipelines') if u.find_spec(n)])"],
        capture_output=True, text=True, cwd=tmp_path, env=env, timeout=300,
    )  # fmt: skip
    assert where.returncode == 0, where.stderr[-2000:]
    wing_file, importable = where.stdout.splitlines()
    assert Path(wing_file).is_relative_to(site) and importable == "[]"
