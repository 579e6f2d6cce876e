"""Helpers for tests that compare runs: real PDFs copied into an input folder, and what each sample of
an output holds, as a digest."""

from __future__ import annotations

import hashlib
import io
import json
import shutil
from collections.abc import Iterable
from pathlib import Path

from curate.output.loader import make_dataset


def copy_pdfs(shared_data: Path, names: Iterable[str], dest: Path) -> Path:
    """The PDFs `names` (paths under shared_data/pdf) copied into `dest`, in their sub-folders."""
    for name in names:
        (dest / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(shared_data / "pdf" / name, dest / name)
    return dest


# measurements a sample carries (wall time), different in every run of the same data
MEASURED = {"qa_generation": ("roundtrip_seconds",)}


def sample_digests(
    output: str | Path, sources: tuple[str, str] | None = None, without_llm: bool = False
) -> dict[str, str]:
    """Sample key -> sha256 of its members and its JSON (without the MEASURED times), streamed with
    webdataset (URLs through fsspec); a key seen twice fails. `sources` = (prefix, as): the input's
    location written as another's, to compare runs of the same files from two places (a local folder
    and a bucket). `without_llm`: leave out what an LLM wrote (the QA turns, the `qa_*` fields and scores), which
    differs between runs (the qa stage samples at temperature 0.2)."""
    found = {}
    for sample in make_dataset(output, decode_images=False):
        digest = hashlib.sha256()
        for member in sorted(k for k in sample if not k.startswith("__") and k not in ("image", "json")):
            value = sample[member]
            digest.update(member.encode() + (value if isinstance(value, bytes) else value.encode()))
        metadata = sample["json"].get("metadata") or {}
        if without_llm:  # the turns, the qa_* fields and scores (top level and in metadata)
            for part in (sample["json"], metadata, sample["json"].get("scores") or {}):
                for key in [k for k in part if k == "texts" or k.startswith("qa_")]:
                    part.pop(key)
        for part, keys in MEASURED.items():
            for key in keys:
                (metadata.get(part) or {}).pop(key, None)
        text = json.dumps(sample["json"], sort_keys=True)
        digest.update((text.replace(*sources) if sources else text).encode())
        assert sample["__key__"] not in found, "duplicate sample"
        found[sample["__key__"]] = digest.hexdigest()
    return found


# photos of usable sizes (OBELICS: 150 px a side at least, aspect ratio <= 2; DataComp: 200 px, <= 3)
PHOTOS = ("flower.jpg", "524_316.jpg", "389_535.jpg", "321_421.jpg", "416_264.jpg", "flower2.jpg")


def warc_with_images(shared_data: Path, name: str, dest: Path) -> Path:
    """The real WARC `name` of shared_data/warc, with a response record added for every image its pages
    reference (the shared photos in turn), so its pages' images are taken from the WARC, with no network
    (a crawl that stored the images it found, as Common Crawl's image WARCs do)."""
    from urllib.parse import urljoin

    import lxml.html
    from warcio.archiveiterator import ArchiveIterator
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    dest.mkdir(parents=True, exist_ok=True)
    original = (shared_data / "warc" / name).read_bytes()
    urls: list[str] = []
    for record in ArchiveIterator(io.BytesIO(original)):
        kind = record.http_headers.get_header("Content-Type", "") if record.http_headers else ""
        if record.rec_type != "response" or "html" not in kind:
            continue
        payload = record.content_stream().read()
        if not payload.strip():
            continue
        page = record.rec_headers.get_header("WARC-Target-URI")
        for src in lxml.html.fromstring(payload).xpath("//img/@src | //img/@data-src"):
            url = urljoin(page, src.strip())
            if url.startswith("http") and url not in urls:
                urls.append(url)
    target = dest / name
    with open(target, "wb") as out:
        out.write(original)  # a .warc.gz is gzip members one after another: records can be appended
        writer = WARCWriter(out, gzip=True)
        for n, url in enumerate(urls):
            photo = (shared_data / "images" / "photos" / PHOTOS[n % len(PHOTOS)]).read_bytes()
            headers = StatusAndHeaders(
                "200 OK",
                [("Content-Type", "image/jpeg"), ("Content-Length", str(len(photo)))],
                protocol="HTTP/1.1",
            )
            writer.write_record(
                writer.create_warc_record(url, "response", payload=io.BytesIO(photo), http_headers=headers)
            )
    return target
