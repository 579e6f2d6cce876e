"""Typed run options, declared once, next to the code that reads them.

A stage declares the options it reads (`Stage(..., options=[Option(...), ...])`); a recipe's options
are the union of its stages' declarations, with the recipe's own overrides of some defaults
(`Recipe.defaults`). Values from `--set`, a `--config` file or Python are parsed against the
declarations before any work: booleans are strict (`true/false/yes/no/on/off/1/0`, any case), numbers
are checked, and an unknown name is refused with the closest declared name suggested. A stage then
reads a typed value with `ctx.option(name)`.

Where a class keeps the value as a constructor argument, `Option.arg` takes the default from its
signature, so the constructor and the option cannot disagree.
"""

from __future__ import annotations

import contextlib
import difflib
import inspect
import json
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from curate.errors import UserError
from curate.secrets import Secret, redact_text

TRUE_WORDS = frozenset({"true", "yes", "on", "1"})
FALSE_WORDS = frozenset({"false", "no", "off", "0"})
NONE_WORDS = frozenset({"none", "null", ""})

# option types: Python's bool/int/float/str, a list of strings, or a path or URL (a string, shown as such)
LIST = "list"
PATH = "path-or-url"
TYPE_NAMES = {bool: "bool", int: "int", float: "float", str: "str", LIST: "list of str", PATH: PATH}


class OptionError(UserError, ValueError):
    """An option's name or value is not what its declaration allows."""


def parse_bool(value: Any, name: str = "value") -> bool:
    """True/False from a bool, 0/1, or one of true/false/yes/no/on/off/1/0 in any case; else an error."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        word = value.strip().lower()
        if word in TRUE_WORDS:
            return True
        if word in FALSE_WORDS:
            return False
    raise OptionError(f"option {name}: {value!r} is not a boolean; use true/false, yes/no, on/off or 1/0")


@dataclass(frozen=True)
class Option:
    """One run option: its name, type, default, what it does and where the default comes from.

    `default=None` makes the option optional (`none`/`null` or an empty value unset it). A `secret` is
    read from the environment variable `env` only (never from `--set` or a file), reaches the code as a
    `Secret`, and is never printed or written."""

    name: str
    type: Any
    default: Any = None
    help: str = ""
    source: str = ""
    choices: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    env: str | None = None
    secret: bool = False

    def __post_init__(self) -> None:
        if self.type not in TYPE_NAMES:
            raise TypeError(f"option {self.name}: unknown type {self.type!r}")
        if self.secret and not self.env:
            raise TypeError(f"secret option {self.name} needs the environment variable it is read from")
        if not self.secret and self.default is not None:
            object.__setattr__(self, "default", self.parse(self.default))

    @classmethod
    def arg(cls, target: Callable, param: str, name: str | None = None, **fields: Any) -> Option:
        """An option whose default is `target`'s default for argument `param` (one place for the value)."""
        default = inspect.signature(target).parameters[param].default
        if default is inspect.Parameter.empty:
            raise TypeError(f"{target.__name__}({param}) has no default to declare")
        return cls(name or param, default=default, **fields)

    @property
    def type_name(self) -> str:
        return TYPE_NAMES[self.type]

    @property
    def optional(self) -> bool:
        return self.default is None

    def parse(self, value: Any) -> Any:
        """`value` (a string from the command line, or a typed value from a file or Python) as this type."""
        if self.secret:
            if value is None or isinstance(value, Secret):
                return value
            return Secret(str(value)) if str(value) else None
        if isinstance(value, str) and value in self.choices:
            return value
        if value is None:
            if self.optional:
                return None
            raise OptionError(f"option {self.name} needs a value (default: {self.default!r})")
        if self.optional and isinstance(value, str) and value.strip().lower() in NONE_WORDS:
            return None
        parsed = self._parse_typed(value)
        for item in parsed if isinstance(parsed, list) else [parsed]:
            if self.choices and item not in self.choices:
                raise OptionError(f"option {self.name}: {item!r} is not one of {', '.join(self.choices)}")
        if self.minimum is not None and parsed < self.minimum:
            raise OptionError(f"option {self.name}: {parsed} is below its minimum {self.minimum}")
        if self.maximum is not None and parsed > self.maximum:
            raise OptionError(f"option {self.name}: {parsed} is above its maximum {self.maximum}")
        return parsed

    def _parse_typed(self, value: Any) -> Any:
        kind = self.type
        if kind is bool:
            return parse_bool(value, self.name)
        if kind is int or kind is float:
            return self._parse_number(value)
        if kind is LIST:
            if isinstance(value, str):
                text = value.strip()
                if text.startswith("["):
                    try:
                        value = json.loads(text)
                    except json.JSONDecodeError as exc:
                        raise OptionError(
                            f"option {self.name}: {value!r} is not a JSON list ({exc})"
                        ) from None
                else:
                    return [part.strip() for part in text.split(",") if part.strip()]
            if isinstance(value, list | tuple) and all(isinstance(v, str | int | float) for v in value):
                return [str(v) for v in value]
            raise OptionError(f"option {self.name}: {value!r} is not a comma-separated list")
        if isinstance(value, Path):
            return str(value)
        if isinstance(value, str):
            return value
        if kind is str and isinstance(value, int | float) and not isinstance(value, bool):
            return str(value)  # e.g. a model name a YAML file read as a number
        raise OptionError(f"option {self.name}: {value!r} is not a {self.type_name}")

    def _parse_number(self, value: Any) -> int | float:
        """An int or float from a typed value or text (`1_000` too); a bool is no number, nor 1.5 an int."""
        kind = self.type
        if isinstance(value, int | float) and not isinstance(value, bool):
            if kind is float or isinstance(value, int) or value.is_integer():
                return kind(value)
        elif isinstance(value, str):
            with contextlib.suppress(ValueError):
                return kind(value.strip().replace("_", ""))
        raise OptionError(
            f"option {self.name}: {value!r} is not {'a whole number' if kind is int else 'a number'}"
        )


