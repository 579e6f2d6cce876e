"""Text dedup on real pages and crawls: exact (normalised) and near-duplicate (MinHash) page text,
the repeated captures of dupes.warc.gz, OBELICS image-URL frequency and paragraph dedup."""

from __future__ import annotations

import random
from pathlib import Path

import lxml.html
import pymupdf
from curate.filters.dedup.normalize import normalize_text
from curate.filters.dedup.stages import interleaved_dedup_stages, minhash_dedup_stages
from warcio.archiveiterator import ArchiveIterator

from curate.record import image_media, interleaved_record, pdf_page_record
from tests.test_dedup_images import read_folder, run, write_records

PDFS = [
    "tracemonkey.pdf",
    "federal-register-2020-17221.pdf",
    "scotus-transcript-p1.pdf",
    "redp5110_sampled.pdf",
]


def pdf_pages(shared_data: Path) -> list:
    docs = []
    for name in PDFS:
        with pymupdf.open(shared_data / "pdf" / "born_digital" / name) as pdf:
            for number, page in enumerate(pdf, start=1):
                text = page.get_text()
                if len(text.split()) >= 50:
                    docs.append(pdf_page_record(f"{name}#{number}", text, None, source=name, page=number))
    return docs


def perturb(text: str, rate: float, seed: int) -> str:
    """Replace about `rate` of the words (an OCR-like near copy)."""
    rng = random.Random(seed)
    return " ".join(w if rng.random() > rate else w[::-1] + "x" for w in text.split())


def test_page_text_duplicates(shared_data, tmp_path):
    pages = pdf_pages(shared_data)
    assert len(pages) >= 20
    originals = {p.id for p in pages}
    a, b, c = pages[2], pages[7], pages[15]
    planted = {
        "copy-spacing-case": (a.id, " \n ".join(a.text.upper().split()), "duplicate_text"),
        "copy-3pct-changed": (b.id, perturb(b.text, 0.03, 1), "near_duplicate_text"),
        "copy-tail-added": (
            c.id,
            c.text + "\nThis page was scanned by the county archive.",
            "near_duplicate_text",
        ),
    }
    copies = [pdf_page_record(k, text, None, source="planted", page=1) for k, (_, text, _) in planted.items()]
    write_records(tmp_path / "in", [pages[:12] + copies[:1], pages[12:] + copies[1:]])
    run(minhash_dedup_stages(), tmp_path / "in", tmp_path / "out")

    kept = read_folder(tmp_path / "out" / "stages" / "text-dedup-filter" / "data")
    excluded = read_folder(tmp_path / "out" / "stages" / "text-dedup-filter" / "excluded")
    assert set(kept) == originals, "different pages are all kept"
    for key, (source_id, _, reason) in planted.items():
        assert excluded[key].metadata["duplicate_of"] == source_id
        assert excluded[key].metadata["filter_reason"] == reason


def warc_captures(paths: list[Path]) -> list:
    """One record per HTML capture; a revisit record's payload is the capture it points to (same digest)."""
    payloads, captures = {}, []
    for path in paths:
        with open(path, "rb") as stream:
            for record in ArchiveIterator(stream):
                if record.rec_type not in ("response", "revisit") or not record.http_headers:
                    continue
                if "html" not in (record.http_headers.get_header("Content-Type") or ""):
                    continue
                digest = record.rec_headers.get_header("WARC-Payload-Digest")
                body = record.content_stream().read()
                if record.rec_type == "response" and body:
                    payloads[digest] = body
                captures.append((record.rec_headers, digest))
    docs = []
    for n, (headers, digest) in enumerate(captures):
        if digest in payloads:
            text = lxml.html.fromstring(payloads[digest]).text_content()
            url, date = headers.get_header("WARC-Target-URI"), headers.get_header("WARC-Date")
            docs.append(interleaved_record(f"{url}@{date}#{n}", [text], source=url))
    return docs


def test_repeated_warc_captures_collapse(shared_data, tmp_path):
    warc = shared_data / "warc"
    docs = warc_captures([warc / "iana.warc.gz", warc / "dupes.warc.gz"])
    by_url = {}
    for doc in docs:
        by_url.setdefault(doc.metadata["source"], []).append(doc.id)
    repeated = {url: ids for url, ids in by_url.items() if len(ids) > 1}
    assert {"http://example.com", "http://www.iana.org/"} <= set(repeated)
    write_records(tmp_path / "in", [docs])
    run(minhash_dedup_stages(), tmp_path / "in", tmp_path / "out")

    kept = read_folder(tmp_path / "out" / "stages" / "text-dedup-filter" / "data")
    excluded = read_folder(tmp_path / "out" / "stages" / "text-dedup-filter" / "excluded")
    for ids in repeated.values():
        assert sum(i in kept for i in ids) == 1, "one capture of each page is kept"
        first = ids[0]
        for later in ids[1:]:
            assert excluded[later].metadata["duplicate_of"] == first
    # distinct pages are all kept; the two "302 Found" stubs of iana.warc.gz are one text, so one is kept
    assert len(kept) == len({normalize_text(d.text) for d in docs}) == len(by_url) - 1


