"""The pages stage reads PDFs the way the anchors distribute them: WebDataset tar shards of PDFs with
JSON metadata (PDFA, the source of Docmatix), Parquet files and `datasets` datasets with a column of PDF
bytes, and a folder of PDFs; the same pages and texts come out of each."""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import tarfile
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from curate.pipelines import get_recipe

from curate.output.loader import make_dataset
from curate.run.executors import ExecutorConfig
from curate.run.report import error_lines, run_funnel
from curate.run.runner import run_recipe

GOOD = [
    "born_digital/la-precinct-bulletin-2014-p1.pdf",
    "born_digital/multi_page.pdf",
    "born_digital/scotus-transcript-p1.pdf",
    "born_digital/senate-expenditures.pdf",
]
BROKEN = ["broken/invalid.pdf", "broken/empty.pdf"]
OPTIONS = {"max_pages": 2}


def _metadata(name: str) -> dict:
    # PDFA's KEY.json: document-level fields and a `pages` list (OCR lines per page)
    return {
        "url": f"https://example.org/{name}",
        "lang": "en",
        "pages": [{"lines": {"text": [f"{name} p1"]}}],
    }


def _tar(path: Path, pdfs: dict[str, bytes], json_first: bool = True, mode: str = "w") -> None:
    with tarfile.open(path, mode) as tar:
        for key, data in pdfs.items():
            members = [(f"{key}.pdf", data), (f"{key}.json", json.dumps(_metadata(key)).encode())]
            for name, blob in reversed(members) if json_first else members:
                info = tarfile.TarInfo(name)
                info.size = len(blob)
                tar.addfile(info, io.BytesIO(blob))


@pytest.fixture(scope="module")
def pdfs(shared_data) -> dict[str, bytes]:
    return {Path(name).stem: (shared_data / "pdf" / name).read_bytes() for name in GOOD + BROKEN}


def _run(input_path: Path, output: Path) -> dict[tuple[str, int], dict]:
    run_recipe(
        get_recipe("pdf-pages"), str(input_path), output, ExecutorConfig("local", workers=1), options=OPTIONS
    )
    assert all(f.balanced for f in run_funnel(output))
    pages = {}
    for sample in make_dataset(output, decode_images=False):
        meta = sample["json"]["metadata"]
        key = (Path(meta["file"]).stem, meta["page"])
        assert key not in pages, f"page {key} written twice"
        pages[key] = {
            "id": sample["json"]["id"],
            "text": sample["json"]["text"],
            "image": hashlib.sha256(sample["png"]).hexdigest(),
            "meta": meta,
            "source": sample["json"]["source"],
        }
    return pages


@pytest.fixture(scope="module")
def from_folder(pdfs, tmp_path_factory) -> dict:
    folder = tmp_path_factory.mktemp("folder")
    for key, data in pdfs.items():
        (folder / f"{key}.pdf").write_bytes(data)
    return _run(folder, tmp_path_factory.mktemp("folder_out"))


def _same_pages(got: dict, expected: dict) -> None:
    assert set(got) == set(expected) and len(expected) >= 5
    for key, page in expected.items():
        assert got[key]["text"] == page["text"], key
        assert got[key]["image"] == page["image"], key


def test_tar_shards_give_the_same_pages_as_the_folder(pdfs, from_folder, tmp_path):
    shards = tmp_path / "shards"
    shards.mkdir()
    keys = list(pdfs)
    _tar(shards / "pdfa-eng-train-0000.tar", {k: pdfs[k] for k in keys[:3]}, json_first=True)
    _tar(shards / "pdfa-eng-train-0001.tar", {k: pdfs[k] for k in keys[3:]}, json_first=False)
    (shards / "_info.json").write_text("{}")  # PDFA's shard index beside the shards: not an input
    output = tmp_path / "out"
    pages = _run(shards, output)
    _same_pages(pages, from_folder)
    page = pages[("multi_page", 2)]
    assert page["id"] == "pdfa-eng-train-0000.tar/multi_page.pdf#page=2"
    assert page["source"] == str(shards / "pdfa-eng-train-0000.tar" / "multi_page.pdf")
    assert page["meta"]["source_metadata"] == {"url": "https://example.org/multi_page", "lang": "en"}
    first = pages[("multi_page", 1)]["meta"]
    assert first["source_page"] == {"lines": {"text": ["multi_page p1"]}}  # PDFA's per-page entry
    reasons = {e["metadata"]["source"]: e["reason"] for e in error_lines(output) if e["severity"] == "error"}
    assert "empty file" in reasons[str(shards / "pdfa-eng-train-0001.tar" / "empty.pdf")]
    assert "not a readable PDF" in reasons[str(shards / "pdfa-eng-train-0001.tar" / "invalid.pdf")]


