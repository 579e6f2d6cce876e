"""The HTML report of a run: the funnel, one histogram per score with its threshold, and the kept and
dropped samples nearest each threshold (thumbnail and text), so a person can judge the cuts.

`write_html_report(OUTPUT)` reads the run's folder (`funnel` from the stage logs, records from
`stages/*/data` and `stages/*/excluded`, thresholds from `stages/*/thresholds.json`) and writes
`OUTPUT/report/index.html` with PNG charts and JPEG thumbnails beside it. For PDF pages it adds the
text routing audit: per reason a page was sent to OCR, a few pages with their image, the text layer and
the OCR side by side, which one was kept, and the signals behind the decision. For a run with QA pairs it
links the review pages of curate/run/report_qa.py (`OUTPUT/report/qa/page-N.html`).
"""

from __future__ import annotations

import html
import io
import json
from dataclasses import dataclass, field, replace
from pathlib import Path

import pyarrow.parquet as pq

from curate.errors import ImageError, decoding_image
from curate.location import is_url, location
from curate.run.report import StageFunnel, run_funnel
from curate.run.report_qa import write_qa_review

THUMB_SIDE = 160
TEXT_CHARS = 400
PAGE_SIDE = 420  # routing audit: a page image large enough to read its lines
AUDIT_TEXT_CHARS = 1500


@dataclass
class ScoredRow:
    """One record's score, where it is stored, and what happened to it."""

    value: float
    kept: bool
    record_id: str
    text: str
    reason: str
    file: Path
    row: int


@dataclass
class ScoreSection:
    stage: str
    score: str
    rows: list[ScoredRow] = field(default_factory=list)
    minimum: float | None = None
    maximum: float | None = None
    rule: str = ""

    @property
    def threshold(self) -> float | None:
        return self.minimum if self.minimum is not None else self.maximum


def _stage_order(output: Path) -> list[str]:
    info = output / "run.json"
    if info.exists():
        return json.loads(info.read_text())["stages"]
    return sorted(p.name for p in (output / "stages").iterdir() if p.is_dir())


def _read_rows(folder: Path, kept: bool) -> list[tuple[dict, ScoredRow]]:
    out = []
    for path in sorted(folder.glob("*.parquet")):
        with path.open("rb") as f:  # a Path or, for an s3:// output, a UPath
            table = pq.read_table(f, columns=["id", "text", "metadata"]).to_pylist()
        for i, row in enumerate(table):
            meta = json.loads(row["metadata"] or "{}")
            text = row["text"] or ""
            reason = meta.get("filter_reason", "")
            out.append((meta, ScoredRow(0.0, kept, row["id"], text, reason, path, i)))
    return out


def score_sections(output: Path, stages: list[str]) -> list[ScoreSection]:
    """Per stage, one section per score it thresholds (thresholds.json) or dropped records by;
    scores no stage claims get a section from the last stage's records, without a threshold."""
    sections, claimed = [], set()
    last_rows: list[tuple[dict, ScoredRow]] = []
    for stage in stages:
        stage_dir = output / "stages" / stage
        if not stage_dir.is_dir():
            continue
        rows = _read_rows(stage_dir / "data", True) + _read_rows(stage_dir / "excluded", False)
        last_rows = [r for r in rows if r[1].kept]
        thresholds_file = stage_dir / "thresholds.json"
        thresholds = json.loads(thresholds_file.read_text()) if thresholds_file.exists() else {}
        names = list(thresholds) or sorted(
            {k for meta, r in rows if not r.kept for k in meta.get("scores", {})} - claimed
        )
        for name in names:
            applied = thresholds.get(name, {})
            section = ScoreSection(stage, name, minimum=applied.get("min"), maximum=applied.get("max"))
            section.rule = applied.get("rule", "")
            for meta, row in rows:
                value = meta.get("scores", {}).get(name)
                if value is not None:
                    section.rows.append(replace(row, value=float(value)))
            if section.rows:
                sections.append(section)
                claimed.add(name)
    unclaimed = sorted({k for meta, _ in last_rows for k in meta.get("scores", {})} - claimed)
    for name in unclaimed:
        section = ScoreSection(stages[-1], name, rule="not thresholded in this run")
        for meta, row in last_rows:
            section.rows.append(replace(row, value=float(meta["scores"][name])))
        sections.append(section)
    return sections


