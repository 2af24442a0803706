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


def test_library_errors_name_parameters_and_the_cli_names_flags(tmp_path, capsys):
    """The library raises in Python terms (`batch_size=0`); the command shows the flag (`--batch-size 0`)."""
    from pet2rep.cli.flags import as_flags, flag_names
    from pet2rep.errors import InputError
    from pet2rep.ingest import check_facts
    from pet2rep.render import check_prefix

    flags = {"batch_size": "--batch-size", "restart": "--restart", "weight_kg": "--weight", "slices": "--slices",
             "fractions": "--fractions", "mode": "--mode"}
    assert as_flags("batch_size=0: must be at least 1", flags) == "--batch-size 0: must be at least 1"
    assert as_flags("x (use another out=, or restart=True to discard it)", flags) == \
        "x (use another out=, or --restart to discard it)"  # out is not in this map: left as it is
    assert as_flags("give slices= or fractions=, not both", flags) == "give --slices or --fractions, not both"
    assert as_flags("slices= and fractions= do not apply to mode=mip", flags) == \
        "--slices and --fractions do not apply to --mode mip"
    # a path or a word spelled like a parameter is not a parameter
    assert as_flags("/data/batch_size=3/run: mode is odd", flags) == "/data/batch_size=3/run: mode is odd"
    with pytest.raises(InputError, match=r"^weight_kg=700 kg: implausibly large"):
        check_facts(weight_kg=700)
    with pytest.raises(InputError, match=r"^prefix='a/b': must be a plain file-name prefix"):
        check_prefix("a/b")
    with pytest.raises(InputError) as exc, flag_names(flags):
        check_facts(weight_kg=700)
    assert str(exc.value).startswith("--weight 700 kg: implausibly large") and type(exc.value) is InputError
    # through the command: the same error names the flag
    assert main(["render", str(tmp_path), "--out", str(tmp_path / "v"), "--prefix", "a/b"]) == 2
    assert "pet2rep render: error: --prefix 'a/b': must be a plain file-name prefix" in capsys.readouterr().err