def test_parquet_and_datasets_columns_of_pdf_bytes_give_the_same_pages(pdfs, from_folder, tmp_path):
    import datasets

    rows = [{"key": k, "pdf": v, "url": f"https://example.org/{k}"} for k, v in pdfs.items()]
    table = tmp_path / "parquet"
    table.mkdir()
    pq.write_table(pa.Table.from_pylist(rows), table / "docs.parquet", row_group_size=2)
    pages = _run(table, tmp_path / "out")
    _same_pages(pages, from_folder)
    assert pages[("multi_page", 1)]["id"] == "docs.parquet/multi_page#page=1"
    assert pages[("multi_page", 1)]["meta"]["source_metadata"]["url"] == "https://example.org/multi_page"

    saved = tmp_path / "saved"  # a `datasets` dataset with a Pdf-like {bytes, path} column, save_to_disk
    records = [{"doc": {"bytes": v, "path": f"{k}.pdf"}, "name": k} for k, v in pdfs.items()]
    datasets.Dataset.from_list(records).save_to_disk(str(saved))
    pages = _run(saved, tmp_path / "out_ds")
    _same_pages(pages, from_folder)


def test_a_damaged_or_compressed_shard_keeps_what_it_can_and_names_the_shard(pdfs, tmp_path):
    shards = tmp_path / "shards"
    shards.mkdir()
    good = {k: pdfs[k] for k in ("la-precinct-bulletin-2014-p1", "scotus-transcript-p1")}
    _tar(shards / "whole.tar.gz", good, mode="w:gz")
    _tar(tmp_path / "full.tar", {**good, "multi_page": pdfs["multi_page"]})
    data = (tmp_path / "full.tar").read_bytes()
    (shards / "cut.tar").write_bytes(data[: len(data) - 60_000])  # the last PDF is cut short
    output = tmp_path / "out"
    run_recipe(
        get_recipe("pdf-pages"), str(shards), output, ExecutorConfig("local", workers=1), options=OPTIONS
    )
    ids = {s["json"]["id"] for s in make_dataset(output, decode_images=False)}
    assert {f"whole.tar.gz/{k}.pdf#page=1" for k in good} <= ids
    assert {f"cut.tar/{k}.pdf#page=1" for k in good} <= ids
    errors = [e for e in error_lines(output) if e["severity"] == "error"]
    assert any(
        e["metadata"]["source"] == str(shards / "cut.tar") and "unreadable tar shard" in e["reason"]
        for e in errors
    )
    assert all(f.balanced for f in run_funnel(output))