# ---- charts ---------------------------------------------------------------------------------------


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def funnel_chart(funnels: list[StageFunnel], path: Path) -> None:
    plt = _pyplot()
    names = [f.stage for f in funnels]
    kept = [f.kept for f in funnels]
    dropped = [f.dropped_total for f in funnels]
    errored = [f.errored_total for f in funnels]
    fig, ax = plt.subplots(figsize=(8, 0.6 * len(funnels) + 1.5))
    y = range(len(funnels))
    ax.barh(y, kept, color="#2e7d32", label="kept")
    ax.barh(y, dropped, left=kept, color="#f9a825", label="dropped")
    ax.barh(
        y, errored, left=[k + d for k, d in zip(kept, dropped, strict=True)], color="#c62828", label="errored"
    )
    ax.set_yticks(list(y), names)
    ax.invert_yaxis()
    ax.set_xlabel("records")
    ax.set_title("Funnel: records in per stage = kept + dropped + errored")
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def histogram_chart(section: ScoreSection, path: Path) -> None:
    plt = _pyplot()
    kept = [r.value for r in section.rows if r.kept]
    dropped = [r.value for r in section.rows if not r.kept]
    fig, ax = plt.subplots(figsize=(8, 3.5))
    values = kept + dropped
    bins = 40
    if (
        min(values) > 0 and max(values) / min(values) > 100
    ):  # e.g. perplexity: a long tail reads better in log
        import numpy as np

        bins = np.geomspace(min(values), max(values), 41)
        ax.set_xscale("log")
    ax.hist([kept, dropped], bins=bins, stacked=True, color=["#2e7d32", "#f9a825"], label=["kept", "dropped"])
    if section.threshold is not None:
        side = "min" if section.minimum is not None else "max"
        ax.axvline(section.threshold, color="#c62828", linestyle="--", linewidth=2)
        ax.annotate(
            f"{side} {section.threshold:.4g}",
            (section.threshold, 1),
            xycoords=("data", "axes fraction"),
            xytext=(4, -14),
            textcoords="offset points",
            color="#c62828",
        )
    ax.set_xlabel(section.score)
    ax.set_ylabel("records")
    ax.set_title(f"{section.score} ({section.stage}): {len(kept)} kept, {len(dropped)} dropped")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


# ---- examples -------------------------------------------------------------------------------------


def near_threshold(section: ScoreSection, kept: bool, n: int) -> list[ScoredRow]:
    """The n kept (or dropped) records closest to the threshold; without one, the extremes."""
    rows = [r for r in section.rows if r.kept == kept]
    if section.threshold is not None:
        return sorted(rows, key=lambda r: abs(r.value - section.threshold))[:n]
    return sorted(rows, key=lambda r: r.value, reverse=not kept)[:n]


def thumbnail(row: ScoredRow, target: Path, cache: dict, side: int = THUMB_SIDE) -> bool:
    """Save the record's first image as a small JPEG; False when it has none or it does not decode."""
    from PIL import Image

    if row.file not in cache:
        with row.file.open("rb") as f:
            cache[row.file] = pq.read_table(f, columns=["media"]).column("media")
    media = cache[row.file][row.row].as_py() or []
    data = next((m["media_bytes"] for m in media if m.get("media_bytes")), None)
    if not data:
        return False
    try:
        with decoding_image("thumbnail"), Image.open(io.BytesIO(data)) as image:
            image = image.convert("RGB")
            image.thumbnail((side, side))
        image.save(target, "JPEG", quality=85)
    except ImageError:  # a record image that does not decode gets no thumbnail
        return False
    return True


# ---- page -----------------------------------------------------------------------------------------

STYLE = """
body{font-family:system-ui,sans-serif;margin:2em;max-width:1100px;color:#222}
table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}
th{background:#f3f3f3}td.l,th.l{text-align:left}.ok{color:#2e7d32}.bad{color:#c62828}
.examples{display:grid;grid-template-columns:1fr 1fr;gap:1em}.ex{display:flex;gap:.6em;margin:.5em 0;
border-bottom:1px solid #eee;padding-bottom:.5em}.ex img{width:auto;max-width:160px;max-height:160px}
.ex pre{white-space:pre-wrap;font-size:12px;margin:0;max-height:9em;overflow:hidden}.meta{font-size:12px;color:#555}
.route{display:grid;grid-template-columns:auto 1fr 1fr;gap:.6em;margin:.8em 0;border-bottom:1px solid #eee;
padding-bottom:.8em}.route img{max-width:420px;border:1px solid #ccc}.route pre{white-space:pre-wrap;
font-size:11px;margin:0;max-height:30em;overflow:auto;background:#fafafa;padding:4px}.kept{outline:2px solid #2e7d32}
"""

# Counts images that loaded, so a headless browser's DOM dump tells whether the page rendered whole.
ONLOAD = """<script>window.addEventListener('load',function(){var i=[].slice.call(document.images);
document.body.dataset.imagesLoaded=i.filter(function(x){return x.complete&&x.naturalWidth>0}).length;
document.body.dataset.imagesTotal=i.length;});</script>"""


