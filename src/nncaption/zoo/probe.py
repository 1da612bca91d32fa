"""Build a zoo file's model once on the CPU to measure its size and feature shape.

Which model is counted in `ZooEntry.params`:
- a backbone with `Features`: `Features(3, DEFAULT_WIDTH)`, the part an encoder reuses;
- a backbone without it (for instance a LEMUR classification file): `Net` for 10 classes;
- a captioner: `Net` for a 500-word vocabulary and 32×32 images.
A probe that fails leaves the numbers empty and stores the error in `probe_error`,
so one broken user file never hides the rest of the zoo.

Built-in files ship with the package and are probed in this process. Files from user
folders (a LEMUR checkout contains LLM-written models) are untrusted like any candidate:
they are probed in a sandboxed child process (`probe_entries`), never imported here. One
child probes all of them, because each child imports torch afresh. When that child fails
(a policy violation, a crash, a timeout), the files it had not measured are probed again:
the first of them alone, so that the failure is charged to it only when it fails alone too,
and the rest together in a new child.
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

import torch

from nncaption.zoo.registry import (
    PROBE_IMAGE_SIZE,
    PROBE_NUM_CLASSES,
    PROBE_PRM,
    PROBE_VOCAB_SIZE,
    ZooEntry,
    load_module,
)

log = logging.getLogger(__name__)

_CACHE: dict[tuple[str, int, int], dict] = {}


def _cache_key(path: Path) -> tuple[str, int, int]:
    stat = path.stat()
    return (str(path), stat.st_mtime_ns, stat.st_size)


def probe_prm(module: object) -> dict[str, float]:
    """Hyperparameters for building a file's Net: PROBE_PRM plus 0.5 for any other declared key."""
    prm = dict(PROBE_PRM)
    declare = getattr(module, "supported_hyperparameters", None)
    if callable(declare):
        for key in declare():
            prm.setdefault(str(key), 0.5)
    return prm


def _count(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


@torch.no_grad()
def _measure(entry: ZooEntry) -> dict:
    module = load_module(entry.path)
    cpu = torch.device("cpu")
    in_shape = (2, 3, PROBE_IMAGE_SIZE, PROBE_IMAGE_SIZE)

    if entry.kind == "captioner":
        net = module.Net(in_shape, (PROBE_VOCAB_SIZE,), probe_prm(module), cpu)
        return {"params": _count(net)}
    if not entry.has_features:
        net = module.Net(in_shape, (PROBE_NUM_CLASSES,), probe_prm(module), cpu)
        return {"params": _count(net)}

    features = module.Features(3, entry.default_width).eval()
    grid = features(torch.zeros(in_shape))
    if grid.dim() != 4:
        raise ValueError(f"Features returned a {grid.dim()}-D tensor, expected [B, C, h, w]")
    return {
        "params": _count(features),
        "feature_channels": int(grid.shape[1]),
        "feature_grid": (int(grid.shape[2]), int(grid.shape[3])),
    }


def probe_entries(entries: list[ZooEntry]) -> list[ZooEntry]:
    """Probe every entry: built-in files here, user files in a sandboxed child process."""
    untrusted = [e for e in entries if e.origin != "builtin" and _cache_key(e.path) not in _CACHE]
    if untrusted:
        _probe_in_sandbox(untrusted)
    return [probe_entry(e) for e in entries]


def _probe_in_sandbox(entries: list[ZooEntry]) -> None:
    """Fill the cache for `entries` from sandboxed children, so that one failing file marks only itself."""
    pending = list(entries)
    while pending:
        measured, failure = _run_probe_child(pending)
        unmeasured = _store_measures(pending, measured)
        if not unmeasured:
            return
        if failure is None or len(pending) == 1:
            _store_failure(unmeasured, failure)
            return

        # The shared child failed before these files: probe the first alone to find out whether it is the cause.
        log.warning("zoo probe child failed (%s); probing %d unmeasured file(s) again", failure, len(unmeasured))
        first, pending = unmeasured[0], unmeasured[1:]
        alone, alone_failure = _run_probe_child([first])
        if _store_measures([first], alone):
            _store_failure([first], alone_failure)


def _run_probe_child(entries: list[ZooEntry]) -> tuple[dict[str, dict], str | None]:
    """Probe `entries` in one sandboxed child; return the measures by path and the child's failure, if any."""
    import tempfile

    from nncaption.sandbox import SandboxLimits, run_in_sandbox
    from nncaption.sandbox.outcome import classify_failure

    request = {"entries": [dataclasses.asdict(e) | {"path": str(e.path)} for e in entries]}
    limits = SandboxLimits(wall_seconds=120.0 + 10.0 * len(entries))
    with tempfile.TemporaryDirectory(prefix="nncaption-zoo-probe-") as workdir:
        result = run_in_sandbox("nncaption.zoo.probe_child", request, Path(workdir), limits)
    measured = {r["path"]: r["measures"] for r in result.records if r.get("type") == "probe"}
    for measures in measured.values():
        if measures.get("feature_grid") is not None:
            measures["feature_grid"] = tuple(measures["feature_grid"])
    failure = None if any(r.get("type") == "result" for r in result.records) else classify_failure(result)[1]
    return measured, failure


def _store_measures(entries: list[ZooEntry], measured: dict[str, dict]) -> list[ZooEntry]:
    """Cache the measures of the entries that have them; return the entries that have none."""
    missing = []
    for entry in entries:
        if str(entry.path) in measured:
            _CACHE[_cache_key(entry.path)] = measured[str(entry.path)]
        else:
            missing.append(entry)
    return missing


def _store_failure(entries: list[ZooEntry], failure: str | None) -> None:
    error = f"probe process failed: {failure}" if failure else "no probe result"
    for entry in entries:
        _CACHE[_cache_key(entry.path)] = {"probe_error": error}


def measure_in_child(entry: ZooEntry) -> dict:
    """Measure one entry inside the probe child, turning its failure into `probe_error`."""
    try:
        return _measure(entry)
    except Exception as exc:  # noqa: BLE001 - any error in a user's file is data
        return {"probe_error": f"{type(exc).__name__}: {exc}"}


def probe_entry(entry: ZooEntry) -> ZooEntry:
    """Return `entry` with params and feature dimensions filled in, or with probe_error set."""
    key = _cache_key(entry.path)
    if key not in _CACHE:
        try:
            _CACHE[key] = _measure(entry)
        except Exception as exc:  # noqa: BLE001 - any error in a user's file is data, recorded below
            message = f"{type(exc).__name__}: {exc}"
            log.warning("zoo probe of %s failed: %s", entry.path, message)
            _CACHE[key] = {"probe_error": message}
    return dataclasses.replace(entry, **_CACHE[key])
