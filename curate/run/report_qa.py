"""The QA review pages of a docmatix run: how a person audits the pairs before training on them.

Each sample of the `checks` stage (kept samples and those dropped for having no kept pair) is shown with
its page images, every pair the LLM wrote (kept ones and rejected ones, each with its reason, the
grounding score and what the round trip and the second opinion answered) and each page's text with the
pair's evidence marked: the `qa_evidence` lines stored with the pair where the run has them, otherwise
the answer where it is found in the page (case, spacing and punctuation ignored, as OCR text needs).
Large runs are split into pages of `per_page` samples with links between them.

`write_qa_review(OUTPUT, REPORT_DIR)` writes REPORT_DIR/qa/page-N.html and the page images beside
them; `curate report OUT --html` calls it when the run has a checks stage with QA pairs.
"""

from __future__ import annotations

import html
import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow.parquet as pq

from curate.errors import ImageError, decoding_image
from curate.location import location

SAMPLES_PER_PAGE = 20
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")  # not valid in an HTML page; shown as \ufffd
IMAGE_WIDTH = 640  # px of the page images on the review page: enough to read a table cell


@dataclass
class ReviewPair:
    question: str
    answer: str
    kept: bool
    reason: str  # why it was rejected, or what it passed
    pages: list[int] = field(default_factory=list)
    evidence: str = ""  # the stored evidence text; empty where the run has none
    details: str = ""


@dataclass
class ReviewSample:
    record_id: str
    pages: list[tuple[int, str]]  # (page number, text)
    images: list[bytes]
    pairs: list[ReviewPair]
    dropped: str = ""  # why the sample was dropped (no kept pair), or "" when kept


def _pages_of(text: str, meta: dict) -> list[tuple[int, str]]:
    """(page number, text) of each page: a document's text holds its pages separated by form feeds."""
    pages = meta.get("pages")
    if pages:
        return [(p["page"], t) for p, t in zip(pages, text.split("\f"), strict=False)]
    return [(int(meta.get("page") or 1), text)]


def _esc(text: str) -> str:
    return html.escape(CONTROL.sub("\ufffd", text))


def _evidence_text(entry) -> str:
    """The evidence of one `qa_evidence` entry ({pages, evidence}) or of a rejected pair's field."""
    value = entry.get("evidence", "") if isinstance(entry, dict) else entry
    return " ".join(map(str, value)) if isinstance(value, list) else str(value or "")


def _agreement(pair: dict) -> str:
    parts = []
    for key, name in (("roundtrip", "round trip"), ("second_opinion", "second opinion")):
        if pair.get(key) is not None:
            parts.append(f"{name}: {pair[key]!r}")
    return "; ".join(parts)


def sample_pairs(meta: dict) -> list[ReviewPair]:
    """Every pair of a checked sample in the order the LLM wrote them: kept (with provenance and, where
    stored, `qa_evidence`) and rejected (with the reason), then responses that held no pair."""
    pairs = []
    evidence = meta.get("qa_evidence") or []
    for i, (turn, prov) in enumerate(zip(meta.get("qa", []), meta.get("qa_provenance", []), strict=False)):
        entry = evidence[i] if i < len(evidence) else None
        pages = (entry or {}).get("pages") if isinstance(entry, dict) else None
        pairs.append(ReviewPair(turn["user"], turn["assistant"], True,
                                f"kept: passed every check (grounding {prov.get('grounding', 0):.2f})",
                                list(pages or prov.get("pages") or []), _evidence_text(entry),
                                _agreement(prov)))  # fmt: skip
    for pair in meta.get("qa_rejected", []):
        pairs.append(ReviewPair(pair.get("question", ""), pair.get("answer", ""), False,
                                f"rejected: {pair.get('reason', '?')} (grounding {pair.get('grounding', 0):.2f})",
                                list(pair.get("pages") or []), _evidence_text(pair.get("evidence")),
                                _agreement(pair)))  # fmt: skip
    for reject in meta.get("qa_rejects", []):
        pairs.append(ReviewPair("", "", False, f"rejected: {reject.get('reason', '?')}", [], "",
                                str(reject.get("detail") or reject.get("raw") or "")[:300]))  # fmt: skip
    return pairs


