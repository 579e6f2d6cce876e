"""`python -m benchmarks [-v] [NAME ...]` runs every benchmarks/bench_*.py (or the named ones) in turn;
-v keeps datatrove's per-task log lines on the console."""

from __future__ import annotations

import importlib
import logging
import pkgutil
import sys
import time
import traceback

import benchmarks


def main(names: list[str]) -> int:
    if "-v" in names:
        names.remove("-v")
    else:  # datatrove's per-task INFO lines and trafilatura's complaints about empty pages bury the figures
        from curate.run.console import quiet_logs

        quiet_logs()
        logging.getLogger("trafilatura").setLevel(logging.CRITICAL)
    modules = sorted(m.name for m in pkgutil.iter_modules(benchmarks.__path__) if m.name.startswith("bench_"))
    selected = [m for m in modules if not names or m.removeprefix("bench_") in names or m in names]
    failed = []
    for name in selected:
        print(f"\n===== {name} =====", flush=True)
        started = time.monotonic()
        try:
            importlib.import_module(f"benchmarks.{name}").main()
        except Exception:
            traceback.print_exc()
            failed.append(name)
        print(f"({name}: {time.monotonic() - started:.0f}s)", flush=True)
    if failed:
        print(f"\nfailed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
