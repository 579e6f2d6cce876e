"""Typed options (curate/options.py) and secrets: strict parsing, declared once, validated before any
work, recorded with secrets masked; the LLM API key on every request; credentials never shown."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import pytest
from curate.pipelines import available_recipes, get_recipe
from curate.synth.client import ChatClient, RequestCache, ServerRefused
from curate.synth.server import free_port
from stub_llm import Reply, StubLLM

from curate.cli import main
from curate.options import LIST, Option, OptionError, load_config
from curate.recipe import StageContext, StageFailed
from curate.run.executors import ExecutorConfig
from curate.run.runner import run_recipe, stage_contexts
from curate.secrets import Secret, redact_text, redact_url
from curate.web.fetch import FetchImages

REPO = Path(__file__).resolve().parent.parent
SOURCE_DIRS = ("curate", "filters", "pipelines", "synth")


def built_fetch_options(recipe_name: str, options: dict, tmp_path: Path) -> dict:
    """The options the recipe's images stage really hands to the image fetcher."""
    recipe = get_recipe(recipe_name)
    contexts = stage_contexts(recipe, str(tmp_path), tmp_path / "out", options)
    stage, ctx = next((s, c) for s, c in zip(recipe.stages, contexts, strict=True) if s.name == "images")
    (fetch,) = [step for step in stage.build(ctx) if isinstance(step, FetchImages)]
    return fetch.fetcher_options


# ---- parsing --------------------------------------------------------------------------------------


@pytest.mark.parametrize("recipe_name", ["interleaved", "pairs"])
@pytest.mark.parametrize("value", ["False", "false", "no", "OFF", "0", " No ", False, 0])
def test_a_false_word_keeps_the_private_address_guard_on(recipe_name, value, tmp_path):
    fetch = built_fetch_options(recipe_name, {"allow_private": value, "respect_robots": value}, tmp_path)
    assert fetch["allow_private"] is False and fetch["respect_robots"] is False


@pytest.mark.parametrize("value", ["true", "YES", "on", "1", True])
def test_a_true_word_turns_the_guard_off_only_when_asked(value, tmp_path):
    assert built_fetch_options("interleaved", {"allow_private": value}, tmp_path)["allow_private"] is True
    assert built_fetch_options("interleaved", {}, tmp_path)["allow_private"] is False  # the default


@pytest.mark.parametrize("value", ["maybe", "", "2", "nein", 2, 0.5])
def test_anything_else_for_a_boolean_is_an_error_naming_option_and_value(value, tmp_path):
    with pytest.raises(
        OptionError, match=rf"option allow_private: {re.escape(repr(value))} is not a boolean"
    ):
        get_recipe("interleaved").resolve({"allow_private": value})


def test_numbers_are_checked_and_typed():
    recipe = get_recipe("interleaved")
    resolved = recipe.resolve({"fetch_workers": "4", "fetch_timeout": "2.5", "min_side": 200.0})
    assert resolved["fetch_workers"] == 4 and resolved["fetch_timeout"] == 2.5 and resolved["min_side"] == 200
    with pytest.raises(OptionError, match="option fetch_workers: '4.5' is not a whole number"):
        recipe.resolve({"fetch_workers": "4.5"})
    with pytest.raises(OptionError, match="option fetch_timeout: 'ten' is not a number"):
        recipe.resolve({"fetch_timeout": "ten"})
    with pytest.raises(OptionError, match="option fetch_workers: 0 is below its minimum 1"):
        recipe.resolve({"fetch_workers": 0})
    with pytest.raises(OptionError, match="perplexity_backend: 'gpt' is not one of ngram, kenlm, causal, hf"):
        recipe.resolve({"perplexity_backend": "gpt"})


def test_optional_values_lists_and_choices():
    docmatix = get_recipe("docmatix")
    resolved = docmatix.resolve(
        {"styles": "lookup, numbers", "perplexity_max": "none", "response_format": "none"}
    )
    assert resolved["styles"] == ["lookup", "numbers"]
    assert resolved["perplexity_max"] is None and resolved["response_format"] == "none"
    assert docmatix.resolve({"styles": '["reasoning"]'})["styles"] == ["reasoning"]
    with pytest.raises(OptionError, match="option styles: 'poetry' is not one of lookup, numbers, reasoning"):
        docmatix.resolve({"styles": "lookup,poetry"})
    with pytest.raises(OptionError, match="option n_ctx: 'none' is not a whole number"):
        docmatix.resolve({"n_ctx": "none"})
    assert Option("x", LIST, ("a",)).default == ["a"]


