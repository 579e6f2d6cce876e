"""`curate`: run recipes, inspect shards, print the funnel, push to the Hub.

curate run pdf-pages --input PDFS --output OUT [--executor ray] [--stage pages] [--config run.yaml]
curate recipes pdf-pages --options     (every option: type, default, source)
curate inspect OUT -n 3 --save-images /tmp/pages
curate report OUT [--html] [--html-dir DIR]
curate push OUT --repo org/name --dry-run
curate serve-llm --model Qwen/Qwen2.5-7B-Instruct --dry-run   (vLLM for `run docmatix --set llm_url=...`)
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
import traceback
from pathlib import Path

from curate.errors import UserError
from curate.options import OptionError, format_options, load_config
from curate.secrets import clean_text, redact_text

EXIT_FAILED, EXIT_UNBALANCED = 1, 2
# a mistake the user can fix: a bad option, an unknown name, a missing input (FileNotFoundError, also
# raised for missing model weights), an unreachable server (synth's ServerUnavailable is a UserError)
USER_ERRORS: tuple[type[BaseException], ...] = (UserError, FileNotFoundError, NotADirectoryError)


def _parse_option(text: str) -> tuple[str, str]:
    """KEY=VALUE; the value stays a string, parsed by the option's declared type (curate/options.py)."""
    if "=" not in text:
        raise argparse.ArgumentTypeError(f"--set takes KEY=VALUE, got {text!r}")
    key, value = text.split("=", 1)
    return key.strip().replace("-", "_"), value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="curate", description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run a recipe (or one of its stages)")
    run.add_argument("recipe", help="recipe name; `curate recipes` lists them")
    run.add_argument(
        "--input", required=True, help="input folder or file, local or a URL (s3://, gs://, hf://)"
    )
    run.add_argument(
        "--output",
        required=True,
        help="output folder or URL, e.g. s3://bucket/out (rerun the same command to resume)",
    )
    run.add_argument("--stage", help="run only this stage (its input is the previous stage's output)")
    run.add_argument("--executor", choices=["local", "ray"], default="local")
    run.add_argument("--ray-address", help="address of a Ray cluster; default: start Ray on this machine")
    run.add_argument("--workers", type=int, help="tasks run at once (default: one per core / every Ray CPU)")
    run.add_argument(
        "--tasks",
        type=int,
        help="tasks per stage, free of the number of input files (default: 3 per worker slot, "
        "at most one per file for file inputs; record stages split Parquet row groups)",
    )
    run.add_argument("--cpus-per-task", type=int, help="Ray: CPUs a task asks for (default: the stage's, 1)")
    run.add_argument("--mem-per-cpu-gb", type=float, help="Ray: memory per CPU a task asks for (default: 2)")
    run.add_argument(
        "--verbose",
        action="store_true",
        help="also print datatrove's per-task log lines (always in the task logs)",
    )
    run.add_argument(
        "--set",
        dest="options",
        type=_parse_option,
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="recipe option, e.g. --set dpi=200 --set max_pages=4 (`curate recipes NAME --options`)",
    )
    run.add_argument(
        "--config",
        metavar="FILE",
        help="the run's options in a YAML or JSON file (option: value); --set overrides it",
    )

    recipes = sub.add_parser("recipes", help="list the recipes and their stages, or one recipe's options")
    recipes.add_argument("name", nargs="?", help="a recipe: print its stages (with --options: its options)")
    recipes.add_argument("--options", action="store_true", help="print every option: type, default, source")

    inspect = sub.add_parser("inspect", help="print samples of a run's shards (or of one shard)")
    inspect.add_argument("path", help="run output folder, shard folder or .tar shard")
    inspect.add_argument("-n", type=int, default=3, help="samples to print")
    inspect.add_argument("--save-images", metavar="DIR", help="also save the samples' images here")

    report = sub.add_parser("report", help="the funnel of a run: in / kept / dropped / errored per stage")
    report.add_argument("output")
    report.add_argument("--errors", action="store_true", help="also list every error with its reason")
    report.add_argument(
        "--html",
        action="store_true",
        help="also write an HTML report with charts: OUTPUT/report/index.html, or for an s3:// output "
        "./curate-report/BUCKET-PATH/index.html",
    )
    report.add_argument("--html-dir", metavar="DIR", help="write the HTML report into DIR instead")

    from curate.synth.serve_llm import add_serve_llm_arguments

    serve = sub.add_parser(
        "serve-llm", help="start an LLM server for `run docmatix`: vLLM (GPU or CPU) or llama.cpp (CPU)"
    )
    add_serve_llm_arguments(serve)

    push = sub.add_parser("push", help="upload a run's shards to the Hugging Face Hub")
    push.add_argument("output")
    push.add_argument("--repo", required=True, help="dataset repo id, ORG/NAME")
    push.add_argument("--private", action="store_true")
    push.add_argument("--dry-run", action="store_true", help="print what would be uploaded, upload nothing")
    push.add_argument("--license", default="other", help="the card's licence id (default: other)")
    push.add_argument(
        "--batch-gb", type=float, default=5.0, help="GB staged and uploaded per batch (default: 5)"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    command = {
        "run": cmd_run,
        "recipes": cmd_recipes,
        "inspect": cmd_inspect,
        "report": cmd_report,
        "push": cmd_push,
        "serve-llm": cmd_serve_llm,
    }[args.command]
    try:
        return command(args)
    except USER_ERRORS as exc:
        # a mistake the user can fix (bad option, missing input, unreachable server): one line;
        # anything else is a bug and goes up with its traceback
        print(f"curate {args.command}: {_message(exc)}", file=sys.stderr)
        return EXIT_FAILED


def _message(exc: BaseException) -> str:
    return redact_text(str(exc))


def cmd_recipes(args) -> int:
    from curate.pipelines import available_recipes, get_recipe

    if args.name:
        recipe = get_recipe(args.name)
        if args.options:
            print(f"{recipe.name} options (--set NAME=VALUE, or NAME: VALUE in a --config file):")
            print(format_options(recipe.declared(), recipe.defaults, recipe.name))
            return 0
        print(f"{recipe.name}: {(recipe.description or '').strip()}")
        for stage in recipe.stages:
            print(f"    {stage.name:<12} {stage.description}")
        return 0
    for name in available_recipes():
        recipe = get_recipe(name)
        print(f"{name}: {(recipe.description or '').strip().splitlines()[0]}")
        for stage in recipe.stages:
            print(f"    {stage.name:<12} {stage.description}")
    print("\n`curate recipes NAME --options` lists a recipe's options.")
    return 0


def cmd_run(args) -> int:
    from curate.location import location
    from curate.pipelines import get_recipe
    from curate.recipe import StageFailed
    from curate.run.console import quiet_logs
    from curate.run.executors import ExecutorConfig
    from curate.run.report import format_funnel, run_funnel
    from curate.run.runner import OutputInUse, active_stage_names, run_recipe

    quiet_logs(not args.verbose)
    recipe = get_recipe(args.recipe)
    output = location(args.output)
    options = {**(load_config(args.config) if args.config else {}), **dict(args.options)}
    options = recipe.resolve(options)  # a bad or unknown option: one line naming it, before any work
    if args.tasks is not None and args.tasks < 1:
        raise OptionError(f"--tasks must be at least 1, got {args.tasks}")
    config = ExecutorConfig(
        args.executor,
        args.workers,
        args.ray_address,
        tasks=args.tasks,
        cpus_per_task=args.cpus_per_task,
        mem_per_cpu_gb=args.mem_per_cpu_gb,
    )
    if args.stage:
        recipe.stage(args.stage)
    failed = None
    started = time.monotonic()
    try:
        run_recipe(recipe, args.input, output, config, only_stage=args.stage, options=options, progress=True)
    except OutputInUse as exc:  # the folder is another run's: its funnel is not this run's to print
        print(f"curate run: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except StageFailed as exc:
        failed = _message(exc)
        cause = exc.__cause__
        if cause is not None and not isinstance(cause, USER_ERRORS):  # a bug behind the failure: show where
            traceback.print_exception(cause, file=sys.stderr)
    except KeyboardInterrupt:
        failed = "interrupted; rerun the same command to resume"
    funnels = run_funnel(output, active_stage_names(recipe, args.input, output, options))
    print("\n" + format_funnel(funnels))
    print(f"\n{recipe.name}: {time.monotonic() - started:.1f}s; output in {output}")
    manifest = output / "shards" / "manifest.json"
    if manifest.exists():
        data = json.loads(manifest.read_text())
        print(
            f"shards: {len(data['shards'])} files, {data['total_samples']} samples, {data['total_bytes']:,} bytes"
        )
    if failed:
        print(f"FAILED: {failed}", file=sys.stderr)  # credentials in URLs already masked
        return EXIT_FAILED
    if not all(f.balanced for f in funnels):
        print("FAILED: a stage did not account for every record (see MISMATCH above)", file=sys.stderr)
        return EXIT_UNBALANCED
    return 0


def safe_path(folder: Path, name: str) -> Path:
    """`folder/name` with `name` made one plain file name: a shard from elsewhere may hold keys such as
    `../../x` or `/etc/x`; separators, `..` and control characters must not take the file outside."""
    flat = re.sub(r"[^\w.\-]+", "_", name).lstrip(".") or "_"
    path = (folder / flat[:200]).resolve()
    if path.parent != folder.resolve():
        raise ValueError(f"unsafe file name from the shard: {name!r}")
    return path


def cmd_inspect(args) -> int:
    from curate.location import location
    from curate.output.loader import make_dataset

    path = location(args.path)
    dataset = make_dataset([str(path)] if path.suffix == ".tar" else path, decode_images=False)
    save_dir = Path(args.save_images) if args.save_images else None
    if save_dir:
        save_dir.mkdir(parents=True, exist_ok=True)
    for i, sample in enumerate(dataset):
        if i >= args.n:
            break
        meta = sample["json"]
        print(f"=== {sample['__key__']}  ({meta.get('kind')}, {meta.get('source')})")
        text = meta.get("text") or ""
        print(f"text: {text[:400]!r}{' ...' if len(text) > 400 else ''}")
        for turn in (meta.get("texts") or [])[:5]:
            if isinstance(turn, dict):
                print(f"  Q: {turn.get('user')}\n  A: {turn.get('assistant')}")
        print(f"scores: {meta.get('scores')}")
        for image in meta.get("images", []):
            print(
                f"image: {image.get('member')} {image.get('width')}x{image.get('height')} {image.get('url') or ''}"
            )
            if save_dir and image.get("member") in sample:
                out = safe_path(save_dir, f"{sample['__key__']}.{image['member']}")
                out.write_bytes(sample[image["member"]])
                print(f"  saved {out}")
    return 0


def cmd_report(args) -> int:
    from curate.location import location
    from curate.run.report import error_lines, format_funnel, run_funnel

    output = location(args.output)
    if not (output / "stages").is_dir():
        raise FileNotFoundError(f"{output} is not a run output folder (no stages/ inside)")
    run_info = output / "run.json"
    order = json.loads(run_info.read_text())["stages"] if run_info.exists() else None
    funnels = run_funnel(output, order)
    print(format_funnel(funnels))
    if args.errors:
        for line in error_lines(output):
            source = line.get("metadata", {}).get("source", line.get("id"))
            shown = f"{line.get('severity', 'error'):<8}{line.get('stage')}: {source}: {line.get('reason')}"
            print(clean_text(shown))  # files written before credentials were masked there too
    if args.html or args.html_dir:
        from curate.run.report_html import write_html_report

        print(f"HTML report: {write_html_report(args.output, report=args.html_dir)}")
    accounted = all(f.balanced and f.follows_upstream and not f.failed for f in funnels)
    return 0 if accounted else EXIT_UNBALANCED


def cmd_serve_llm(args) -> int:
    from curate.synth.serve_llm import serve_llm

    return serve_llm(args)


def cmd_push(args) -> int:
    from curate.output.hub import push

    try:
        push(
            args.output,
            args.repo,
            private=args.private,
            dry_run=args.dry_run,
            licence=args.license,
            batch_bytes=int(args.batch_gb * (1 << 30)),
        )
    except (OSError, RuntimeError) as exc:  # HTTP errors of huggingface_hub are OSErrors
        if isinstance(exc, FileNotFoundError):
            raise
        print(
            f"curate push: upload to {args.repo} stopped: {type(exc).__name__}: {exc}\n"
            "rerun the same command to resume: files already on the Hub are skipped",
            file=sys.stderr,
        )
        return EXIT_FAILED
    return 0


if __name__ == "__main__":
    sys.exit(main())
