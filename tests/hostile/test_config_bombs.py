"""`--config` cannot explode: YAML aliases are refused (a 417-byte alias bomb passed 4 GiB in 105 s; a
5-level one printed a 481,670-byte error line), duplicate keys are refused (YAML kept the last,
silently), `.nan`/inf are no number an option takes (`.nan` was written to run.json as bare NaN), and a
message quotes at most a short prefix of a value."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import hostile_inputs as hostile  # noqa: E402

from curate.errors import UserError  # noqa: E402
from curate.options import QUOTE_CHARS, Option, OptionError, load_config  # noqa: E402

PYTHON = sys.executable


def _run(tmp_path: Path, *args: str) -> dict:
    out = tmp_path / "out"
    inputs = tmp_path / "in"
    inputs.mkdir(exist_ok=True)
    command = [
        PYTHON,
        "-m",
        "curate.cli",
        "run",
        "pdf-pages",
        "--input",
        str(inputs),
        "--output",
        str(out),
        *args,
    ]
    return hostile.measure(command, timeout=120)


@pytest.mark.parametrize("levels", [5, 9])
def test_alias_bomb_is_refused_at_once(tmp_path, levels):
    bomb = hostile.yaml_alias_bomb(tmp_path / "bomb.yaml", levels)
    result = _run(tmp_path, "--config", str(bomb))
    assert result["returncode"] == 1
    assert "YAML aliases (*a0) are not allowed" in result["stderr"] and "line 2" in result["stderr"]
    assert len(result["stderr"]) < 2000 and "Traceback" not in result["stderr"]
    assert result["wall_s"] < 30 and result["rss_mb"] < 300
    assert not (tmp_path / "out").exists()


def test_duplicate_keys_and_non_finite_numbers_are_refused(tmp_path):
    config = tmp_path / "run.yaml"
    config.write_text("max_pages: 1\ndpi: 100\nmax_pages: 2\n")
    with pytest.raises(UserError, match=r"line 3: key 'max_pages' is given twice"):
        load_config(config)
    config = tmp_path / "run.json"
    config.write_text('{"max_pages": 1, "max_pages": 2}')
    with pytest.raises(UserError, match="given twice"):
        load_config(config)
    config.write_text('{"dpi": NaN}')
    with pytest.raises(UserError, match="NaN is not a number an option takes"):
        load_config(config)
    config = tmp_path / "nan.yaml"
    config.write_text("dpi: .nan\n")
    result = _run(tmp_path, "--config", str(config))
    assert result["returncode"] == 1 and "option dpi: nan is not a whole number" in result["stderr"]
    for text in ("nan", "inf", "-Infinity", ".inf"):
        with pytest.raises(OptionError, match="not a finite number|not a number"):
            Option("x", float, 1.0).parse(text)
    assert not (tmp_path / "out" / "run.json").exists()


def test_messages_quote_a_short_prefix(tmp_path):
    huge = "x" * 500_000
    with pytest.raises(OptionError) as caught:
        Option("dpi", int, 150).parse(huge)
    assert len(str(caught.value)) < QUOTE_CHARS + 100 and "(500,000 chars)" in str(caught.value)
    with pytest.raises(OptionError) as caught:
        Option("ocr", bool, True).parse([["lol"] * 9] * 9)
    assert len(str(caught.value)) < QUOTE_CHARS + 100
    config = tmp_path / "long.yaml"
    config.write_text(json.dumps({"dpi": huge}))
    result = _run(tmp_path, "--config", str(config))
    assert result["returncode"] == 1 and len(result["stderr"]) < 1000
