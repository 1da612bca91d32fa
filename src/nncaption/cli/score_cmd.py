"""`nncaption score`: COCO caption metrics for a results file against COCO annotations."""

from __future__ import annotations

import argparse
import json

from nncaption.cli.tables import format_table
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
    hypotheses = load_results(args.results)
    references = load_annotations(args.annotations)
    evaluation = evaluate_detailed(references, hypotheses, metrics or CLI_DEFAULT_METRICS)

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
                rows.append([label, evaluation.skipped.get(name, "-")])
    print(f"{len(hypotheses)} images scored")
    print(format_table(["metric", "score"], rows))
    return 0
