"""Stress: hostile inputs at full size, each run in a child process; prints what was recorded, the peak
RSS and the wall time, next to a benign input of the same kind measured in the same run.

    python -m benchmarks hostile        (or `make stress`)

Before the limits (issue 14): the WARC gzip bombs passed 4 GiB RSS within 10 s, the 200 MB page took
3.7 GiB, a slow page rendered 685 s, a drip image held 135 s, a silent LLM held 900 s x 5 tries, a reply
without `choices` ended the run, and `inspect --save-images` wrote outside its folder. Second round
(issue 25): a lying WARC Content-Length before a 1.2 GB line passed 4 GiB in 74 s, a 417-byte YAML alias
bomb 4 GiB in 105 s, `push --dry-run` listed 618 MB through a link to /, and two of three racing runs
held the output lock in 21 of 300 trials.
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
    "WARC lying Content-Length, 1.2 GB line": ">4 GiB in 74 s",
    "--config YAML alias bomb (9 levels)": ">4 GiB in 105 s",
    "push --dry-run: a link to / in parquet/": "listed 618 MB",
    "lock: 3 processes at once, 300 trials": "2 holders in 21",
}


def _line(name: str, status: str, rss: float, baseline_rss: float, wall: float, reason: str = "") -> str:
    return (
        f"{name:<41}{status:>4} {rss:>6.0f} MB {rss / baseline_rss:>4.1f}x {wall:>6.1f} s  "
        f"{BEFORE.get(name, ''):<21} {reason[:90]}"
    )


def _row(name: str, result: dict, expect: str, baseline_rss: float, refused: bool = False) -> str:
    """`refused`: the command must fail with `expect` in its message (a config, a push) instead of
    recording an error and finishing."""
    recorded = next((e for e in result["errors"] if expect in e), None)
    finished = result["returncode"] != 0 if refused else result["returncode"] == 0
    status = "yes" if recorded and finished else "NO"
    reason = " ".join((recorded or (result["errors"] or [result["stderr"][-200:]])[0]).split())
    return _line(name, status, result["rss_mb"], baseline_rss, result["wall_s"], reason)


def _refused_case(command: list[str]) -> dict:
    result = _measure(command)
    return {**result, "errors": [line for line in result["stderr"].splitlines() if line.strip()][-1:]}


def _config_bomb_case(work: Path) -> dict:
    import hostile_inputs as hostile

    folder = work / "config-bomb"
    (folder / "in").mkdir(parents=True)
    bomb = hostile.yaml_alias_bomb(folder / "bomb.yaml", levels=9)
    return _refused_case([
        PYTHON, "-m", "curate.cli", "run", "pdf-pages", "--input", str(folder / "in"),
        "--output", str(folder / "out"), "--config", str(bomb),
    ])  # fmt: skip


def _push_link_case(work: Path) -> dict:
    from test_push_links import fake_output

    out = fake_output(work / "push-link" / "out")
    (out / "parquet" / "everything").symlink_to("/")
    return _refused_case([PYTHON, "-m", "curate.cli", "push", str(out), "--repo", "org/x", "--dry-run"])


def _lock_case(work: Path, trials: int = 300) -> dict:
    import time

    from test_lock_race import race

    folder = work / "lock-race"
    folder.mkdir()
    started = time.monotonic()
    holders = race(folder, trials=trials, method="auto", step=0.05)
    wall = time.monotonic() - started
    twice = sum(h > 1 for h in holders)
    reason = f"{twice} of {trials} trials with two holders, {holders.count(0)} with none"
    return {"returncode": 0, "errors": [reason] if not twice else [], "stderr": reason, "rss_mb": 0, "wall_s": wall}


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
            ("WARC lying Content-Length, 1.2 GB line", hostile.warc_lying_length, "liar.warc.gz", "without a newline"),
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
        print(_row("--config YAML alias bomb (9 levels)", _config_bomb_case(work), "aliases", base, refused=True))
        print(_row("push --dry-run: a link to / in parquet/", _push_link_case(work), "symbolic link", base, refused=True))
        print(_row("lock: 3 processes at once, 300 trials", _lock_case(work), "0 of 300", base))
        load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
        print(f"(peak RSS: the child process and the processes it waited for; load average {load})")


if __name__ == "__main__":
    main()
