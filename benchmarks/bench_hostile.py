"""Stress: hostile inputs at full size, each run in a child process; prints what was recorded, the peak
RSS and the wall time, next to a benign input of the same kind measured in the same run.

    python -m benchmarks hostile        (or `make stress`)

Before the limits (issue 14): the WARC gzip bombs passed 4 GiB RSS within 10 s, the 200 MB page took
3.7 GiB, a slow page rendered 685 s, a drip image held 135 s, a silent LLM held 900 s x 5 tries, a reply
without `choices` ended the run, and `inspect --save-images` wrote outside its folder.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("CURATE_SHARED_DATA", REPO.parent / "shared" / "data"))
HOSTILE = REPO / "tests" / "hostile"
PYTHON = sys.executable


def _cli_case(work: Path, name: str, build, recipe: str, stage: str, *sets: str) -> dict:
    from curate.run.report import error_lines, run_funnel

    folder = work / name / "in"
    folder.mkdir(parents=True)
    build(folder)
    out = work / name / "out"
    args = ["run", recipe, "--input", str(folder), "--output", str(out), "--stage", stage]
    for option in sets:
        args += ["--set", option]
    result = _measure([PYTHON, "-m", "curate.cli", *args])
    errors = [f"{e['reason']}" for e in error_lines(out, stage)]
    funnel = run_funnel(out, [stage])
    kept = funnel[0].kept + funnel[0].dropped_total if funnel else 0
    return {**result, "errors": errors, "others": f"{kept} other record(s) read"}


def _runner_case(work: Path, case: str) -> dict:
    result = _measure([PYTHON, str(HOSTILE / "hostile_runner.py"), case, str(work / case)])
    lines = result["stdout"].strip().splitlines()
    data = json.loads(lines[-1]) if result["returncode"] == 0 and lines else {"errors": [], "kept": []}
    return {
        **result,
        "errors": [e["reason"] for e in data["errors"]],
        "others": f"{len(data['kept'])} other record(s) kept",
    }


def _measure(command: list[str]) -> dict:
    import hostile_inputs

    return hostile_inputs.measure(command, timeout=600)


def _inspect_case(work: Path) -> dict:
    sys.path.insert(0, str(HOSTILE))
    from test_hostile import _hostile_shard

    outside = work / "inspect" / "outside"
    outside.mkdir(parents=True)
    shard = work / "inspect" / "shard.tar"
    _hostile_shard(shard, outside)
    save = work / "inspect" / "saved"
    result = _measure(
        [PYTHON, "-m", "curate.cli", "inspect", str(shard), "-n", "10", "--save-images", str(save)]
    )
    escaped = [p for p in (work / "inspect").rglob("*") if p.is_file() and p != shard and p.parent != save]
    saved = len(list(save.iterdir())) if save.exists() else 0
    reason = f"{saved} images saved inside DIR, {len(escaped)} outside"
    return {**result, "errors": [reason] if not escaped else [], "others": ""}


# what the same input did before the limits (issue 14's measurements)
BEFORE = {
    "WARC Content-Encoding gzip 1.2 GB": ">4 GiB in 10 s",
    "WARC gzip member 1.2 GB": ">4 GiB in 10 s",
    "WARC 200 MB HTML payload": "3.7 GiB",
    ".html.gz bomb 1.2 GB": "read whole",
    "PDF page rendering for minutes (5 s cap)": "685 s, not stopped",
    "image: 1 byte/s drip (3 s deadline)": "135 s+ (timeout 10)",
    "image: gzip 1.2 MB -> 1.2 GB": "capped once decoded",
    "image: redirect to a robots.txt-denied": "target fetched",
    "image: DNS rebinding to 127.0.0.1": "GET reached host",
    "LLM: accepts, never answers (3 s)": "900 s x 5, silent",
    "LLM: JSON without choices": "run ended (KeyError)",
    "inspect: keys with ../ and /abs": "wrote outside DIR",
}


def _line(name: str, status: str, rss: float, baseline_rss: float, wall: float, reason: str = "") -> str:
    return (
        f"{name:<41}{status:>4} {rss:>6.0f} MB {rss / baseline_rss:>4.1f}x {wall:>6.1f} s  "
        f"{BEFORE.get(name, ''):<21} {reason[:90]}"
    )


def _row(name: str, result: dict, expect: str, baseline_rss: float) -> str:
    recorded = next((e for e in result["errors"] if expect in e), None)
    status = "yes" if recorded and result["returncode"] == 0 else "NO"
    reason = " ".join((recorded or (result["errors"] or [result["stderr"][-200:]])[0]).split())
    return _line(name, status, result["rss_mb"], baseline_rss, result["wall_s"], reason)


def main() -> None:
    sys.path.insert(0, str(HOSTILE))
    import hostile_inputs as hostile

    with tempfile.TemporaryDirectory(prefix="curate-stress-") as tmp:
        work = Path(tmp)
        print(
            f"{'hostile input':<41}{'rec.':>4} {'peak RSS':>9} {'/base':>5} {'wall':>8}  "
            f"{'before':<21} recorded reason"
        )
        # baselines: the same runs on benign inputs
        base_web = _cli_case(
            work,
            "base-web",
            lambda d: (d / "good.warc.gz").write_bytes(hostile.gzip_member(hostile.good_record())),
            "interleaved",
            "extract",
        )
        base = base_web["rss_mb"]
        print(_line("(baseline: a good WARC page, CLI run)", "-", base, base, base_web["wall_s"]))
        web_cases = [
            (
                "WARC Content-Encoding gzip 1.2 GB",
                hostile.warc_content_encoding_bomb,
                "ce.warc.gz",
                "Content-Encoding",
            ),
            ("WARC gzip member 1.2 GB", hostile.warc_member_bomb, "member.warc.gz", "max_record_bytes"),
            ("WARC 200 MB HTML payload", hostile.warc_huge_html, "huge.warc", "max_record_bytes"),
            (".html.gz bomb 1.2 GB", hostile.html_gz_bomb, "bomb.html.gz", "max_html_bytes"),
        ]
        for name, build, filename, expect in web_cases:
            result = _cli_case(
                work, filename, lambda d, b=build, f=filename: b(d / f), "interleaved", "extract"
            )
            print(_row(name, result, expect, base))
        pdfs = SHARED / "pdf" / "born_digital" / "multi_page.pdf"
        if pdfs.exists():
            base_pdf = _cli_case(
                work, "base-pdf", lambda d: (d / "b.pdf").write_bytes(pdfs.read_bytes()), "pdf-pages", "pages",
                "ocr=false",
            )  # fmt: skip
            print(
                _line("(baseline: a 5-page PDF, CLI run)", "-", base_pdf["rss_mb"], base, base_pdf["wall_s"])
            )
        result = _cli_case(
            work, "slow-pdf", lambda d: hostile.slow_pdf(d / "slow.pdf", depth=7), "pdf-pages", "pages",
            "max_seconds_per_page=5", "ocr=false",
        )  # fmt: skip
        print(_row("PDF page rendering for minutes (5 s cap)", result, "time_limit", base))
        for name, case, expect in (
            ("image: 1 byte/s drip (3 s deadline)", "fetch-drip", "fetch_deadline"),
            ("image: gzip 1.2 MB -> 1.2 GB", "fetch-gzip-bomb", "too_large"),
            ("image: redirect to a robots.txt-denied", "fetch-robots-redirect", "robots_txt"),
            ("image: DNS rebinding to 127.0.0.1", "fetch-rebinding", "no request reached"),
            ("LLM: accepts, never answers (3 s)", "llm-silent", "llm_deadline"),
            ("LLM: JSON without choices", "llm-no-choices", "BadResponse"),
        ):
            print(_row(name, _runner_case(work, case), expect, base))
        print(_row("inspect: keys with ../ and /abs", _inspect_case(work), "inside DIR, 0 outside", base))
        load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
        print(f"(peak RSS: the child process and the processes it waited for; load average {load})")


if __name__ == "__main__":
    main()
