"""A stand-in for run_trial that sleeps instead of training, for fast loop and resume tests.

A model file that contains the marker `FAIL_BUILD` fails with build_error, so the loop's
runtime repair round runs. Every call appends one line to `$NNCAPTION_FAKE_TRIAL_LOG`.
"""

from __future__ import annotations

import json
import os
import random
import time
from pathlib import Path

from nncaption.status import Status
from nncaption.trial.runner import EpochScore, TrialOutcome

EPOCH_SECONDS = (0.05, 0.25)


def fake_run_trial(model_path, trial_dir, prepared, config, prm, param_budget, on_epoch=None, resume=False,
                   keep_resume_state=False):
    source = Path(model_path).read_text(encoding="utf-8")
    log = os.environ.get("NNCAPTION_FAKE_TRIAL_LOG")
    if log:
        with open(log, "a", encoding="utf-8") as handle:
            handle.write(json.dumps({"model": str(model_path), "pid": os.getpid()}) + "\n")
    Path(trial_dir).mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    if "FAIL_BUILD" in source:
        return TrialOutcome(Status.BUILD_ERROR, "RuntimeError: FAIL_BUILD marker", seconds=0.01)

    seed = sum(source.encode("utf-8")) % 1000
    outcome = TrialOutcome(Status.TRAINED, parameters=1000 + seed, prm=dict(prm))
    for epoch in range(1, config.trial.epochs + 1):
        time.sleep(random.uniform(*EPOCH_SECONDS))
        score = EpochScore(epoch, 3.0 / epoch, {"Bleu_4": seed / 10000 + epoch / 100, "CIDEr": 0.1 * epoch},
                           0.1, 0.05, 100.0)
        outcome.epochs.append(score)
        if on_epoch is not None:
            on_epoch(score)
    outcome.best_epoch = config.trial.epochs
    words = ["a", "red", "blue", "circle", "square", "left", "right"]
    captions = [{"image_id": image_id, "caption": f"{words[seed % 7]} {words[(seed + image_id) % 7]} shape"}
                for image_id in prepared.image_ids("val")[:12]]
    (Path(trial_dir) / "val_hypotheses.json").write_text(json.dumps(captions), encoding="utf-8")
    outcome.test_metrics = {"Bleu_4": seed / 10000, "CIDEr": 0.2}
    outcome.seconds = time.monotonic() - started
    return outcome