def _funnel_table(funnels: list[StageFunnel]) -> str:
    rows = []
    for f in funnels:
        check = '<span class="ok">ok</span>' if f.balanced else '<span class="bad">MISMATCH</span>'
        reasons = ", ".join(f"{k}: {v}" for k, v in sorted(f.dropped.items(), key=lambda kv: -kv[1]))
        errors = ", ".join(f"{k}: {v}" for k, v in sorted(f.errored.items(), key=lambda kv: -kv[1]))
        rows.append(
            f"<tr><td class=l>{html.escape(f.stage)}</td><td>{f.records_in}</td><td>{f.kept}</td>"
            f"<td>{f.dropped_total}</td><td>{f.errored_total}</td><td>{f.seconds:.1f}</td><td>{f.per_second:.3g}</td><td>{check}</td>"
            f"<td class=l>{html.escape(reasons)}</td><td class=l>{html.escape(errors)}</td></tr>"
        )
    head = "<tr><th class=l>stage</th><th>in</th><th>kept</th><th>dropped</th><th>errored</th>"
    head += "<th>seconds</th><th>rec/s</th><th>check</th><th class=l>dropped by reason</th><th class=l>errors</th></tr>"
    return f"<table>{head}{''.join(rows)}</table>"


def _example_html(row: ScoredRow, thumb: str | None) -> str:
    image = f'<img src="{thumb}" alt="">' if thumb else ""
    text = html.escape(row.text[:TEXT_CHARS] + (" …" if len(row.text) > TEXT_CHARS else ""))
    reason = f" · {html.escape(row.reason)}" if row.reason else ""
    return (
        f'<div class="ex">{image}<div><div class="meta"><b>{row.value:.4g}</b> · {html.escape(row.record_id)}'
        f"{reason}</div><pre>{text}</pre></div></div>"
    )


# ---- PDF text routing audit ----------------------------------------------------------------------


@dataclass
class RoutedPage:
    """A PDF page record: why it was (or was not) OCRed, and both texts where OCR ran."""

    record_id: str
    reason: str  # ocr_reason, or "kept without OCR"
    source: str  # text_source: text_layer, ocr, none
    layer: str | None
    ocr: str | None
    signals: dict
    file: Path
    row: int


def routed_pages(output: Path, stages: list[str]) -> list[RoutedPage]:
    """The PDF page records of the first stage that made them (kept ones: the stage's data)."""
    for stage in stages:
        pages = []
        for meta, row in _read_rows(output / "stages" / stage / "data", True):
            if meta.get("kind") != "page" or "text_source" not in meta:
                continue
            source, other = meta["text_source"], meta.get("other_text")
            ran = other is not None
            layer = row.text if source == "text_layer" else (other if ran else None)
            ocr = (other if source == "text_layer" else row.text) if ran else None
            reason = meta.get("ocr_reason") or "kept without OCR"
            pages.append(
                RoutedPage(
                    row.record_id,
                    reason,
                    source,
                    layer,
                    ocr,
                    meta.get("routing_signals") or {},
                    row.file,
                    row.row,
                )  # fmt: skip
            )
        if pages:
            return pages
    return []


def _clip(text: str | None, chars: int = AUDIT_TEXT_CHARS) -> str:
    if text is None:
        return "(not run)"
    text = text.strip() or "(empty)"
    return html.escape(text[:chars] + (" …" if len(text) > chars else ""))


def _routed_html(page: RoutedPage, image: str | None) -> str:
    picture = f'<img src="{image}" alt="page image">' if image else "<div>(no image)</div>"
    signals = ", ".join(f"{k} {v}" for k, v in page.signals.items())
    kept_layer = ' class="kept"' if page.source == "text_layer" else ""
    kept_ocr = ' class="kept"' if page.source == "ocr" else ""
    return (
        f'<div class="meta"><b>{html.escape(page.record_id)}</b> · kept: {html.escape(page.source)}'
        f"{' · ' + html.escape(signals) if signals else ''}</div>"
        f'<div class="route">{picture}<div><h4>text layer</h4><pre{kept_layer}>{_clip(page.layer)}</pre></div>'
        f"<div><h4>OCR</h4><pre{kept_ocr}>{_clip(page.ocr)}</pre></div></div>"
    )


