"""`nncaption score`: COCO caption metrics for a results file against COCO annotations."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from nncaption.cli.tables import format_table
from nncaption.errors import DataError, NncaptionError, UsageError
from nncaption.metrics import evaluate_detailed
from nncaption.metrics.base import resolve_score_names
from nncaption.metrics.coco_files import load_annotations, load_results

# The COCO evaluation's table; METEOR is listed as skipped where Java is missing.
CLI_DEFAULT_METRICS = ["bleu", "meteor", "rouge_l", "cider"]


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "score",
        help="score a COCO results file with the COCO caption metrics",
        description='Score captions in the COCO results format ([{"image_id", "caption"}]) against '
        "COCO captions annotations, with the values of the COCO caption evaluation (pycocoevalcap 1.2): "
        "Bleu_1..Bleu_4, METEOR (needs Java), ROUGE_L and CIDEr, on the 0-1 scale except CIDEr, "
        "which is reported on the COCO 0-10 scale. Only images with a hypothesis are scored.",
    )
    parser.add_argument(
        "--results", required=True, metavar="RESULTS.json", help="hypotheses, COCO results format"
    )
    parser.add_argument(
        "--annotations",
        required=True,
        metavar="CAPTIONS.json",
        help="references, COCO captions annotation file",
    )
    parser.add_argument(
        "--metrics",
        nargs="+",
        metavar="METRIC",
        help="metrics to compute, space- or comma-separated: bleu, meteor, rouge_l, cider, lemur_bleu4 "
        "or single scores such as Bleu_4 (default: bleu meteor rouge_l cider)",
    )
    parser.add_argument("--json", action="store_true", help="print the scores as one JSON object")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    metrics = (
        [name for value in args.metrics for name in value.split(",") if name]
        if args.metrics
        else None
    )
    for option, path in (("--results", args.results), ("--annotations", args.annotations)):
        if not Path(path).is_file():
            found = "is not a regular file" if Path(path).exists() else "not found"
            raise UsageError(f"{option} file {path} {found}; pass the path of a JSON file")
    hypotheses = load_results(args.results)
    references = load_annotations(args.annotations)
    if not hypotheses:
        raise DataError(f"results file {args.results} contains no hypotheses; it needs at least one "
                        '{"image_id": ..., "caption": ...} entry')
    unknown = [image_id for image_id in hypotheses if image_id not in references]
    if unknown:
        raise DataError(f"results file {args.results} has hypotheses for {len(unknown)} image id(s) that "
                        f"{args.annotations} has no references for, e.g. {unknown[0]!r}; check the image ids")
    evaluation = evaluate_detailed(references, hypotheses, metrics or CLI_DEFAULT_METRICS)
    if not evaluation.scores:
        reasons = "; ".join(f"{name} {reason}" for name, reason in evaluation.skipped.items())
        raise NncaptionError(f"none of the requested metrics could be computed ({reasons})")

    if args.json:
        print(
            json.dumps(
                {
                    "images": len(hypotheses),
                    "scores": evaluation.scores,
                    "skipped": evaluation.skipped,
                },
                indent=2,
            )
        )
        return 0

    rows = []
    for names in resolve_score_names(metrics or CLI_DEFAULT_METRICS).values():
        for name in names:
            label = (
                "lemur_bleu4 (mean sentence BLEU-4, not COCO)" if name == "lemur_bleu4" else name
            )
            if name in evaluation.scores:
                rows.append([label, f"{evaluation.scores[name]:.4f}"])
            else:
                rows.append([label, "skipped" if name in evaluation.skipped else "-"])
    skipped = [f"{name} {reason}" for name, reason in evaluation.skipped.items()]
    print(f"{len(hypotheses)} image{'' if len(hypotheses) == 1 else 's'} scored")
    print(format_table(["metric", "score"], rows))
    if skipped:
        print("\n" + "\n".join(skipped))
    return 0
