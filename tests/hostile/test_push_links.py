"""`curate push` uploads only regular files inside the output folder: a symbolic link (to a secret file,
to `/`, or a shard the manifest names) is refused with its name before anything is listed further or
sent. Before: `push --dry-run` listed a link to `/` as 429 files (618 MB) and a real push uploaded the
secret's bytes."""

from __future__ import annotations

import json
import sys
import tarfile
from io import BytesIO
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import hostile_inputs as hostile  # noqa: E402

from curate.output.hub import LinkInOutput, push, push_plan  # noqa: E402

SECRET = b"AWS_SECRET_ACCESS_KEY=not-for-the-hub\n"


def fake_output(folder: Path) -> Path:
    """A finished run's output as push reads it: one shard in the manifest, run.json, a Parquet file."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    shards = folder / "shards"
    shards.mkdir(parents=True)
    data = BytesIO()
    with tarfile.open(fileobj=data, mode="w") as tar:
        body = json.dumps({"text": "a sample"}).encode()
        info = tarfile.TarInfo("k0.json")
        info.size = len(body)
        tar.addfile(info, BytesIO(body))
    (shards / "00000.tar").write_bytes(data.getvalue())
    manifest = {
        "shards": [{"name": "00000.tar", "samples": 1, "bytes": len(data.getvalue())}],
        "total_samples": 1,
        "total_bytes": len(data.getvalue()),
    }
    (shards / "manifest.json").write_text(json.dumps(manifest))
    (folder / "run.json").write_text(json.dumps({"recipe": "pdf-pages", "stages": []}))
    (folder / "parquet").mkdir()
    pq.write_table(pa.table({"id": ["k0"]}), folder / "parquet" / "captioned-00000-00000.parquet")
    return folder


@pytest.fixture
def secret(tmp_path) -> Path:
    path = tmp_path / "elsewhere" / "secret.parquet"
    path.parent.mkdir()
    path.write_bytes(SECRET)
    return path


def test_plan_of_a_clean_output_lists_its_files(tmp_path):
    plan = push_plan(fake_output(tmp_path / "out"), "org/x")
    paths = {f.path for f in plan.files}
    assert {
        "shards/00000.tar",
        "shards/manifest.json",
        "run.json",
        "parquet/captioned-00000-00000.parquet",
    } <= paths


def test_link_to_a_secret_file_is_refused_by_name(tmp_path, secret):
    out = fake_output(tmp_path / "out")
    (out / "parquet" / "x.parquet").symlink_to(secret)
    with pytest.raises(LinkInOutput, match=r"parquet/x\.parquet.*symbolic link"):
        push_plan(out, "org/x")


def test_link_to_root_is_refused_without_walking_it(tmp_path):
    out = fake_output(tmp_path / "out")
    (out / "parquet" / "everything").symlink_to("/")
    (out / "tables").symlink_to("/")
    with pytest.raises(LinkInOutput, match=r"(parquet/everything|tables).*symbolic link"):
        push_plan(out, "org/x")
    (out / "parquet" / "everything").unlink()
    with pytest.raises(LinkInOutput, match=r"tables.*symbolic link"):
        push_plan(out, "org/x")


def test_shard_named_in_the_manifest_as_a_link_is_refused(tmp_path, secret):
    out = fake_output(tmp_path / "out")
    shard = out / "shards" / "00000.tar"
    size = shard.stat().st_size
    shard.unlink()
    secret.write_bytes(SECRET.ljust(size, b"#"))  # the size the manifest says: only the link check stops it
    shard.symlink_to(secret)
    with pytest.raises(LinkInOutput, match=r"shards/00000\.tar.*symbolic link"):
        push_plan(out, "org/x")
    # a manifest naming a path that leaves shards/
    shard.unlink()
    shard.write_bytes(SECRET.ljust(size, b"#"))
    manifest = json.loads((out / "shards" / "manifest.json").read_text())
    manifest["shards"][0]["name"] = "../../elsewhere/secret.parquet"
    (out / "shards" / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(LinkInOutput, match="outside shards/"):
        push_plan(out, "org/x")


def test_push_and_dry_run_refuse_before_sending(tmp_path, secret, monkeypatch):
    """The CLI: one line naming the link, exit 1, nothing listed; push() fails before any Hub call."""
    out = fake_output(tmp_path / "out")
    (out / "parquet" / "x.parquet").symlink_to(secret)
    result = hostile.measure(
        [sys.executable, "-m", "curate.cli", "push", str(out), "--repo", "org/x", "--dry-run"], timeout=120
    )
    assert result["returncode"] == 1
    assert "parquet/x.parquet" in result["stderr"] and "Traceback" not in result["stderr"]
    assert "secret" not in result["stdout"]  # nothing listed
    import huggingface_hub

    def no_hub(*args, **kwargs):
        raise AssertionError("the Hub was called")

    monkeypatch.setattr(huggingface_hub, "HfApi", no_hub)
    with pytest.raises(LinkInOutput):
        push(out, "org/x")