def routing_section(pages: list[RoutedPage], report: Path, examples: int, cache: dict) -> str:
    """Per routing reason: how many pages, which text was kept, and a few pages with image and texts."""
    from collections import Counter

    by_reason: dict[str, list[RoutedPage]] = {}
    for page in pages:
        by_reason.setdefault(page.reason, []).append(page)
    rows = []
    for reason, group in sorted(by_reason.items(), key=lambda kv: (kv[0] == "kept without OCR", -len(kv[1]))):
        kept = Counter(p.source for p in group)
        rows.append(
            f"<tr><td class=l>{html.escape(reason)}</td><td>{len(group)}</td>"
            f"<td class=l>{html.escape(', '.join(f'{k}: {v}' for k, v in sorted(kept.items())))}</td></tr>"
        )
    parts = [
        "<h2>PDF text routing</h2>",
        "<p>Why pages were sent to OCR, and which text was kept: the text layer when the page's ink, as OCR "
        "reads it, confirms the layer's words; else the OCR. The kept text is outlined in green.</p>",
        "<table><tr><th class=l>reason</th><th>pages</th><th class=l>text kept</th></tr>"
        + "".join(rows) + "</table>",
    ]  # fmt: skip
    (report / "pages").mkdir(exist_ok=True)
    for n, (reason, group) in enumerate(sorted(by_reason.items())):
        if reason == "kept without OCR":
            continue
        parts.append(f"<h3>{html.escape(reason)} <small>({len(group)} pages)</small></h3>")
        for i, page in enumerate(group[:examples]):
            target = f"pages/{n:02d}-{i}.jpg"
            row = ScoredRow(0.0, True, page.record_id, "", "", page.file, page.row)
            shown = thumbnail(row, report / target, cache, side=PAGE_SIDE)
            parts.append(_routed_html(page, target if shown else None))
    return "".join(parts)


def report_folder(output: str | Path) -> Path:
    """Where the HTML report goes by default: OUTPUT/report for a local output; for an object-store
    output (read where it is), a local folder named after it, since a browser opens local files."""
    if is_url(output):
        return Path("curate-report") / str(output).split("://", 1)[1].strip("/").replace("/", "-")
    return Path(output) / "report"


def write_html_report(output: str | Path, examples: int = 3, report: str | Path | None = None) -> Path:
    """Write REPORT/index.html (+ charts/*.png, thumbs/*.jpg; REPORT is `report_folder(output)` unless
    given); returns the page's path."""
    report = Path(report) if report else report_folder(output)
    output = location(output)
    stages = _stage_order(output)
    funnels = run_funnel(output, stages)
    (report / "charts").mkdir(parents=True, exist_ok=True)
    (report / "thumbs").mkdir(parents=True, exist_ok=True)
    parts = [f"<h1>curate run: {html.escape(output.name)}</h1>"]
    if funnels:
        funnel_chart(funnels, report / "charts" / "funnel.png")
        parts += ["<h2>Funnel</h2>", '<img src="charts/funnel.png" alt="funnel">', _funnel_table(funnels)]
    review = write_qa_review(output, report)
    if review:
        parts.append(
            f'<h2>QA pairs</h2><p><a href="qa/page-1.html">Review every sample\'s pairs</a> beside its page '
            f"images: {review['samples']} samples, {review['kept_pairs']} kept pairs, {review['rejected_pairs']} "
            f"rejected, on {review['pages']} page(s).</p>"
        )
    media_cache: dict = {}
    for n, section in enumerate(score_sections(output, stages)):
        chart = f"charts/{n:02d}-{section.stage}-{section.score}.png"
        histogram_chart(section, report / chart)
        where = f" — threshold {section.threshold:.4g}" if section.threshold is not None else ""
        parts.append(
            f"<h2>{html.escape(section.score)} <small>({html.escape(section.stage)}){where}</small></h2>"
        )
        parts.append(f'<p>{html.escape(section.rule)}</p><img src="{chart}" alt="{section.score} histogram">')
        columns = []
        for kept in (True, False):
            cells = []
            for i, row in enumerate(near_threshold(section, kept, examples)):
                thumb = f"thumbs/{n:02d}-{'kept' if kept else 'dropped'}-{i}.jpg"
                cells.append(
                    _example_html(row, thumb if thumbnail(row, report / thumb, media_cache) else None)
                )
            title = "kept" if kept else "dropped"
            label = f"{title}, nearest the threshold" if section.threshold is not None else title
            columns.append(f"<div><h3>{label}</h3>{''.join(cells) or '<p>none</p>'}</div>")
        parts.append(f'<div class="examples">{"".join(columns)}</div>')
    routed = routed_pages(output, stages)
    if routed:
        parts.append(routing_section(routed, report, examples, media_cache))
    page = (
        f"<!doctype html><html><head><meta charset=utf-8><title>curate report: {html.escape(output.name)}</title>"
        f"<style>{STYLE}</style>{ONLOAD}</head><body>{''.join(parts)}</body></html>"
    )
    path = report / "index.html"
    path.write_text(page, encoding="utf-8")
    return path