def test_an_unknown_option_is_refused_with_the_closest_name():
    with pytest.raises(OptionError, match="unknown option 'alow_private' .*did you mean 'allow_private'"):
        get_recipe("interleaved").resolve({"alow_private": "false"})
    with pytest.raises(OptionError, match="unknown option 'min_groundng' .*did you mean 'min_grounding'"):
        get_recipe("docmatix").resolve({"min_groundng": 0.5})
    with pytest.raises(OptionError, match="unknown option 'llm_url' for recipe 'pdf-pages'"):
        get_recipe("pdf-pages").resolve({"llm_url": "http://x"})  # a docmatix option, not this recipe's
    # the render size's old name: both options it could mean are named
    with pytest.raises(OptionError, match="did you mean 'render_max_side' or 'resize_max_side'"):
        get_recipe("pdf-pages").resolve({"max_side": 100})


def test_a_bad_option_fails_before_any_work(tmp_path):
    with pytest.raises(OptionError, match="option ocr"):
        run_recipe(get_recipe("pdf-pages"), str(tmp_path), tmp_path / "out", options={"ocr": "perhaps"})
    assert not (tmp_path / "out").exists()


def test_a_secret_is_taken_from_the_environment_only(monkeypatch):
    docmatix = get_recipe("docmatix")
    with pytest.raises(
        OptionError, match="llm_api_key is a secret: set the environment variable LLM_API_KEY"
    ):
        docmatix.resolve({"llm_api_key": "sk-on-the-command-line"})
    monkeypatch.setenv("LLM_API_KEY", "sk-from-env")
    key = docmatix.resolve({})["llm_api_key"]
    assert isinstance(key, Secret) and key.get() == "sk-from-env" and "sk-from-env" not in f"{key} {key!r}"
    monkeypatch.delenv("LLM_API_KEY")
    assert docmatix.resolve({})["llm_api_key"] is None


# ---- declared once ----------------------------------------------------------------------------------


def test_every_recipe_declares_consistently_and_resolves_its_defaults():
    for name in available_recipes():
        recipe = get_recipe(name)
        declared = recipe.declared()  # raises if one name is declared twice, differently
        resolved = recipe.resolve({})  # raises if a recipe default names an undeclared option
        assert set(resolved) == set(declared)


def test_one_default_per_option():
    import inspect

    from curate.synth.checks import QAChecks
    from curate.synth.generate import QAGenerator
    from curate.synth.server import EmbeddedServer

    resolved = get_recipe("docmatix").resolve({})
    assert resolved["min_grounding"] == inspect.signature(QAChecks).parameters["min_grounding"].default == 0.8
    n_ctx = {inspect.signature(c).parameters["n_ctx"].default for c in (QAGenerator, EmbeddedServer)}
    assert n_ctx == {resolved["n_ctx"]}
    assert resolved["language_min_score"] == 0.5  # docmatix's override of OBELICS's 0.8
    assert get_recipe("interleaved").resolve({})["language_min_score"] == 0.8


def _option_reads() -> dict[str, list[str]]:
    """Option names read in the source: ctx.option/ctx.flag("x"), options.get("x"), options["x"], enabled(ctx, "x"),
    and the constructor arguments a step spec reads from an option: arg(Class, "param"[, "x"])."""
    pattern = re.compile(
        r"""(?:\bctx\.(?:option|flag)\(|\boptions\.get\(|\boptions\[|\benabled\(ctx,\s*)\s*["']([a-z0-9_]+)["']"""
    )
    spec_arg = re.compile(r"""\barg\(\s*\w+,\s*["']([a-z0-9_]+)["'](?:,\s*["']([a-z0-9_]+)["'])?""")
    reads: dict[str, list[str]] = {}
    for folder in SOURCE_DIRS:
        for path in sorted((REPO / folder).rglob("*.py")):
            text = path.read_text()
            names = [m.group(1) for m in pattern.finditer(text)]
            names += [m.group(2) or m.group(1) for m in spec_arg.finditer(text)]
            for name in names:
                reads.setdefault(name, []).append(str(path.relative_to(REPO)))
    return reads


def test_every_option_read_in_the_source_is_declared_by_a_recipe():
    declared = set()
    for name in available_recipes():
        declared |= set(get_recipe(name).declared())
    reads = _option_reads()
    assert len(reads) > 50  # the scan finds the reads (a broken pattern would pass vacuously)
    from curate.recipe import RUN_FACTS

    undeclared = {n: files for n, files in reads.items() if n not in declared and n not in RUN_FACTS}
    assert not undeclared, f"options read but declared by no recipe's stages (add an Option): {undeclared}"