def declared_options(options: Iterable[Option]) -> dict[str, Option]:
    """Options by name; the same name declared twice must be the same declaration (one default)."""
    declared: dict[str, Option] = {}
    for option in options:
        known = declared.setdefault(option.name, option)
        if known != option:
            raise TypeError(f"option {option.name} is declared twice, differently: {known} and {option}")
    return declared


def unknown_option_error(name: str, declared: Iterable[str], where: str) -> OptionError:
    known = list(declared)
    # a name that a longer option ends with (max_side: render_max_side, resize_max_side) is named in full
    close = [k for k in known if k.endswith(f"_{name}")] or difflib.get_close_matches(
        name, known, n=1, cutoff=0.6
    )
    hint = f"; did you mean {' or '.join(repr(c) for c in sorted(close))}?" if close else ""
    return OptionError(
        f"unknown option {name!r} for {where}{hint} (`curate recipes NAME --options` lists them)"
    )


def resolve_options(
    declared: Mapping[str, Option],
    values: Mapping[str, Any],
    overrides: Mapping[str, Any] | None = None,
    where: str = "this recipe",
    environ: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Every declared option's typed value: `values` (the user's) over `overrides` (the recipe's) over
    the declared default. Raises OptionError naming the option for an unknown name or a bad value."""
    environ = os.environ if environ is None else environ
    for name in values:
        if name not in declared:
            raise unknown_option_error(name, declared, where)
    for name in overrides or {}:
        if name not in declared:  # a recipe overriding an option none of its stages reads: a bug
            raise TypeError(f"{where} sets a default for {name!r}, which none of its stages declares")
    resolved = {}
    for name, option in declared.items():
        if option.secret:
            given = values.get(name)
            if given is not None and not isinstance(given, Secret):
                raise OptionError(
                    f"option {name} is a secret: set the environment variable {option.env} instead"
                    " (it is never taken from --set or a config file, which end up in shell histories and logs)"
                )
            resolved[name] = given if given is not None else option.parse(environ.get(option.env or ""))
            continue
        raw = values[name] if name in values else (overrides or {}).get(name, option.default)
        resolved[name] = option.parse(raw)
    return resolved


def public_options(resolved: Mapping[str, Any], declared: Mapping[str, Option]) -> dict[str, Any]:
    """The options as they may be shown or written: secrets masked, credentials stripped from URLs."""
    public = {}
    for name, value in resolved.items():
        option = declared.get(name)
        if (option and option.secret) or isinstance(value, Secret):
            public[name] = None if value is None else "***"
        elif isinstance(value, str):
            public[name] = redact_text(value)
        else:
            public[name] = value
    return public


def load_config(path: str | Path) -> dict[str, Any]:
    """A run's options from a YAML (.yaml/.yml) or JSON file: a mapping of option names to values."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"config file {path} does not exist")
    text = path.read_text()
    try:
        if path.suffix.lower() in (".yaml", ".yml"):
            import yaml

            data = yaml.safe_load(text)
        else:
            data = json.loads(text)
    except Exception as exc:  # any parse error of the user's file is a user error naming the file
        raise UserError(
            f"config file {path} is not valid {path.suffix.lstrip('.') or 'JSON'}: {exc}"
        ) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise UserError(f"config file {path}: expected a mapping of option names to values")
    return {str(k).replace("-", "_"): v for k, v in data.items()}


def format_options(
    declared: Mapping[str, Option], defaults: Mapping[str, Any] | None = None, recipe: str = "recipe"
) -> str:
    """A table, one option a line: name, type, default (the recipe's where it overrides), source, help."""
    defaults = defaults or {}

    def shown(value: Any) -> str:
        text = "none" if value is None else json.dumps(value) if isinstance(value, list) else str(value)
        return redact_text(text)

    rows = [("option", "type", "default", "source", "help")]
    for name in sorted(declared):
        option = declared[name]
        source = option.source
        if option.secret:
            default = f"${option.env}"
        elif name in defaults:
            default = shown(option.parse(defaults[name]))
            source = f"{recipe} recipe; else {shown(option.default)}" + (f" ({source})" if source else "")
        else:
            default = shown(option.default)
        choices = f" [{'|'.join(option.choices)}]" if option.choices else ""
        rows.append((name, option.type_name + choices, default, source or "-", option.help))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row[:4], widths, strict=True)) + "  " + row[4]
        for row in rows
    )
