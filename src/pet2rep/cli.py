"""The `pet2rep` command: thin argument parsing; each sub-command lives in its stage's module.

Only the module of the chosen sub-command is imported, so `pet2rep --help` and every command start fast.
A sub-command module defines `configure_parser(parser)` and `run_cli(args) -> int`.
"""

from __future__ import annotations

import argparse
import importlib
import sys

# name -> (module, one-line help). Order is the pipeline's order.
COMMANDS: dict[str, tuple[str, str]] = {
    "ingest": ("pet2rep.ingest.cli", "read a PET/CT exam (DICOM or NIfTI) into a study folder with PET in SUVbw"),
    "synth": ("pet2rep.ingest.synth", "make a synthetic whole-body PET/CT cohort with ground-truth reports"),
    "render": ("pet2rep.render", "draw model-ready views (fused, separate, mip, axial) from a study folder"),
    "prompts": ("pet2rep.prompts.build", "build a PET2Rep prompt dataset (JSONL + images) from studies"),
    "generate": ("pet2rep.runs", "run a model backend over a prompt dataset into a resumable run folder"),
    "evaluate": ("pet2rep.metrics.evaluate", "score predictions: BLEU, METEOR, ROUGE-L, CIDEr-D, organ uptake"),
    "compare": ("pet2rep.metrics.compare", "paired significance test between two scored runs"),
    "uptake": ("pet2rep.metrics.uptake", "print the organ uptake statements found in a report"),
    "leaderboard": ("pet2rep.publish.leaderboard", "tabulate scored runs as markdown/csv/tex"),
    "demo": ("pet2rep.demo", "synth -> render -> prompts -> generate -> evaluate -> leaderboard, offline"),
}


def _top_parser() -> argparse.ArgumentParser:
    from . import __version__

    epilog = "commands:\n" + "\n".join(f"  {n:<12} {h}" for n, (_, h) in COMMANDS.items())
    p = argparse.ArgumentParser(
        prog="pet2rep",
        description="PET2Rep: PET/CT report generation with vision-language models, end to end.",
        epilog=epilog + "\n\nRun 'pet2rep COMMAND --help' for a command's options.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--version", action="version", version=f"pet2rep {__version__}")
    p.add_argument("command", choices=list(COMMANDS), metavar="COMMAND")
    return p


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script."""
    from .errors import Pet2RepError

    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in COMMANDS:
        _top_parser().parse_args(argv[:1] or ["--help"])
        return 2
    name, rest = argv[0], argv[1:]
    module_name, help_text = COMMANDS[name]
    module = importlib.import_module(module_name)
    parser = argparse.ArgumentParser(prog=f"pet2rep {name}", description=help_text)
    module.configure_parser(parser)
    args = parser.parse_args(rest)
    try:
        return int(module.run_cli(args) or 0)
    except Pet2RepError as exc:
        print(f"pet2rep {name}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"pet2rep {name}: interrupted; files already written are kept", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
