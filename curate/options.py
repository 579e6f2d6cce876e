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
import math
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
# messages quote a value at most this long (a value may be huge: an expanded YAML alias, a pasted file)
QUOTE_CHARS = 80
MAX_CONFIG_BYTES = 1 << 20


def quoted(value: Any, limit: int = QUOTE_CHARS) -> str:
    """`repr(value)` for a message, at most `limit` characters (with how long it was when cut). Built
    from a bounded prefix: the repr of a nested value is never computed in full."""
    if isinstance(value, str):
        text = repr(value[: limit + 1])
        return text if len(value) <= limit else f"{text[:limit]}... ({len(value):,} chars)"
    if isinstance(value, list | tuple | dict):
        text = f"{type(value).__name__} of {len(value)}"
        return text if len(value) > 8 else _short_repr(value, limit)
    return _short_repr(value, limit)


def _short_repr(value: Any, limit: int) -> str:
    import reprlib

    short = reprlib.Repr()
    short.maxstring = short.maxother = limit
    short.maxlevel = 2
    text = short.repr(value)
    return text if len(text) <= limit else f"{text[:limit]}..."


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
    raise OptionError(f"option {name}: {quoted(value)} is not a boolean; use true/false, yes/no, on/off or 1/0")


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
            raise OptionError(f"option {self.name} needs a value (default: {quoted(self.default)})")
        if self.optional and isinstance(value, str) and value.strip().lower() in NONE_WORDS:
            return None
        parsed = self._parse_typed(value)
        for item in parsed if isinstance(parsed, list) else [parsed]:
            if self.choices and item not in self.choices:
                raise OptionError(f"option {self.name}: {quoted(item)} is not one of {', '.join(self.choices)}")
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
                            f"option {self.name}: {quoted(value)} is not a JSON list ({quoted(str(exc))})"
                        ) from None
                else:
                    return [part.strip() for part in text.split(",") if part.strip()]
            if isinstance(value, list | tuple) and all(isinstance(v, str | int | float) for v in value):
                return [str(v) for v in value]
            raise OptionError(f"option {self.name}: {quoted(value)} is not a comma-separated list")
        if isinstance(value, Path):
            return str(value)
        if isinstance(value, str):
            return value
        if kind is str and isinstance(value, int | float) and not isinstance(value, bool):
            return str(value)  # e.g. a model name a YAML file read as a number
        raise OptionError(f"option {self.name}: {quoted(value)} is not a {self.type_name}")

    def _parse_number(self, value: Any) -> int | float:
        """An int or float from a typed value or text (`1_000` too); a bool is no number, nor 1.5 an int."""
        kind = self.type
        number = None
        if isinstance(value, int | float) and not isinstance(value, bool):
            if kind is float or isinstance(value, int) or value.is_integer():
                number = kind(value)
        elif isinstance(value, str) and len(value) <= 100:
            with contextlib.suppress(ValueError):
                number = kind(value.strip().replace("_", ""))
        if number is not None and not math.isfinite(number):  # .nan or inf: no threshold, no count
            raise OptionError(f"option {self.name}: {quoted(value)} is not a finite number")
        if number is not None:
            return number
        raise OptionError(
            f"option {self.name}: {quoted(value)} is not {'a whole number' if kind is int else 'a number'}"
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
    if len(name) > QUOTE_CHARS:
        return OptionError(f"unknown option {quoted(name)} for {where} (`curate recipes NAME --options` lists them)")
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
    """A run's options from a YAML (.yaml/.yml) or JSON file: a mapping of option names to values.

    A config is a short mapping: files over MAX_CONFIG_BYTES, YAML aliases (`*name`, whose expansion
    can be exponential: the "billion laughs") and duplicate keys (of which YAML keeps the last, silently)
    are refused, naming the line."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"config file {path} does not exist")
    if path.stat().st_size > MAX_CONFIG_BYTES:
        raise UserError(f"config file {path} is over {MAX_CONFIG_BYTES:,} bytes: not a config of options")
    try:
        text = path.read_text()
        if path.suffix.lower() in (".yaml", ".yml"):
            data = _load_yaml(text)
        else:
            data = json.loads(text, object_pairs_hook=_unique_keys, parse_constant=_no_constant)
    except ConfigError as exc:
        raise UserError(f"config file {path}: {exc}") from None
    except Exception as exc:  # any parse error of the user's file is a user error naming the file
        raise UserError(
            f"config file {path} is not valid {path.suffix.lstrip('.') or 'JSON'}: {quoted(str(exc), 300)}"
        ) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise UserError(f"config file {path}: expected a mapping of option names to values")
    return {str(k).replace("-", "_"): v for k, v in data.items()}


class ConfigError(ValueError):
    """A config file the loader refuses (an alias, a duplicate key)."""


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for key, value in pairs:
        if key in data:
            raise ConfigError(f"key {quoted(key)} is given twice")
        data[key] = value
    return data


def _no_constant(name: str) -> Any:
    raise ConfigError(f"{name} is not a number an option takes")


def _load_yaml(text: str) -> Any:
    """YAML's safe loader without aliases and with duplicate keys refused."""
    import yaml

    class StrictLoader(yaml.SafeLoader):
        def compose_node(self, parent, index):
            if self.check_event(yaml.AliasEvent):
                event = self.peek_event()
                raise ConfigError(
                    f"line {event.start_mark.line + 1}: YAML aliases (*{event.anchor[:40]}) are "
                    "not allowed in a config (their expansion is unbounded); write the value out"
                )
            return super().compose_node(parent, index)

        def construct_mapping(self, node, deep=False):
            seen = set()
            for key_node, _ in node.value:
                key = self.construct_object(key_node, deep=deep)
                if isinstance(key, list | dict):
                    raise ConfigError(f"line {key_node.start_mark.line + 1}: a key must be a name")
                if key in seen:
                    raise ConfigError(f"line {key_node.start_mark.line + 1}: key {quoted(key)} is given twice")
                seen.add(key)
            return super().construct_mapping(node, deep=deep)

    return yaml.load(text, Loader=StrictLoader)  # noqa: S506 - a SafeLoader subclass


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