def review_samples(output: Path, stage: str = "checks") -> Iterator[ReviewSample]:
    """The samples of the run's checks stage, kept ones first, each with its pages, images and pairs."""
    for folder, kept in (("data", True), ("excluded", False)):
        for path in sorted((output / "stages" / stage / folder).glob("*.parquet")):
            with path.open("rb") as f:  # a Path or, for an s3:// output, a UPath
                table = pq.read_table(f, columns=["id", "text", "metadata", "media"]).to_pylist()
            for row in table:
                meta = json.loads(row["metadata"] or "{}")
                if "qa_candidates" not in meta and "qa" not in meta:
                    continue
                images = [m["media_bytes"] for m in row["media"] or [] if m.get("media_bytes")]
                yield ReviewSample(row["id"], _pages_of(row["text"] or "", meta), images, sample_pairs(meta),
                                   "" if kept else meta.get("filter_reason", "dropped"))  # fmt: skip


def find_span(needle: str, text: str) -> tuple[int, int] | None:
    """Where `needle` is in `text`, its words in order with any spacing or punctuation between them and
    case ignored (OCR writes "4- 30- 92" for 4-30-92); None when it is not there."""
    tokens = re.findall(r"[^\W_]+", needle)
    if not tokens:
        return None
    pattern = r"[\W_]*".join(re.escape(t) for t in tokens)
    match = re.search(rf"(?<![^\W_]){pattern}(?![^\W_])", text, re.IGNORECASE) or re.search(
        pattern, text, re.IGNORECASE
    )
    return match.span() if match else None


def marked_text(text: str, marks: list[tuple[int, str, bool]]) -> str:
    """The page text as HTML with each pair's evidence (n, needle, kept) marked and numbered; a span
    overlapping one already marked is left to the first."""
    spans = []
    for n, needle, kept in marks:
        span = find_span(needle, text)
        if span:
            spans.append((span[0], span[1], n, kept))
    out, at = [], 0
    for start, end, n, kept in sorted(spans):
        if start < at:
            continue
        css = "kept" if kept else "rejected"
        out.append(_esc(text[at:start]))
        out.append(f'<mark class="{css}" id="m{n}" title="pair {n}"><sup>{n}</sup>'
                   f"{_esc(text[start:end])}</mark>")  # fmt: skip
        at = end
    out.append(_esc(text[at:]))
    return "".join(out)


def _write_image(data: bytes, target: Path) -> bool:
    from PIL import Image

    try:
        with decoding_image("review image"), Image.open(io.BytesIO(data)) as image:
            image = image.convert("RGB")
            if image.width > IMAGE_WIDTH:
                image = image.resize((IMAGE_WIDTH, round(image.height * IMAGE_WIDTH / image.width)))
        image.save(target, "JPEG", quality=85)
    except ImageError:  # a page image that does not decode is shown as missing
        return False
    return True


def _pair_html(n: int, pair: ReviewPair, found: bool) -> str:
    css = "kept" if pair.kept else "rejected"
    where = f" · page {', '.join(map(str, pair.pages))}" if pair.pages else ""
    source = "evidence" if pair.evidence else "answer"
    located = (f'<a href="#m{n}">{source} marked in the page text</a>' if found
               else f"<span class=bad>{source} not found in the page text</span>")  # fmt: skip
    if not pair.question and not pair.answer:
        located = ""
    evidence = f'<div class="ev">evidence: {_esc(pair.evidence)}</div>' if pair.evidence else ""
    details = f'<div class="meta">{_esc(pair.details)}</div>' if pair.details else ""
    return (f'<li class="{css}" id="p{n}"><b>{n}.</b> <span class="q">{_esc(pair.question)}</span> → '
            f'<span class="a">{_esc(pair.answer)}</span><div class="meta"><b>{_esc(pair.reason)}'
            f"</b>{where} · {located}</div>{evidence}{details}</li>")  # fmt: skip