def crawl_documents(shared_data: Path) -> list:
    """Web documents (paragraphs and images in page order) from the two sample crawl WARCs."""
    docs = []
    for name in ("warc__sample-0000.warc.gz", "warc__sample-0001.warc.gz"):
        with open(shared_data / "warc" / name, "rb") as stream:
            for record in ArchiveIterator(stream):
                if record.rec_type != "response" or "html" not in (
                    record.http_headers.get_header("Content-Type") or ""
                ):
                    continue
                url = record.rec_headers.get_header("WARC-Target-URI")
                tree = lxml.html.fromstring(record.content_stream().read())
                tree.make_links_absolute(url)
                sequence = []
                for el in tree.iter("p", "h1", "h2", "h3", "li", "img"):
                    if el.tag == "img" and el.get("src"):
                        sequence.append(image_media(None, media_id=el.get("src"), url=el.get("src")))
                    elif el.tag != "img" and el.text_content().strip():
                        sequence.append(el.text_content().strip())
                docs.append(interleaved_record(url, sequence, source=url))
    return docs


def test_obelics_frequent_image_urls_and_paragraphs(shared_data, tmp_path):
    docs = crawl_documents(shared_data)
    url_docs: dict[str, set] = {}
    for doc in docs:
        for media in doc.media:
            url_docs.setdefault(media.url, set()).add(doc.id)
    occurrences = {u: sum(m.url == u for d in docs for m in d.media) for u in url_docs}
    frequent = {u for u, n in occurrences.items() if n > 4}
    assert frequent, "the crawl shares logo URLs across pages"
    write_records(tmp_path / "in", [docs[:20], docs[20:]])
    run(interleaved_dedup_stages(max_url_count=4), tmp_path / "in", tmp_path / "out")

    kept = read_folder(tmp_path / "out" / "stages" / "dedup-filter" / "data")
    excluded = read_folder(tmp_path / "out" / "stages" / "dedup-filter" / "excluded")
    assert set(kept) | set(excluded) == {d.id for d in docs}
    remaining = {m.url for d in kept.values() for m in d.media}
    assert not remaining & frequent, "frequent image URLs are removed everywhere"
    assert {u for u, n in occurrences.items() if n <= 4} <= remaining | {
        m.url for d in excluded.values() for m in d.media
    }, "infrequent images stay"
    # paragraphs: every kept paragraph appears once over the whole kept dataset
    seen, removed = set(), 0
    for doc in sorted(kept.values(), key=lambda d: d.id):
        for block in doc.metadata["texts"]:
            if block is None:
                continue
            for paragraph in block.split("\n\n"):
                key = normalize_text(paragraph)
                if not key:
                    continue  # punctuation only ("—"): no words, nothing to compare
                assert key not in seen, f"paragraph kept twice: {key[:60]}"
                seen.add(key)
        for note in doc.metadata.get("removed_paragraphs", []):
            removed += 1
            assert note["duplicate_of"] in kept
        for position, image in enumerate(doc.media):
            assert doc.metadata["texts"][image.metadata["position"]] is None, position
    assert removed > 0
    for doc in excluded.values():  # whole documents dropped as duplicates name a kept document
        assert doc.metadata["duplicate_of"] in kept, doc.metadata["filter_reason"]


def test_paragraphs_cut_for_length_then_repeated_paragraphs_removed(shared_data, tmp_path):
    """The interleaved recipe's extract stage (OBELICS paragraph lengths) and then its dedup, as the
    recipe chains them: both note what they removed in the record, under keys of their own."""
    from curate.filters.obelics import ObelicsParagraphFilter

    length_filter = ObelicsParagraphFilter()
    docs = [length_filter.process(doc) for doc in crawl_documents(shared_data)]
    assert any(doc.metadata["paragraphs_out_of_length"] for doc in docs)
    write_records(tmp_path / "in", [docs[:20], docs[20:]])
    run(interleaved_dedup_stages(max_url_count=4), tmp_path / "in", tmp_path / "out")

    kept = read_folder(tmp_path / "out" / "stages" / "dedup-filter" / "data")
    notes = [note for doc in kept.values() for note in doc.metadata.get("removed_paragraphs", [])]
    assert notes and all(note["duplicate_of"] in kept for note in notes)
    assert all(isinstance(doc.metadata["paragraphs_out_of_length"], int) for doc in kept.values())
