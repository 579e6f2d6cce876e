"""The cluster runbook's commands, as the documentation shows them, for the journey tests to run.

A runbook block is a fenced ```bash block right after an HTML comment `<!-- runbook: NAME -->` in
README.md or docs/*.md. Its lines are what a user types: `VAR="..."` assignments, then commands
(several on a line separated by `;`), `$VAR` expanded, `#` comments ignored. The tests replace the
placeholders (bucket, head node, LLM host) with the local stand-ins' and run every command.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
_BLOCK = re.compile(r"<!--\s*runbook:\s*([\w.-]+)\s*-->\s*\n\s*```(?:bash|sh)?\n(.*?)\n\s*```", re.DOTALL)
_ASSIGNMENT = re.compile(r"^([A-Z_][A-Z0-9_]*)=(.*)$")


def documents() -> list[Path]:
    return [REPO / "README.md", *sorted((REPO / "docs").rglob("*.md"))]


def runbook_blocks() -> dict[str, tuple[Path, str]]:
    """NAME -> (file, block text) of every runbook block in the documentation."""
    found: dict[str, tuple[Path, str]] = {}
    for path in documents():
        if not path.is_file():
            continue
        for name, body in _BLOCK.findall(path.read_text()):
            if name in found:
                raise AssertionError(f"runbook block {name!r} appears twice ({found[name][0]} and {path})")
            found[name] = (path, _dedent(body))
    return found


def _dedent(body: str) -> str:
    lines = body.splitlines()
    indent = min((len(line) - len(line.lstrip()) for line in lines if line.strip()), default=0)
    return "\n".join(line[indent:] for line in lines)


def _join_continuations(text: str) -> list[str]:
    lines, current = [], ""
    for raw in text.splitlines():
        line = raw.rstrip()
        if line.endswith("\\"):
            current += line[:-1] + " "
            continue
        lines.append(current + line)
        current = ""
    if current:
        lines.append(current)
    return lines


def commands(block: str, replace: dict[str, str] | None = None) -> list[list[str]]:
    """The block's commands as argument lists, placeholders replaced (longest first), variables expanded."""
    for old, new in sorted((replace or {}).items(), key=lambda kv: -len(kv[0])):
        block = block.replace(old, new)
    variables: dict[str, str] = {}
    result = []
    for line in _join_continuations(block):
        words = shlex.split(line, comments=True)
        if not words:
            continue
        assignment = _ASSIGNMENT.match(line.strip())
        if assignment and len(words) == 1:
            variables[assignment.group(1)] = words[0].split("=", 1)[1]
            continue
        command: list[str] = []
        for word in words + [";"]:
            if word == ";" or word.endswith(";"):
                word = word.rstrip(";")
                if word:
                    command += _expand(word, variables)
                if command:
                    result.append(command)
                command = []
            else:
                command += _expand(word, variables)
    return result


def _expand(word: str, variables: dict[str, str]) -> list[str]:
    """`$VAR` (unquoted in the block: split into words, as the shell does) or the word itself."""
    if word.startswith("$") and word[1:] in variables:
        return shlex.split(variables[word[1:]])
    if "$" in word:
        raise AssertionError(f"runbook word {word!r} uses a variable the block does not set")
    return [word]


def stages_run(argvs: list[list[str]]) -> list[str]:
    """The `--stage` of each `curate run` command, in order."""
    return [
        argv[argv.index("--stage") + 1]
        for argv in argvs
        if argv[:2] == ["curate", "run"] and "--stage" in argv
    ]
