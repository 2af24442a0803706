"""The `pet2rep` command: the command-line layer over the library stages.

Every sub-command's argument parsing lives in this package, one module per stage (`pet2rep.cli.ingest`,
`pet2rep.cli.render`, ...): it turns flags into the keyword arguments of a library function, and names the flag
when a value is refused. The library below takes and raises in Python terms and never imports this package.

Only the module of the chosen sub-command is imported, so `pet2rep --help` and every command start fast.
A sub-command module defines `configure_parser(parser)` and `run_cli(args) -> int`; an entry
``"module:NAME"`` names `configure_NAME_parser` and `run_NAME_cli` instead (several commands in one module).
"""

from __future__ import annotations

import argparse
import importlib
import sys

# name -> (module, one-line help). Order is the pipeline's order.
COMMANDS: dict[str, tuple[str, str]] = {
    "ingest": ("pet2rep.cli.ingest", "read a PET/CT exam (DICOM or NIfTI) into a study folder with PET in SUVbw"),
    "synth": ("pet2rep.cli.synth", "make a synthetic whole-body PET/CT cohort with ground-truth reports"),
    "render": ("pet2rep.cli.render", "draw model-ready views (fused, separate, mip, axial) from a study folder"),
    "prompts": ("pet2rep.cli.prompts", "build a PET2Rep prompt dataset (JSONL + images) from studies"),
    "models": ("pet2rep.cli.models", "list the packaged model cards (name, backend, hub id, size)"),
    "generate": ("pet2rep.cli.runs", "run a model (card, hf:, vllm:, openai:) over a prompt dataset into a run folder"),
    "merge": ("pet2rep.cli.runs:merge", "join the shard run folders of one run into one run folder"),
    "evaluate": ("pet2rep.cli.evaluate", "score predictions: BLEU, METEOR, ROUGE-L, CIDEr-D, organ uptake"),
    "compare": ("pet2rep.cli.compare", "paired significance test between two scored runs"),
    "uptake": ("pet2rep.cli.uptake", "print the organ uptake statements found in a report"),
    "leaderboard": ("pet2rep.cli.leaderboard", "tabulate scored runs as markdown/csv/tex"),
    "plots": ("pet2rep.cli.plots", "draw the paper's figures (metrics, organ heat map, size, failures, lengths)"),
    "view": ("pet2rep.cli.view", "write a static case viewer (HTML, opens from files): reports, organ ✓/✗, filters"),
    "review": ("pet2rep.cli.review", "blind reader study: serve, invite, list, revoke, export ratings"),
    "demo": ("pet2rep.cli.demo", "synth -> render -> prompts -> generate -> evaluate -> leaderboard, offline"),
}


def _top_parser() -> argparse.ArgumentParser:
    from .. import __version__

    epilog = "commands:\n" + "\n".join(f"  {n:<12} {h}" for n, (_, h) in COMMANDS.items())
    p = argparse.ArgumentParser(
        prog="pet2rep",
        description="PET2Rep: PET/CT report generation with vision-language models, end to end.",
        epilog=epilog + "\n\nRun 'pet2rep COMMAND --help' for a command's options.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--version", action="version", version=f"pet2rep {__version__}")
    p.add_argument("command", choices=list(COMMANDS), metavar="COMMAND", help="one of the commands below")
    return p


def command_functions(name: str):
    """(configure_parser, run_cli) of a command, importing only its module."""
    module_name, _, fn = COMMANDS[name][0].partition(":")
    module = importlib.import_module(module_name)
    return (getattr(module, f"configure_{fn}_parser" if fn else "configure_parser"),
            getattr(module, f"run_{fn}_cli" if fn else "run_cli"))


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script."""
    from ..errors import Pet2RepError

    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in COMMANDS:
        _top_parser().parse_args(argv[:1] or ["--help"])
        return 2
    name, rest = argv[0], argv[1:]
    configure, run = command_functions(name)
    parser = argparse.ArgumentParser(prog=f"pet2rep {name}", description=COMMANDS[name][1])
    configure(parser)
    args = parser.parse_args(rest)
    try:
        return int(run(args) or 0)
    except Pet2RepError as exc:
        print(f"pet2rep {name}: error: {_one_line(str(exc))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        hint = "; run the same command again to resume" if name in RESUMABLE else ""
        print(f"pet2rep {name}: interrupted; files already written are kept{hint}", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # the reader of our output went away (e.g. `pet2rep uptake ... | head`): stop quietly
        _silence_stdout()
        return 1
    except OSError as exc:
        if exc.filename is None:
            raise
        print(f"pet2rep {name}: error: {_one_line(os_error_message(exc))}", file=sys.stderr)
        return 2


# commands that pick up where they stopped when run again
RESUMABLE = ("generate",)


MAX_ERROR_CHARS = 1000  # an error line quoting a megabyte of input is cut (the input stays the place to look)


def _one_line(text: str) -> str:
    text = " ".join(text.split("\n")).strip() or "unknown error"
    if len(text) > MAX_ERROR_CHARS:
        text = f"{text[:MAX_ERROR_CHARS]}... ({len(text) - MAX_ERROR_CHARS:,} more characters)"
    return text


def os_error_message(exc: OSError) -> str:
    """One line for a file-system error on a named path (an --out that is a file, a read-only folder, ...)."""
    import errno

    path = exc.filename
    if isinstance(exc, FileExistsError):
        what = "exists and is not a folder (give a folder path, or remove the file)"
    elif isinstance(exc, NotADirectoryError):
        what = "a part of this path is a file, not a folder"
    elif isinstance(exc, IsADirectoryError):
        what = "is a folder, expected a file"
    elif isinstance(exc, PermissionError):
        what = "permission denied"
    elif exc.errno == errno.ENOSPC:
        what = "no space left on the device"
    else:
        what = exc.strerror or type(exc).__name__
    if exc.filename2 is not None and isinstance(exc, IsADirectoryError):
        path = exc.filename2
    return f"{path}: {what}"


def _silence_stdout() -> None:
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # pragma: no cover - stdout without a file descriptor
        pass


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
