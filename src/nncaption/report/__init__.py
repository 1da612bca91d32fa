"""The run report: an HTML page, PNG figures, a Markdown summary and summary.json, from the store."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from nncaption.report.data import ReportData, collect, summary_dict

log = logging.getLogger(__name__)

__all__ = ["ReportData", "collect", "summary_dict", "write_report"]


def write_report(run_dir: Path, out_dir: Path | None = None, top: int | None = None, probe_images: int | None = None) -> Path:
    """Write the report of `run_dir` into `out_dir` (default RUN_DIR/report); return the HTML path."""
    from nncaption.report import figures
    from nncaption.report.render import render_html, render_markdown

    data = collect(Path(run_dir), top)
    out = Path(out_dir) if out_dir is not None else data.run_dir / "report"
    out.mkdir(parents=True, exist_ok=True)
    figures.status_figure(data, out / "status.png")
    figures.curves_figure(data, out / "curves.png")
    figures.groups_figure(data, out / "groups.png")
    probe = _probe(data, out, probe_images if probe_images is not None else data.config.search.probe_images)

    (out / "summary.md").write_text(render_markdown(data, probe), encoding="utf-8")
    (out / "summary.json").write_text(json.dumps(summary_dict(data), indent=2), encoding="utf-8")
    page = out / "index.html"
    page.write_text(render_html(data, probe), encoding="utf-8")
    log.info("report written to %s", page)
    return page


def _probe(data: ReportData, out: Path, count: int) -> dict[str, Any]:
    """Draw the probe images (grid and thumbnails) and gather the top candidates' captions of them."""
    from nncaption.report import figures

    image_ids, captions = figures.probe_captions(data, count)
    images, references = figures.load_probe_images(data.data_path, image_ids)
    if images is None:
        return {}
    thumbnails = []
    for image_id, image in zip(image_ids, images, strict=True):
        figures.save_thumbnail(image, out / f"probe_{image_id}.png")
        thumbnails.append(f"probe_{image_id}.png")
    figures.probe_grid(images, [f"image {i}" for i in image_ids], out / "probe_grid.png")
    return {"image_ids": image_ids, "captions": captions, "references": references, "thumbnails": thumbnails, "grid": True}
