"""The documentation cannot drift from the code: every `curate` and `make` command shown in README.md and
docs/ parses against the CLI (its recipe options included), and every relative link resolves."""

from __future__ import annotations

import argparse
import re
import shlex
from pathlib import Path

import pytest

from curate.cli import build_parser

REPO = Path(__file__).resolve().parent.parent
PAGES = [REPO / "README.md", REPO / "ARCHITECTURE.md", *sorted((REPO / "docs").glob("*.md"))]
FENCE = re.compile(r"^ *```[a-z]*\n(.*?)^ *```", re.M | re.S)
INLINE = re.compile(r"`((?:curate|make) [^`]+)`")
LINK = re.compile(r"\]\(([^)\s]+)\)")
MAKE_TARGET = re.compile(r"^([a-z][\w-]*)\s*:", re.M)


def _shell_lines(block: str) -> list[str]:
    """The commands of a shell block: continuations joined, comments and prompts dropped, `;` split."""
    joined = re.sub(r"\\\n\s*", " ", block)
    commands = []
    for line in joined.splitlines():
        line = re.sub(r"(^|\s)#.*$", "", line).strip()
        commands += [part.strip() for part in line.split(";") if part.strip()]
    return commands


def _commands(page: Path) -> list[tuple[str, bool]]:
    """`curate ...` and `make ...` commands of a page, with `$VAR` expanded from `VAR="..."` lines, each
    with whether it is whole (in a code block) or a mention in the prose (its words checked, not its
    required arguments)."""
    text = page.read_text()
    found: list[tuple[str, bool]] = []
    for block in FENCE.findall(text):
        variables: dict[str, str] = {}
        for line in _shell_lines(block):
            assigned = re.fullmatch(r'([A-Z_]+)="([^"]*)"', line)
            if assigned:
                variables[assigned[1]] = assigned[2]
                continue
            for name, value in variables.items():
                line = line.replace(f"${name}", value)
            found.append((line, True))
    found += [(mention, False) for mention in INLINE.findall(text)]
    commands = []
    for line, whole in found:
        words = line.split()
        while words and re.fullmatch(r"[A-Z_]+=\S*", words[0]):  # environment prefix: HF_TOKEN=... curate
            words.pop(0)
        if words and words[0].endswith("/curate"):
            words[0] = "curate"
        if words and words[0] in ("curate", "make"):
            commands.append((" ".join(words), whole))
    return commands


def _all_commands() -> list[tuple[str, str, bool]]:
    return [(page.relative_to(REPO).as_posix(), *found) for page in PAGES for found in _commands(page)]


def test_the_pages_show_commands():
    commands = [command for _, command, whole in _all_commands() if whole]
    assert sum(c.startswith("curate run") for c in commands) >= 5
    assert any(c.startswith("make docmatix") for c in commands)


def _mention_is_known(words: list[str]) -> bool:
    """A command mentioned in prose (`curate report --html`): its subcommand and every flag exist."""
    parser = build_parser()
    subparsers = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    if words[1] not in subparsers.choices:
        return False
    known = set(subparsers.choices[words[1]]._option_string_actions)
    return all(w.split("=")[0] in known for w in words[2:] if w.startswith("-"))


@pytest.mark.parametrize(("page", "command", "whole"), _all_commands())
def test_every_shown_command_parses(page, command, whole):
    words = shlex.split(command.replace("[", " ").replace("]", " "))
    if words[0] == "make":
        targets = set(MAKE_TARGET.findall((REPO / "Makefile").read_text()))
        named = [w for w in words[1:] if "=" not in w and not w.startswith("-")]
        assert set(named) <= targets, f"{page}: `{command}` names a target the Makefile lacks"
        return
    if not whole:
        assert _mention_is_known(words), f"{page}: `{command}` names a subcommand or flag the CLI lacks"
        return
    parser = build_parser()
    try:
        args = parser.parse_args(words[1:])
    except SystemExit:
        pytest.fail(f"{page}: `{command}` does not parse against the CLI")
    if args.command == "run":
        from curate.pipelines import get_recipe

        recipe = get_recipe(args.recipe)
        if args.stage:
            recipe.stage(args.stage)
        declared = set(recipe.declared())
        unknown = {name for name, _ in args.options} - declared
        assert not unknown, f"{page}: `{command}` sets options {args.recipe} does not declare: {unknown}"
    if args.command == "recipes" and args.name:
        from curate.pipelines import get_recipe

        get_recipe(args.name)


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.relative_to(REPO).as_posix())
def test_every_relative_link_resolves(page):
    for target in LINK.findall(page.read_text()):
        if re.match(r"[a-z]+:", target) or target.startswith("#"):
            continue
        path, _, anchor = target.partition("#")
        resolved = (page.parent / path).resolve()
        assert resolved.exists(), f"{page.name}: link to {target} resolves to nothing"
        if anchor and resolved.suffix == ".md":
            headings = re.findall(r"^#+ (.+)$", resolved.read_text(), re.M)
            slugs = {re.sub(r"[^\w\- ]", "", h.lower()).replace(" ", "-") for h in headings}
            assert anchor in slugs, f"{page.name}: link to {target}: no such heading"