def _sample_html(index: int, sample: ReviewSample, images_dir: Path, prefix: str) -> str:
    kept = sum(p.kept for p in sample.pairs)
    status = f"dropped: {sample.dropped}" if sample.dropped else "kept"
    key = f"s{index:05d}"
    images = []
    for i, data in enumerate(sample.images):
        name = f"{key}-{i}.jpg"
        if _write_image(data, images_dir / name):
            images.append(f'<img src="{prefix}{name}" alt="page {i + 1} of {_esc(sample.record_id)}">')
        else:
            images.append(f"<p class=bad>page image {i + 1} does not decode</p>")
    texts, found = [], set()
    for number, text in sample.pages:
        marks = [(n, p.evidence or p.answer, p.kept) for n, p in enumerate(sample.pairs, 1)
                 if (p.evidence or p.answer) and (not p.pages or number in p.pages)]  # fmt: skip
        body = marked_text(text, marks)
        found.update(int(m) for m in re.findall(r'id="m(\d+)"', body))
        texts.append(f"<details open><summary>text of page {number}</summary><pre>{body}</pre></details>")
    pairs = "".join(_pair_html(n, p, n in found) for n, p in enumerate(sample.pairs, 1))
    return (f'<section class="sample" id="{key}"><h2>{_esc(sample.record_id)} <small>{status} · '
            f"{kept} kept, {len(sample.pairs) - kept} rejected</small></h2><div class=cols>"
            f'<div class=imgs>{"".join(images)}</div><div><ol class=pairs>{pairs or "<li>no pair</li>"}</ol>'
            f'{"".join(texts)}</div></div></section>')  # fmt: skip


STYLE = """
body{font-family:system-ui,sans-serif;margin:1.5em;color:#222}nav{margin:1em 0}nav a,nav b{margin-right:.5em}
.sample{border-top:2px solid #999;padding-top:.5em}.cols{display:grid;grid-template-columns:minmax(0,640px) 1fr;gap:1em}
.imgs img{width:100%;border:1px solid #ccc;margin-bottom:.5em}ol.pairs{padding-left:0;list-style:none}
li.kept{border-left:4px solid #2e7d32;padding-left:.4em;margin:.3em 0}
li.rejected{border-left:4px solid #c62828;padding-left:.4em;margin:.3em 0;color:#555}
.meta{font-size:12px;color:#555}.ev{font-size:12px;background:#fff8e1}.bad{color:#c62828}
pre{white-space:pre-wrap;font-size:12px;max-height:30em;overflow:auto;background:#fafafa;padding:.4em}
mark.kept{background:#c8e6c9}mark.rejected{background:#ffcdd2}mark sup{font-weight:bold;color:#000}
"""

# Counts images that loaded, so a headless browser's DOM dump tells whether the page rendered whole.
ONLOAD = """<script>window.addEventListener('load',function(){var i=[].slice.call(document.images);
document.body.dataset.imagesLoaded=i.filter(function(x){return x.complete&&x.naturalWidth>0}).length;
document.body.dataset.imagesTotal=i.length;});</script>"""


def _nav(page: int, pages: int) -> str:
    links = []
    if page > 1:
        links.append(f'<a href="page-{page - 1}.html" rel="prev">← previous</a>')
    for n in range(1, pages + 1):
        links.append(f"<b>{n}</b>" if n == page else f'<a href="page-{n}.html">{n}</a>')
    if page < pages:
        links.append(f'<a href="page-{page + 1}.html" rel="next">next →</a>')
    return f'<nav>{" ".join(links)} · <a href="../index.html">run report</a></nav>'


def write_qa_review(output: str | Path, report: str | Path, per_page: int = SAMPLES_PER_PAGE) -> dict:
    """Write REPORT/qa/page-N.html (N samples a page) and their images; returns the totals and the
    first page's path ({} when the run has no checked QA samples)."""
    output, folder = location(output), Path(report) / "qa"
    samples = list(review_samples(output))
    if not samples:
        return {}
    (folder / "img").mkdir(parents=True, exist_ok=True)
    pages = (len(samples) + per_page - 1) // per_page
    for page in range(1, pages + 1):
        chunk = samples[(page - 1) * per_page : page * per_page]
        body = "".join(
            _sample_html((page - 1) * per_page + i, s, folder / "img", "img/") for i, s in enumerate(chunk)
        )
        title = f"QA review {page}/{pages}: {_esc(output.name)}"
        nav = _nav(page, pages)
        (folder / f"page-{page}.html").write_text(
            f"<!doctype html><html><head><meta charset=utf-8><title>{title}</title><style>{STYLE}</style>"
            f"{ONLOAD}</head><body><h1>{title}</h1>{nav}{body}{nav}</body></html>",
            encoding="utf-8",
        )
    kept = sum(p.kept for s in samples for p in s.pairs)
    total = sum(len(s.pairs) for s in samples)
    return {"samples": len(samples), "pages": pages, "kept_pairs": kept, "rejected_pairs": total - kept,
            "first": folder / "page-1.html"}  # fmt: skip
