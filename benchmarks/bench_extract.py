"""Main-content extraction quality and speed on hand-labelled news and blog pages, ours vs trafilatura
(and jusText / readability-lxml when installed), all measured in the same run.

Data: the ScrapingHub article-extraction-benchmark (https://github.com/scrapinghub/article-extraction-benchmark,
MIT licence): 181 real article pages (html/*.html.gz) with a hand-checked `articleBody` each
(ground-truth.json). It is not committed here; the bench looks for a checkout of that repository in
$CURATE_ARTICLE_BENCH, ../shared/data/article-extraction-benchmark, or ~/.cache/curate/article-extraction-benchmark,
and skips, saying how to get it, where none is found.

Ours is scored on its article body: its text blocks without the headline (its first block when that is a
heading) and without figure captions, which `articleBody` leaves out by definition; the full text blocks
(headline and captions included) and the blocks before the classifier are scored too, on the same pages.

Metric (the benchmark's own definition): each text is split into \\w+ tokens and 4-token shingles; per page
true/false positives and false negatives are counted over shingle multisets and normalised by their sum, so
long pages weigh no more than short ones; precision and recall are the means over pages, F1 their harmonic
mean. Split: pages whose key (a sha256 hex digest) is even were used to tune our extractor; the odd ones
are held out, and the held-out figures are the ones to quote.

Speed: documents per second from the raw page bytes (each tool decodes them itself), one core, best of
BENCH_EXTRACT_ROUNDS rounds (default 2), the rounds interleaved so every tool sees the same machine load.
"""

from __future__ import annotations

import gzip
import json
import os
import re
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROUNDS = int(os.environ.get("BENCH_EXTRACT_ROUNDS", 2))
_HERE = Path(__file__).resolve().parents[1]
CANDIDATES = [
    os.environ.get("CURATE_ARTICLE_BENCH", ""),
    _HERE.parent / "shared" / "data" / "article-extraction-benchmark",
    Path.home() / ".cache" / "curate" / "article-extraction-benchmark",
]
_TOKEN = re.compile(r"\w+")


@dataclass
class LabelledPage:
    key: str
    url: str
    html: bytes
    truth: str

    @property
    def held_out(self) -> bool:
        return int(self.key, 16) % 2 == 1


def find_dataset() -> Path | None:
    for candidate in CANDIDATES:
        if candidate and (Path(candidate) / "ground-truth.json").is_file():
            return Path(candidate)
    return None


def load_pages(folder: Path) -> list[LabelledPage]:
    truth = json.loads((folder / "ground-truth.json").read_text(encoding="utf-8"))
    pages = []
    for key, item in sorted(truth.items()):
        html = gzip.decompress((folder / "html" / f"{key}.html.gz").read_bytes())
        pages.append(LabelledPage(key, item.get("url") or "", html, item.get("articleBody") or ""))
    return pages


# ---- the metric -------------------------------------------------------------------------------


def _shingles(text: str, n: int = 4) -> Counter:
    tokens = _TOKEN.findall(text or "")
    if len(tokens) < n:
        return Counter([tuple(tokens)]) if tokens else Counter()
    return Counter(tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1))


def shingle_counts(truth: str, prediction: str) -> tuple[float, float, float]:
    """(tp, fp, fn) over 4-token shingles, normalised to sum to 1 (all zero when both texts are empty)."""
    true, pred = _shingles(truth), _shingles(prediction)
    tp = sum((true & pred).values())
    fp = sum((pred - true).values())
    fn = sum((true - pred).values())
    total = tp + fp + fn
    return (tp / total, fp / total, fn / total) if total else (0.0, 0.0, 0.0)


def scores(counts: list[tuple[float, float, float]]) -> tuple[float, float, float]:
    """(F1, precision, recall): precision and recall averaged over pages, F1 of the two means."""

    def ratio(tp: float, other: float, rest: float) -> float:
        if other == rest == 0:
            return 1.0
        return tp / (tp + other) if tp + other else 0.0

    precisions = [ratio(tp, fp, fn) for tp, fp, fn in counts if tp + fp > 0]
    recalls = [ratio(tp, fn, fp) for tp, fp, fn in counts if tp + fn > 0]
    precision = sum(precisions) / max(1, len(precisions))
    recall = sum(recalls) / max(1, len(recalls))
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return f1, precision, recall


# ---- the extractors ---------------------------------------------------------------------------


HEADINGS = ("h1", "h2", "h3")


def _ours(page: LabelledPage) -> str:
    """Our article body: the text blocks without the headline and figure captions, as `articleBody` is
    defined (the headline and captions stay in our documents: the headline first, a caption after its image)."""
    from curate.web.extract import TextBlock, extract_page

    blocks = [i for i in extract_page(page.html, page.url).items if isinstance(i, TextBlock)]
    if blocks and blocks[0].tag in HEADINGS:
        blocks = blocks[1:]
    return "\n".join(b.text for b in blocks if b.tag != "figcaption")