def test_reading_an_undeclared_option_fails_in_tests(tmp_path):
    ctx = StageContext("x", str(tmp_path), tmp_path, {"dpi": 300})
    with pytest.raises(TypeError, match="option 'dpi' is read but no stage declares it"):
        ctx.option("dpi", 150)


def test_a_context_without_a_recipe_reads_the_stage_declarations(tmp_path):
    from curate.filters.stages import filters_stage

    stage = filters_stage("language", ["language"])
    ctx = StageContext("language", str(tmp_path), tmp_path, {"language_min_score": "0.3"})
    steps = stage.build(ctx)
    assert steps[1].min_score == 0.3 and ctx.option("languages") == ["en"]
    ctx.options["language"] = "off"
    assert [type(s).__name__ for s in stage.build(ctx)] == ["RecordReader", "RecordWriter"]


# ---- command line ---------------------------------------------------------------------------------


def test_recipes_options_lists_every_option(capsys):
    assert main(["recipes", "interleaved", "--options"]) == 0
    out = capsys.readouterr().out
    lines = {line.split()[0]: line for line in out.splitlines()[2:]}
    assert set(lines) == set(get_recipe("interleaved").declared())
    assert re.search(r"^allow_private +bool +False ", lines["allow_private"])
    assert re.search(r"^min_side +int +150 +OBELICS +images smaller", lines["min_side"])
    assert main(["recipes", "docmatix", "--options"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"language_min_score +float +0\.5 +docmatix recipe; else 0\.8 \(OBELICS\)", out)
    assert re.search(r"llm_api_key +str +\$LLM_API_KEY ", out)


def test_config_file_and_set_on_the_command_line(multi_page_dir, tmp_path, capsys):
    config = tmp_path / "run.yaml"
    config.write_text("max_pages: 1\nocr: off\ndpi: 100\nshard-samples: 5\n")
    assert load_config(config) == {"max_pages": 1, "ocr": False, "dpi": 100, "shard_samples": 5}
    out = tmp_path / "out"
    argv = ["run", "pdf-pages", "--input", str(multi_page_dir), "--output", str(out), "--config", str(config)]
    assert main([*argv, "--set", "dpi=72", "--workers", "1"]) == 0
    recorded = json.loads((out / "run.json").read_text())["options"]
    assert recorded["max_pages"] == 1 and recorded["ocr"] is False and recorded["dpi"] == 72  # --set wins
    assert recorded["shard_samples"] == 5 and recorded["dedup"] is False  # the recipe's own default
    capsys.readouterr()

    config.write_text("max_pages: 1\nocr: perhaps\n")
    assert main(argv) == 1
    assert capsys.readouterr().err.strip() == (
        "curate run: option ocr: 'perhaps' is not a boolean; use true/false, yes/no, on/off or 1/0"
    )
    config.write_text("- not a mapping\n")
    assert main(argv) == 1
    assert "expected a mapping of option names to values" in capsys.readouterr().err


# ---- secrets ---------------------------------------------------------------------------------------


def test_redact_url_and_messages():
    assert redact_url("http://user:pass@host:8000/v1") == "http://***@host:8000/v1"
    assert redact_url("https://token@example.org/x?y=1") == "https://***@example.org/x?y=1"
    assert redact_url("http://127.0.0.1:8000/v1") == "http://127.0.0.1:8000/v1"
    text = "no server at http://u:p%40ss@10.0.0.1/v1 (ConnectionError: http://u:p%40ss@10.0.0.1/v1/models)"
    assert "p%40ss" not in redact_text(text) and redact_text(text).count("http://***@10.0.0.1/v1") == 2


class KeyServer(StubLLM):
    """A StubLLM that records each request's Authorization header and answers 401 unless it is
    `Bearer KEY`."""

    def __init__(self, key: str, open_models: bool = False):
        super().__init__()
        self.key = key
        self.open_models = open_models  # /models answers without a key (only the QA requests need it)
        self.seen: list[tuple[str, str | None]] = []

    def respond(self, method: str, headers: Mapping[str, str], payload: dict | None) -> Reply:
        auth = headers.get("Authorization")
        self.seen.append((method, auth))
        if auth != f"Bearer {self.key}" and not (method == "GET" and self.open_models):
            return 401, {"error": "invalid api key"}
        return super().respond(method, headers, payload)


def test_a_refused_key_stops_the_request_and_caches_nothing(tmp_path):
    cache = RequestCache(tmp_path / "cache.jsonl")
    with KeyServer("sk-right") as server:
        client = ChatClient(server.url, "stub", timeout=10, retries=2, api_key="sk-wrong", cache=cache)
        with pytest.raises(ServerRefused, match=rf"LLM server at {server.url} refused the request: HTTP 401"):
            client.chat([{"role": "user", "content": "<<<\nA page of 12 words.\n>>>"}])
        assert len(server.seen) == 1  # not retried: the same key would be refused again
    assert len(cache) == 0 and not (tmp_path / "cache.jsonl").exists()


QUICK = {"max_pages": 2, "long_pdfs": "first", "roundtrip": False, "ocr": False, "dedup": False, "language": False, "perplexity": False,
         "llm_retries": 0, "llm_timeout": 30, "response_format": "none"}  # fmt: skip


def test_api_key_is_sent_on_every_qa_request_and_never_written(multi_page_dir, tmp_path, monkeypatch):
    out = tmp_path / "out"
    monkeypatch.setenv("LLM_API_KEY", "sk-wrong-key")
    with KeyServer("sk-secret-key", open_models=True) as server:
        with pytest.raises(StageFailed) as failure:
            run_recipe(get_recipe("docmatix"), str(multi_page_dir), out, ExecutorConfig(workers=1),
                       options={**QUICK, "llm_url": server.url})  # fmt: skip
        # refused on the QA requests (the models listing was open): the run fails naming the server
        message = str(failure.value)
        assert message.startswith("stage 'qa' failed")
        assert f"the LLM server at {server.url} refused the request: HTTP 401" in message
        assert not list((out / "stages" / "qa" / "requests").glob("*.jsonl"))  # nothing cached as done
        assert not (out / "stages" / "qa" / "errors").exists()  # not per-page request_rejected rows

        monkeypatch.setenv("LLM_API_KEY", "sk-secret-key")
        server.seen.clear()
        run_recipe(get_recipe("docmatix"), str(multi_page_dir), out, ExecutorConfig(workers=1),
                   options={**QUICK, "llm_url": server.url})  # fmt: skip
    posts = [auth for method, auth in server.seen if method == "POST"]
    assert len(posts) == 2 and set(auth for _, auth in server.seen) == {"Bearer sk-secret-key"}
    run_info = json.loads((out / "run.json").read_text())
    assert run_info["options"]["llm_api_key"] == "***"
    written = [p for p in out.rglob("*") if p.is_file() and p.suffix in (".json", ".jsonl", ".txt", ".log")]
    assert any(p.name == "executor.json" for p in written)  # datatrove dumps every step's attributes
    assert not [p for p in written if "sk-secret-key" in p.read_text(errors="replace")]


def test_credentials_in_the_llm_url_are_never_shown_or_written(multi_page_dir, tmp_path):
    url = f"http://admin:hunter2@127.0.0.1:{free_port()}/v1"
    out = tmp_path / "out"
    done = subprocess.run(
        [sys.executable, "-m", "curate.cli", "run", "docmatix", "--input", str(multi_page_dir), "--output", str(out),
         "--set", f"llm_url={url}", "--set", "ocr=false"],
        capture_output=True, text=True, cwd=REPO, timeout=300,
        env={**os.environ, "PYTHONPATH": str(REPO), "LLM_API_KEY": "sk-very-secret"},
    )  # fmt: skip
    assert done.returncode == 1
    shown = url.replace("admin:hunter2@", "***@")
    assert f"FAILED: no OpenAI-compatible LLM server answers at {shown}" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (out / "run.json").exists()  # refused before any stage ran: no stage run to record
    everything = done.stdout + done.stderr + "".join(p.read_text() for p in out.rglob("*.json"))
    assert "hunter2" not in everything and "sk-very-secret" not in everything


def test_a_bug_prints_its_traceback_a_user_error_does_not(tmp_path):
    user = subprocess.run(
        [sys.executable, "-m", "curate.cli", "run", "pdf-pages", "--input", str(tmp_path), "--output",
         str(tmp_path / "o"), "--set", "max_pagez=2"],
        capture_output=True, text=True, cwd=REPO, timeout=120,
    )  # fmt: skip
    assert user.returncode == 1 and "Traceback" not in user.stderr
    assert user.stderr.strip().endswith(
        "did you mean 'max_pages'? (`curate recipes NAME --options` lists them)"
    )
    bug = subprocess.run(
        [sys.executable, "-c", "import sys; from curate import cli; "
         "cli.cmd_recipes = lambda args: {}['missing']; sys.exit(cli.main(['recipes']))"],
        capture_output=True, text=True, cwd=REPO, timeout=120,
    )  # fmt: skip
    assert bug.returncode == 1 and "Traceback" in bug.stderr and "KeyError: 'missing'" in bug.stderr
