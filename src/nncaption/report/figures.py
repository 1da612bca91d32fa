"""PNG figures of the report, drawn with matplotlib's Agg backend (no display needed)."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from nncaption.report.data import GROUPS, ReportData  # noqa: E402


def status_figure(data: ReportData, path: Path) -> Path:
    """Bar chart of the candidates' final statuses."""
    names = list(data.status_counts) or ["none"]
    counts = [data.status_counts.get(n, 0) for n in names]
    figure, axes = plt.subplots(figsize=(7, 3.2))
    axes.barh(names[::-1], counts[::-1], color="#4a78a8")
    axes.set_xlabel("candidates")
    axes.set_title(f"final status of {sum(counts)} candidates")
    for index, count in enumerate(counts[::-1]):
        axes.text(count, index, f" {count}", va="center")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path


def curves_figure(data: ReportData, path: Path) -> Path:
    """Val BLEU-4 after each epoch, one line per top candidate (and per trained baseline)."""
    figure, axes = plt.subplots(figsize=(7, 4))
    for view in data.top:
        points = [(epoch, bleu) for epoch, _, bleu in view.epochs if bleu is not None]
        if points:
            axes.plot(*zip(*points, strict=True), marker="o", label=f"#{view.id} {view.summary}"[:48])
    for baseline in data.baselines:
        points = baseline.get("epochs") or []
        if points:
            axes.plot(*zip(*points, strict=True), linestyle="--", marker="x", label=f"baseline {baseline['name']}")
    axes.set_xlabel("epoch")
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes.set_ylabel("val BLEU-4")
    axes.set_title("val BLEU-4 by epoch")
    if axes.get_legend_handles_labels()[0]:
        axes.legend(fontsize=7, loc="best")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path


def groups_figure(data: ReportData, path: Path) -> Path:
    """Trained rate with its 95 % Wilson interval per group value, one panel per grouping key with values."""
    keys = data.shown_groups() or ["generator"]
    figure, axes_row = plt.subplots(1, len(keys), figsize=(3.2 * len(keys), 3.2), squeeze=False)
    for axes, key in zip(axes_row[0], keys, strict=True):
        rates = sorted(data.success_by_group[key].items())
        names = [name[:14] for name, _ in rates]
        values = [rate.value for _, rate in rates]
        # Clipped at zero: at a rate of 0 or 1 rounding can put a Wilson bound a hair past the value.
        errors = [[max(0.0, rate.value - rate.low) for _, rate in rates], [max(0.0, rate.high - rate.value) for _, rate in rates]]
        axes.bar(names, values, yerr=errors, capsize=4, color="#6a9f58")
        axes.set_ylim(0, 1)
        axes.set_title(f"trained rate by {GROUPS[key]}", fontsize=9)
        axes.tick_params(axis="x", labelrotation=45, labelsize=7)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path


def probe_captions(data: ReportData, count: int) -> tuple[list[int], dict[int, dict[int, str]]]:
    """Pick `count` val images that every top candidate captioned; return their ids and {candidate: {image: caption}}."""
    captions: dict[int, dict[int, str]] = {}
    for view in data.top:
        path = data.run_dir / Path(view.code).parent / "trial" / "val_hypotheses.json"
        if path.is_file():
            captions[view.id] = {int(r["image_id"]): str(r["caption"]) for r in json.loads(path.read_text(encoding="utf-8"))}
    if not captions:
        return [], {}
    common = set.intersection(*(set(c) for c in captions.values()))
    return sorted(common)[:count], captions


def probe_grid(images: np.ndarray, titles: list[str], path: Path) -> Path:
    """Save the probe images side by side; `images` is uint8 [N, 3, S, S]."""
    count = len(images)
    figure, axes = plt.subplots(1, count, figsize=(2.0 * count, 2.3), squeeze=False)
    for index in range(count):
        axes[0][index].imshow(np.transpose(images[index], (1, 2, 0)), interpolation="nearest")
        axes[0][index].set_title(titles[index], fontsize=8)
        axes[0][index].axis("off")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path


def save_thumbnail(image: np.ndarray, path: Path) -> Path:
    """Save one uint8 [3, S, S] image as a PNG, scaled up for the HTML table."""
    figure = plt.figure(figsize=(1.2, 1.2), dpi=100)
    axes = figure.add_axes((0, 0, 1, 1))
    axes.imshow(np.transpose(image, (1, 2, 0)), interpolation="nearest")
    axes.axis("off")
    figure.savefig(path)
    plt.close(figure)
    return path


def load_probe_images(data_path: str | None, image_ids: list[int]) -> tuple[np.ndarray | None, dict[int, list[str]]]:
    """Read the probe images and their references from the prepared cache; (None, {}) when it is gone."""
    from nncaption.data.cache import load_prepared

    if not data_path or not image_ids or not (Path(data_path) / "images_val.npy").is_file():
        return None, {}
    prepared = load_prepared(Path(data_path))
    ids = prepared.image_ids("val")
    positions = [ids.index(i) for i in image_ids]
    images = np.load(Path(data_path) / "images_val.npy", mmap_mode="r")[positions]
    references = prepared.references("val")
    return np.asarray(images), {i: references[i] for i in image_ids}
