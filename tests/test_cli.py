"""The `pet2rep` command: registry, help, light start-up."""

from __future__ import annotations

import subprocess
import sys

import pytest

from pet2rep.cli import COMMANDS, command_functions, main


def test_every_registered_command_has_parser_and_runner():
    # the commands the other tests and the docs use are all registered (the loops below are not vacuous)
    assert {"ingest", "synth", "render", "prompts", "models", "generate", "merge", "evaluate", "compare",
            "leaderboard", "demo"} <= set(COMMANDS)
    for name in COMMANDS:
        configure, run = command_functions(name)
        assert callable(configure) and callable(run), name


def test_help_lists_commands(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    assert all(name in out for name in COMMANDS)


def test_unknown_command_exits_nonzero():
    with pytest.raises(SystemExit) as exc:
        main(["nonsense"])
    assert exc.value.code == 2


def test_import_and_cli_start_are_light():
    """`import pet2rep` and the CLI registry must not import heavy libraries."""
    code = ("import sys, pet2rep, pet2rep.cli, pet2rep.organs; "
            "heavy = [m for m in ('numpy', 'scipy', 'torch', 'transformers', 'nibabel', 'pydicom', 'PIL', 'jieba') "
            "if m in sys.modules]; print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
