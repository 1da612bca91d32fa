"""The report's values, collected from a run's store and files into plain Python values.

Every number in the report comes from `ReportData`, and `ReportData` reads the store only,
so the report and the store cannot disagree. `summary.json` in the report folder is the
same data for scripts.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nncaption.config import RunConfig, load_config
from nncaption.errors import UsageError
from nncaption.search.candidates import code_path
from nncaption.search.driver import UNFINISHED, trial_dir_of
from nncaption.store import Store

# Candidate metadata keys the status breakdown groups by, with their table titles.
GROUPS = {"generator": "generator", "k": "K", "base_model": "base model", "template": "prompt template"}
# Group value of a candidate whose metadata lacks the key. Only the LLM generators record
# K, base model and prompt template, so composer candidates get this value for those keys.
NO_GROUP = "-"
# Statuses whose candidates finished training and are ranked in the top table.
RANKED = ("trained", "degenerate")
Z_95 = 1.959964  # two-sided 95 % normal quantile


def wilson_interval(successes: int, total: int, z: float = Z_95) -> tuple[float, float]:
    """Return the Wilson score interval of a binomial proportion; (0, 1) when total is 0."""
    if total == 0:
        return 0.0, 1.0
    p = successes / total
    denominator = 1 + z * z / total
    centre = (p + z * z / (2 * total)) / denominator
    half = z * math.sqrt(p * (1 - p) / total + z * z / (4 * total * total)) / denominator
    # In exact arithmetic low <= p <= high; at p = 0 or 1 rounding can cross p by one ulp.
    return max(0.0, min(p, centre - half)), min(1.0, max(p, centre + half))


@dataclass
class Rate:
    successes: int
    total: int
    low: float
    high: float

    @property
    def value(self) -> float:
        return self.successes / self.total if self.total else 0.0


@dataclass
class CandidateView:
    """One candidate row as the report shows it."""

    id: int
    status: str
    message: str
    generator: str
    summary: str
    groups: dict[str, str]
    parameters: int | None
    flops: float | None
    seconds: float | None
    val_bleu4: float | None
    test_bleu4: float | None
    val_metrics: dict[str, float]
    test_metrics: dict[str, float]
    attempt: int
    duplicate_of: int | None
    code: str  # path relative to the run directory
    logs: list[str]  # prompt, reply and trial logs that exist, relative to the run directory
    epochs: list[tuple[int, float | None, float | None]]  # (epoch, train loss, val BLEU-4)


@dataclass
class ReportData:
    run_dir: Path
    config: RunConfig
    candidates: list[CandidateView]
    baselines: list[dict[str, Any]]
    status_counts: dict[str, int]
    by_group: dict[str, dict[str, Counter[str]]]
    success: Rate
    success_by_group: dict[str, dict[str, Rate]]
    top: list[CandidateView]
    best_baseline: dict[str, Any] | None
    constant: dict[str, Any] | None
    data_path: str | None
    llm_tokens: int
    elapsed_s: float
    unfinished: int = 0
    failures: list[tuple[str, str, int]] = field(default_factory=list)  # (status, message, candidates), most frequent first

    def shown_groups(self) -> list[str]:
        """Return the GROUPS keys for which some finished candidate has a value, in GROUPS order."""
        return [key for key in GROUPS if any(group != NO_GROUP for group in self.by_group[key])]

    def delta_to_baseline(self, candidate: CandidateView) -> float | None:
        """Return the candidate's test BLEU-4 minus the best baseline's (selected on val)."""
        if self.best_baseline is None or candidate.test_bleu4 is None or self.best_baseline["test_bleu4"] is None:
            return None
        return candidate.test_bleu4 - self.best_baseline["test_bleu4"]


def _flops(costs: dict[str, Any]) -> float | None:
    for name, value in costs.items():
        if "flops" in name.lower() and isinstance(value, (int, float)):
            return float(value)
    return None


def _json(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def _view(store: Store, run_dir: Path, row: Any) -> CandidateView:
    meta = json.loads(row["meta_json"])
    design = meta.get("design") or {}
    summary = f"{design['backbone']} {design['features']} -> {design['decoder']}" if design else str(meta.get("base_model") or "-")
    folder = run_dir / "candidates" / f"{row['id']:04d}"
    attempt = int(row["attempt"])
    trial = trial_dir_of(folder, attempt)
    files = (folder / "prompt.md", folder / "reply.md", trial / "stdout.log", trial / "stderr.log")
    logs = [str(p.relative_to(run_dir)) for p in files if p.is_file()]
    groups = {key: str(meta.get(key) if key != "generator" else row["generator"]) for key in GROUPS}
    groups = {key: (NO_GROUP if value == "None" else value) for key, value in groups.items()}
    epochs = [(int(e["epoch"]), e["train_loss"], e["val_bleu4"]) for e in store.epochs(row["id"])]
    return CandidateView(
        id=int(row["id"]), status=row["status"], message=row["message"], generator=row["generator"], summary=summary,
        groups=groups, parameters=row["parameters"], flops=_flops(_json(row["costs_json"]) or {}), seconds=row["seconds"],
        val_bleu4=row["val_bleu4"], test_bleu4=row["test_bleu4"], val_metrics=_json(row["val_metrics_json"]) or {},
        test_metrics=_json(row["test_metrics_json"]) or {}, attempt=attempt, duplicate_of=row["duplicate_of"],
        code=str(code_path(folder, attempt).relative_to(run_dir)), logs=logs, epochs=epochs,
    )


def _rate(views: list[CandidateView]) -> Rate:
    successes = sum(1 for v in views if v.status == "trained")
    low, high = wilson_interval(successes, len(views))
    return Rate(successes, len(views), low, high)


def collect(run_dir: Path, top: int | None = None) -> ReportData:
    """Read a run directory into ReportData; raise UsageError when it has no store."""
    run_dir = Path(run_dir)
    if not (run_dir / "store.sqlite").is_file():
        raise UsageError(f"{run_dir} has no store.sqlite; pass the run directory of an nncaption search (its --run-dir)")
    config = load_config(run_dir / "config.yaml") if (run_dir / "config.yaml").is_file() else RunConfig()
    store = Store(run_dir / "store.sqlite", create=False)
    try:
        views = [_view(store, run_dir, row) for row in store.candidates()]
        baselines = [dict(row, epochs=[(int(e["epoch"]), e["val_bleu4"]) for e in store.baseline_epochs(row["name"])
                                       if e["val_bleu4"] is not None]) for row in store.baselines()]
        data_meta = store.get_meta("data", {}) or {}
        # Runs stored before the subset-scored figures fall back to the manifest's whole-split ones.
        constant = store.get_meta("constant_caption") or (data_meta.get("manifest") or {}).get("constant_caption")
        tokens, elapsed = store.llm_tokens(), float(store.get_meta("elapsed_s", 0.0))
    finally:
        store.close()

    finished = [v for v in views if v.status not in UNFINISHED]
    by_group: dict[str, dict[str, Counter[str]]] = {key: defaultdict(Counter) for key in GROUPS}
    members: dict[str, dict[str, list[CandidateView]]] = {key: defaultdict(list) for key in GROUPS}
    for view in finished:
        for key in GROUPS:
            by_group[key][view.groups[key]][view.status] += 1
            members[key][view.groups[key]].append(view)

    scored = sorted((v for v in finished if v.status in RANKED and v.val_bleu4 is not None),
                    key=lambda v: (-v.val_bleu4, v.id))
    trained_baselines = [b for b in baselines if b["status"] in RANKED and b["val_bleu4"] is not None]
    best_baseline = max(trained_baselines, key=lambda b: b["val_bleu4"]) if trained_baselines else None
    return ReportData(
        run_dir=run_dir, config=config, candidates=views, baselines=baselines,
        status_counts=dict(Counter(v.status for v in finished).most_common()),
        by_group={k: dict(v) for k, v in by_group.items()},
        success=_rate(finished),
        success_by_group={k: {g: _rate(m) for g, m in groups.items()} for k, groups in members.items()},
        top=scored[: top if top is not None else config.search.report_top],
        best_baseline=best_baseline, constant=constant,
        data_path=data_meta.get("path"), llm_tokens=tokens, elapsed_s=elapsed,
        unfinished=len(views) - len(finished),
        failures=_failures(finished),
    )


def _failures(finished: list[CandidateView], limit: int = 15) -> list[tuple[str, str, int]]:
    """Count the failure messages of candidates that did not train, with line numbers removed so equal faults group."""
    counts: Counter[tuple[str, str]] = Counter()
    for view in finished:
        if view.status not in RANKED:
            message = re.sub(r"\bline \d+", "line N", view.message.splitlines()[0] if view.message else "")[:160]
            counts[(view.status, message)] += 1
    return [(status, message, count) for (status, message), count in counts.most_common(limit)]


def summary_dict(data: ReportData) -> dict[str, Any]:
    """Return the report's numbers as JSON-ready values (written to summary.json)."""
    return {
        "candidates": len(data.candidates),
        "unfinished": data.unfinished,
        "status_counts": data.status_counts,
        "success": {"trained": data.success.successes, "finished": data.success.total,
                    "rate": data.success.value, "ci95": [data.success.low, data.success.high]},
        "by_group": {k: {g: dict(c) for g, c in groups.items()} for k, groups in data.by_group.items()},
        "top": [{"id": v.id, "val_bleu4": v.val_bleu4, "test_bleu4": v.test_bleu4, "parameters": v.parameters,
                 "flops": v.flops, "seconds": v.seconds, "delta_test_bleu4_to_best_baseline": data.delta_to_baseline(v)}
                for v in data.top],
        "baselines": [{"name": b["name"], "status": b["status"], "val_bleu4": b["val_bleu4"], "test_bleu4": b["test_bleu4"],
                       "parameters": b["parameters"], "seconds": b["seconds"]} for b in data.baselines],
        "best_baseline": None if data.best_baseline is None else data.best_baseline["name"],
        "failures": [{"status": s, "message": m, "candidates": c} for s, m, c in data.failures],
        "llm_tokens": data.llm_tokens,
        "elapsed_s": data.elapsed_s,
    }