def _ours_all_blocks(page: LabelledPage) -> str:
    from curate.web.extract import extract_page

    return "\n".join(extract_page(page.html, page.url).text_blocks)


def _ours_before(page: LabelledPage) -> str:
    """Every block left by the tag/class clean-up, without the block classifier (the previous extractor)."""
    from curate.web.extract import extract_page

    return "\n".join(extract_page(page.html, page.url, main_content=False).text_blocks)


def _trafilatura(page: LabelledPage) -> str:
    import trafilatura

    return trafilatura.extract(page.html, url=page.url, include_comments=False) or ""


def _justext(page: LabelledPage) -> str:
    import justext

    paragraphs = justext.justext(page.html, justext.get_stoplist("English"))
    return "\n".join(p.text for p in paragraphs if not p.is_boilerplate)


def _readability(page: LabelledPage) -> str:
    import lxml.html
    from readability import Document

    summary = Document(page.html).summary(html_partial=True)
    return lxml.html.fromstring(summary).text_content() if summary.strip() else ""


def extractors() -> dict[str, Callable[[LabelledPage], str]]:
    import importlib.util

    found = {"curate extract_page": _ours, "trafilatura": _trafilatura}
    if importlib.util.find_spec("justext"):
        found["jusText"] = _justext
    if importlib.util.find_spec("readability"):
        found["readability-lxml"] = _readability
    return found


def run(pages: list[LabelledPage]) -> dict[str, tuple[list[str], float]]:
    """Each extractor's outputs and its best docs/s over ROUNDS interleaved rounds."""
    outputs: dict[str, list[str]] = {}
    speed: dict[str, float] = {}
    for _ in range(ROUNDS):
        for name, extract in extractors().items():
            started = time.perf_counter()
            texts = []
            for page in pages:
                try:
                    texts.append(extract(page))
                except Exception:  # a tool that fails on a page scores nothing for it
                    texts.append("")
            rate = len(pages) / (time.perf_counter() - started)
            outputs[name], speed[name] = texts, max(speed.get(name, 0.0), rate)
    return {name: (outputs[name], speed[name]) for name in outputs}


def main() -> None:
    folder = find_dataset()
    if folder is None:
        print(
            "skipped: the ScrapingHub article-extraction-benchmark was not found; clone "
            "https://github.com/scrapinghub/article-extraction-benchmark and set CURATE_ARTICLE_BENCH to it"
        )
        return
    import logging

    logging.getLogger("trafilatura").setLevel(logging.CRITICAL)
    logging.getLogger("readability").setLevel(logging.CRITICAL)
    pages = load_pages(folder)
    results = run(pages)
    held = [i for i, p in enumerate(pages) if p.held_out]
    tuned = [i for i, p in enumerate(pages) if not p.held_out]
    base_speed = results["trafilatura"][1]
    print(f"{len(pages)} labelled article pages ({folder}); token-shingle (4-gram) F1 / precision / recall")
    print(
        f"{'':22} {'held-out (' + str(len(held)) + ')':>22} {'tuning (' + str(len(tuned)) + ')':>22} {'docs/s':>8}"
    )
    for name, (texts, rate) in results.items():
        cells = []
        for subset in (held, tuned):
            f1, p, r = scores([shingle_counts(pages[i].truth, texts[i]) for i in subset])
            cells.append(f"{f1:.3f} {p:.3f} {r:.3f}")
        print(f"{name:22} {cells[0]:>22} {cells[1]:>22} {rate:8.1f}  ({rate / base_speed:.2f}x trafilatura)")
    for name, extract in (
        ("  (all text blocks)", _ours_all_blocks),
        ("  (no block classifier)", _ours_before),
    ):  # quality only: same extraction
        texts = [extract(p) for p in pages]
        cells = []
        for subset in (held, tuned):
            f1, p, r = scores([shingle_counts(pages[i].truth, texts[i]) for i in subset])
            cells.append(f"{f1:.3f} {p:.3f} {r:.3f}")
        print(f"{name:22} {cells[0]:>22} {cells[1]:>22}")
    ours_f1 = scores([shingle_counts(pages[i].truth, results["curate extract_page"][0][i]) for i in held])[0]
    base_f1 = scores([shingle_counts(pages[i].truth, results["trafilatura"][0][i]) for i in held])[0]
    ratio = results["curate extract_page"][1] / base_speed
    print(
        f"held-out F1 ours - trafilatura: {ours_f1 - base_f1:+.3f} (goal >= 0); speed ratio {ratio:.2f}x (goal >= 3x)"
    )


if __name__ == "__main__":
    main()
