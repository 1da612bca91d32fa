"""Export of a run's trained candidates in the LEMUR (nn-dataset) layout.

LEMUR keeps a model as `nn/<name>.py` and its statistics per epoch as
`stat/train/<task>_<dataset>_<metric>_<name>/<epoch>.json`. Each statistics file is a JSON
list of trial records, best `accuracy` first. A record contains the hyperparameters (`lr`,
`momentum`, ...), `batch`, `transform`, `uid` (the MD5 of the hyperparameters), `duration`
(nanoseconds of training so far) and `accuracy`. Field names follow the stat files of the
nn-dataset repository (ABrain-One/nn-dataset, `ab/nn/stat/train/`).
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nncaption.config import RunConfig, load_config
from nncaption.errors import StoreError, UsageError
from nncaption.search.candidates import code_path
from nncaption.store.sqlite import Store

log = logging.getLogger(__name__)

TASK = "img-captioning"
METRIC = "bleu"


@dataclass
class ExportedModel:
    candidate_id: int
    name: str
    model_file: Path
    stat_dir: Path
    epochs: int


def model_name(prefix: str, source: str) -> str:
    """Return LEMUR's model name `<prefix>-<md5 of the code>`."""
    return f"{prefix}-{hashlib.md5(source.encode('utf-8')).hexdigest()}"


def dataset_name(config: RunConfig) -> str:
    """Return the LEMUR dataset name: `coco` for COCO-based sources, otherwise the source name."""
    return "coco" if config.data.source in ("coco", "karpathy") else config.data.source


def stat_record(prm: dict[str, Any], config: RunConfig, accuracy: float, duration_ns: int) -> dict[str, Any]:
    """Build one LEMUR trial record; the uid hashes the hyperparameters only, as LEMUR's does."""
    hyperparameters = {k: v for k, v in prm.items() if k not in ("uid", "duration", "accuracy", "epoch")}
    hyperparameters["batch"] = config.trial.batch_size
    # NOTE: LEMUR names its image transforms (e.g. norm_256); norm_<size> states our normalised resize.
    hyperparameters["transform"] = f"norm_{config.data.image_size}"
    uid = hashlib.md5(json.dumps(hyperparameters, sort_keys=True).encode("utf-8")).hexdigest()
    return {**hyperparameters, "uid": uid, "duration": int(duration_ns), "accuracy": float(accuracy)}


def export_lemur(run_dir: Path, out_dir: Path, prefix: str = "nncap") -> list[ExportedModel]:
    """Write every trained candidate of `run_dir` into `out_dir` in LEMUR's layout."""
    if not prefix or "_" in prefix or "/" in prefix:
        raise UsageError(f"--prefix must be non-empty without '_' or '/', because LEMUR splits folder names on '_'; got {prefix!r}")
    run_dir, out_dir = Path(run_dir), Path(out_dir)
    if not (run_dir / "store.sqlite").is_file():
        raise UsageError(f"{run_dir} has no store.sqlite; pass the run directory of an nncaption search (its --run-dir)")
    config = load_config(run_dir / "config.yaml")
    store = Store(run_dir / "store.sqlite", create=False)
    try:
        trained = [row for row in store.candidates() if row["status"] == "trained"]
        _check_model_files(run_dir, trained)
        exported = [_export_one(store, run_dir, out_dir, row, config, prefix) for row in trained]
    finally:
        store.close()
    log.info("exported %d models to %s", len(exported), out_dir)
    return exported


def _check_model_files(run_dir: Path, rows: list[Any]) -> None:
    """Raise StoreError, before anything is written, when a trained candidate's model file is missing."""
    missing = [path for row in rows
               if not (path := code_path(run_dir / "candidates" / f"{row['id']:04d}", int(row["attempt"]))).is_file()]
    if missing:
        first_paths = ", ".join(str(path) for path in missing[:3])
        raise StoreError(f"{len(missing)} trained candidate model file(s) missing from {run_dir}: {first_paths}"
                         f"{' ...' if len(missing) > 3 else ''}; copy the run directory with its candidates/ folder")


def _export_one(store: Store, run_dir: Path, out_dir: Path, row: Any, config: RunConfig, prefix: str) -> ExportedModel:
    source = code_path(run_dir / "candidates" / f"{row['id']:04d}", int(row["attempt"])).read_text(encoding="utf-8")
    name = model_name(prefix, source)
    model_file = out_dir / "nn" / f"{name}.py"
    model_file.parent.mkdir(parents=True, exist_ok=True)
    model_file.write_text(source, encoding="utf-8")

    stat_dir = out_dir / "stat" / "train" / f"{TASK}_{dataset_name(config)}_{METRIC}_{name}"
    stat_dir.mkdir(parents=True, exist_ok=True)
    prm = json.loads(row["prm_json"] or "{}")
    elapsed = 0.0
    epochs = store.epochs(row["id"])
    for epoch in epochs:
        elapsed += (epoch["train_seconds"] or 0.0) + (epoch["eval_seconds"] or 0.0)
        metrics = json.loads(epoch["val_metrics_json"])
        accuracy = metrics.get("lemur_bleu4", metrics.get("Bleu_4", 0.0))
        record = stat_record(prm, config, accuracy, int(elapsed * 1e9))
        (stat_dir / f"{epoch['epoch']}.json").write_text(json.dumps([record], indent=4), encoding="utf-8")
    return ExportedModel(int(row["id"]), name, model_file, stat_dir, len(epochs))