def test_a_table_without_pdf_bytes_is_a_clear_error(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    pq.write_table(pa.table({"a": [1, 2], "b": ["x", "y"]}), folder / "t.parquet")
    output = tmp_path / "out"
    run_recipe(get_recipe("pdf-pages"), str(folder), output, ExecutorConfig("local", workers=1))
    (error,) = error_lines(output)
    assert "no column of PDF bytes" in error["reason"] and "--set pdf_column=" in error["reason"]
    assert error["metadata"]["source"] == str(folder / "t.parquet")


def test_common_crawl_paths_listing_gives_the_same_documents_as_the_folder(shared_data, tmp_path):
    import gzip

    warcs = tmp_path / "crawl-data" / "CC-MAIN-2024-22" / "warc"
    warcs.mkdir(parents=True)
    names = ["warc__sample-0000.warc.gz", "example.warc.gz"]
    for name in names:
        shutil.copy(shared_data / "warc" / name, warcs / name)
    listing = tmp_path / "warc.paths.gz"
    listing.write_bytes(
        gzip.compress("".join(f"crawl-data/CC-MAIN-2024-22/warc/{n}\n" for n in names).encode())
    )

    def extract(input_path: Path, output: Path, **options) -> dict[str, str]:
        run_recipe(
            get_recipe("interleaved"),
            str(input_path),
            output,
            ExecutorConfig("local", workers=1),
            only_stage="extract",
            options=options,
        )
        records = {}
        for path in (output / "stages" / "extract" / "data").glob("*.parquet"):
            for row in pq.read_table(path, columns=["id", "text", "metadata"]).to_pylist():
                # ids start with the WARC's path relative to the input (or the listing's base)
                url_and_record = row["id"].split(".warc.gz#", 1)[1]
                records[url_and_record] = (row["text"], Path(json.loads(row["metadata"])["file"]).name)
        assert all(f.balanced for f in run_funnel(output))
        return records

    from_folder = extract(warcs, tmp_path / "folder_out")
    assert len(from_folder) >= 5
    for base in (f"file://{tmp_path}/", str(tmp_path)):
        out = tmp_path / f"listing_out_{len(base)}"
        assert extract(listing, out, warc_base_url=base) == from_folder
        assert len(list((out / "stages" / "extract" / "logs" / "completions").iterdir())) == len(names)


def test_one_shard_or_table_file_as_the_input(pdfs, tmp_path):
    """`--input shard.tar` (or a single .parquet) reads that file: not an empty run."""
    good = {k: pdfs[k] for k in ("la-precinct-bulletin-2014-p1", "scotus-transcript-p1")}
    _tar(tmp_path / "one.tar", good)
    pq.write_table(
        pa.Table.from_pylist([{"key": k, "pdf": v} for k, v in good.items()]), tmp_path / "one.parquet"
    )
    for name, expected in (("one.tar", "one.tar/{}.pdf#page=1"), ("one.parquet", "one.parquet/{}#page=1")):
        output = tmp_path / f"out-{name}"
        run_recipe(get_recipe("pdf-pages"), str(tmp_path / name), output, ExecutorConfig("local", workers=1))
        ids = {s["json"]["id"] for s in make_dataset(output, decode_images=False)}
        assert ids == {expected.format(k) for k in good}


def test_shards_and_tables_are_read_through_fsspec_urls(pdfs, tmp_path):
    """The same reader over an fsspec store (`memory://` here, as `s3://` or `hf://` would be)."""
    import fsspec

    from curate.pdf.reader import PdfPageReader

    good = {k: pdfs[k] for k in ("la-precinct-bulletin-2014-p1", "multi_page")}
    _tar(tmp_path / "s.tar", good)
    pq.write_table(
        pa.Table.from_pylist([{"key": k, "pdf": v} for k, v in good.items()]), tmp_path / "t.parquet"
    )
    memory = fsspec.filesystem("memory")
    for name in ("s.tar", "t.parquet"):
        memory.pipe(f"/bucket/in/{name}", (tmp_path / name).read_bytes())

    def pages(location: str) -> dict[str, tuple[str, str]]:
        reader = PdfPageReader(location, ocr=False, max_pages=2)
        return {d.id: (d.text, d.metadata["source"]) for d in reader.run()}

    local, remote = pages(str(tmp_path)), pages("memory://bucket/in")
    assert set(local) == set(remote) and len(remote) == 6
    assert {k: v[0] for k, v in local.items()} == {k: v[0] for k, v in remote.items()}
    source = remote["s.tar/multi_page.pdf#page=2"][1]  # the URL kept whole (memory's form is memory:///)
    assert source.startswith("memory://") and source.endswith("/bucket/in/s.tar/multi_page.pdf")
