"""`pet2rep uptake`: flags over pet2rep.metrics.uptake (one report's statements, or --eval on a labelled set)."""

from __future__ import annotations

import argparse
import json

from ..errors import InputError
from ..metrics.uptake import (
    detect_lang,
    evaluate_labelled,
    extract_statements,
    format_evaluation,
    labels_from_statements,
    load_lexicon,
    read_labelled,
    read_report,
)


def configure_parser(parser: argparse.ArgumentParser) -> None:
    """Arguments of `pet2rep uptake`."""
    parser.add_argument("file", metavar="FILE", nargs="?",
                        help="report text file (UTF-8); '-' reads standard input")
    parser.add_argument("--eval", metavar="LABELLED", dest="labelled",
                        help="check the extractor against your own labelled texts instead: a JSONL file (one object a "
                             "line: text, expected {organ: [states]}, optional lang and id) or a YAML list / mapping "
                             "with items; prints P/R/F1 overall, per state and per organ, normal recall, negation "
                             "errors and every disagreement")
    parser.add_argument("--by", metavar="FIELD", dest="group_by",
                        help="with --eval: also score each value of this item field apart (e.g. source_kind)")
    parser.add_argument("--json", metavar="PATH", dest="json_out",
                        help="with --eval: also write the numbers and disagreements as JSON to PATH")
    parser.add_argument("--lang", choices=("zh", "en", "auto"), default="auto",
                        help="report language (auto: by the share of CJK characters)")
    parser.add_argument("--lexicon", action="append", default=[], metavar="FILE",
                        help="extra lexicon YAML merged into the built-in one (repeatable; see metrics/lexicon/*.yaml)")
    parser.add_argument("--statements", action="store_true",
                        help="print the statements found (organ, state, clause, span, cues) with the labels")


def run_cli(args: argparse.Namespace) -> int:
    """Print the uptake labels of one report as JSON, or (--eval) the agreement with a labelled set."""
    if args.labelled:
        if args.file:
            raise InputError("give either a report FILE or --eval LABELLED, not both")
        result = evaluate_labelled(read_labelled(args.labelled), tuple(args.lexicon), args.group_by)
        if args.json_out:
            from pet2rep.io import atomic_write_json

            atomic_write_json(args.json_out, {"source": str(args.labelled), **result})
        print(format_evaluation(result, str(args.labelled)))
        return 0
    if args.json_out or args.group_by:
        raise InputError("--json and --by go with --eval LABELLED")
    if not args.file:
        raise InputError("give a report FILE ('-' for standard input) or --eval LABELLED")
    text = read_report(args.file)
    lang = detect_lang(text) if args.lang == "auto" else args.lang
    lex = load_lexicon(lang, tuple(args.lexicon))
    stmts = extract_statements(text, lang, lex)
    labels = labels_from_statements(stmts)
    if args.statements:
        doc = {"lang": lang, "lexicon": lex.signature, "labels": labels, "statements": [s.as_dict() for s in stmts]}
        print(json.dumps(doc, ensure_ascii=False, indent=1))
    else:
        print(json.dumps(labels, ensure_ascii=False))
    return 0
