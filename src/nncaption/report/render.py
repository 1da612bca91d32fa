"""The report's Markdown summary and HTML page, both rendered from ReportData."""

from __future__ import annotations

import html
from typing import Any

from nncaption.report.data import GROUPS, Rate, ReportData


def fmt_score(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


def fmt_delta(value: float | None) -> str:
    return "-" if value is None else f"{value:+.4f}"


def fmt_count(value: float | None) -> str:
    if value is None:
        return "-"
    for scale, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if value >= scale:
            return f"{value / scale:.2f}{suffix}"
    return f"{value:.0f}"


def fmt_seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def fmt_rate(rate: Rate) -> str:
    return f"{rate.successes}/{rate.total} = {100 * rate.value:.1f} % (95 % CI {100 * rate.low:.1f}-{100 * rate.high:.1f} %)"


def top_rows(data: ReportData) -> list[list[str]]:
    rows = []
    for view in data.top:
        rows.append([f"#{view.id}", view.summary, view.status, fmt_score(view.val_bleu4), fmt_score(view.val_metrics.get("CIDEr")),
                     fmt_score(view.test_bleu4), fmt_score(view.test_metrics.get("CIDEr")), fmt_count(view.parameters),
                     fmt_count(view.flops), fmt_seconds(view.seconds), fmt_delta(data.delta_to_baseline(view))])
    return rows


TOP_HEADERS = ["candidate", "design", "status", "val BLEU-4", "val CIDEr", "test BLEU-4", "test CIDEr", "parameters", "FLOPs",
               "seconds", "Δ test BLEU-4 vs best baseline"]
FAILURE_HEADERS = ["status", "message (line numbers removed)", "candidates"]


def failure_rows(data: ReportData) -> list[list[str]]:
    return [[status, message, str(count)] for status, message, count in data.failures]


BASELINE_HEADERS = ["baseline", "status", "val BLEU-4", "test BLEU-4", "parameters", "seconds"]


def baseline_rows(data: ReportData) -> list[list[str]]:
    return [[b["name"], b["status"], fmt_score(b["val_bleu4"]), fmt_score(b["test_bleu4"]), fmt_count(b["parameters"]),
             fmt_seconds(b["seconds"])] for b in data.baselines]


def group_rows(data: ReportData, key: str) -> tuple[list[str], list[list[str]]]:
    statuses = list(data.status_counts)
    headers = [GROUPS[key], *statuses, "trained rate (95 % CI)"]
    rows = []
    for group, counts in sorted(data.by_group[key].items()):
        rows.append([group, *[str(counts.get(s, 0)) for s in statuses], fmt_rate(data.success_by_group[key][group])])
    return headers, rows


def omitted_groups_note(data: ReportData) -> str | None:
    """Return one sentence naming the breakdowns left out because no candidate has a value, or None."""
    omitted = [GROUPS[key] for key in GROUPS if key not in data.shown_groups()]
    if not omitted:
        return None
    names = omitted[0] if len(omitted) == 1 else ", ".join(omitted[:-1]) + " or " + omitted[-1]
    pronoun = "it" if len(omitted) == 1 else "them"
    return (f"No table by {names}, because no finished candidate of this run has a value for {pronoun}. "
            "Only the LLM generators (openai, hf and replay) record K, base model and prompt template.")


def _md_table(headers: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def render_markdown(data: ReportData, probe: dict[str, Any]) -> str:
    """Return the Markdown summary of the run."""
    parts = [f"# nncaption search report: {data.run_dir.name}", "",
             f"{len(data.candidates)} candidates ({data.unfinished} unfinished), {data.elapsed_s / 60:.1f} min of search, "
             f"{data.llm_tokens} LLM tokens.", "", f"**Trained:** {fmt_rate(data.success)}", "", "## Status breakdown", "",
             _md_table(["status", "candidates"], [[s, str(c)] for s, c in data.status_counts.items()])]
    for key in data.shown_groups():
        parts += ["", f"### By {GROUPS[key]}", "", _md_table(*group_rows(data, key))]
    note = omitted_groups_note(data)
    if note:
        parts += ["", note]
    if data.failures:
        parts += ["", "## Most frequent failures", "", _md_table(FAILURE_HEADERS, failure_rows(data))]
    parts += ["", "## Top candidates (selected on val BLEU-4)", "", _md_table(TOP_HEADERS, top_rows(data))]
    if data.baselines:
        parts += ["", "## Baselines", "", _md_table(BASELINE_HEADERS, baseline_rows(data))]
    if data.constant:
        parts += ["", f"Best constant caption: \"{data.constant['caption']}\" (val BLEU-4 {fmt_score(data.constant['val_bleu4'])}, "
                      f"test BLEU-4 {fmt_score(data.constant['test_bleu4'])})."]
    parts += ["", "## Figures", "", "![status](status.png)", "", "![trained rate by group](groups.png)", "",
              "![val BLEU-4 by epoch](curves.png)"]
    if probe.get("grid"):
        parts += ["", "## Probe images", "", "![probe images](probe_grid.png)", "", _md_table(*_probe_rows(data, probe))]
    return "\n".join(parts) + "\n"


def _probe_rows(data: ReportData, probe: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    """Return one row per probe image: its id, first reference and each top candidate's caption."""
    shown = [v for v in data.top if v.id in probe["captions"]]
    headers = ["image", "first reference"] + [f"#{v.id}" for v in shown]
    rows = []
    for image_id in probe["image_ids"]:
        references = probe["references"].get(image_id) or [""]
        rows.append([str(image_id), references[0]] + [probe["captions"][v.id].get(image_id, "") for v in shown])
    return headers, rows


def _html_table(headers: list[str], rows: list[list[str]], raw_columns: tuple[int, ...] = ()) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{cell if i in raw_columns else html.escape(cell)}</td>" for i, cell in enumerate(row))
                   + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _links(view: Any) -> str:
    links = [f'<a href="../{html.escape(view.code)}">code</a>']
    links += [f'<a href="../{html.escape(path)}">{html.escape(path.rsplit("/", 1)[-1])}</a>' for path in view.logs]
    return " ".join(links)


STYLE = """body{font-family:sans-serif;margin:2em;max-width:1200px}table{border-collapse:collapse;margin:1em 0}
td,th{border:1px solid #ccc;padding:3px 8px;font-size:13px;text-align:left}th{background:#eee}
img.thumb{width:96px;height:96px;image-rendering:pixelated}.refs{color:#555}"""


def render_html(data: ReportData, probe: dict[str, Any]) -> str:
    """Return the HTML page of the run; images and links are relative to the report folder."""
    top = _html_table(TOP_HEADERS + ["links"], [row + [_links(v)] for row, v in zip(top_rows(data), data.top, strict=True)], (11,))
    groups = "".join(f"<h3>By {html.escape(GROUPS[key])}</h3>" + _html_table(*group_rows(data, key)) for key in data.shown_groups())
    note = omitted_groups_note(data)
    if note:
        groups += f"<p>{html.escape(note)}</p>"
    every = _html_table(["candidate", "status", "attempt", "message", "val BLEU-4", "links"],
                        [[f"#{v.id}", v.status, str(v.attempt), v.message[:160], fmt_score(v.val_bleu4), _links(v)]
                         for v in data.candidates], (5,))
    parts = [f"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>nncaption report: {html.escape(data.run_dir.name)}</title>",
             f"<style>{STYLE}</style></head><body>", f"<h1>nncaption search report: {html.escape(data.run_dir.name)}</h1>",
             f"<p>{len(data.candidates)} candidates ({data.unfinished} unfinished), {data.elapsed_s / 60:.1f} min of search, "
             f"{data.llm_tokens} LLM tokens.</p>", f"<p id=\"success\"><b>Trained:</b> {html.escape(fmt_rate(data.success))}</p>",
             "<h2>Status breakdown</h2>", _html_table(["status", "candidates"], [[s, str(c)] for s, c in data.status_counts.items()]),
             '<img src="status.png" alt="status breakdown">', groups, '<img src="groups.png" alt="trained rate by group">',
             "<h2>Most frequent failures</h2>" + _html_table(FAILURE_HEADERS, failure_rows(data)) if data.failures else "",
             "<h2>Top candidates (selected on val BLEU-4)</h2>", top]
    if data.baselines:
        parts += ["<h2>Baselines</h2>", _html_table(BASELINE_HEADERS, baseline_rows(data))]
    if data.constant:
        parts.append(f"<p>Best constant caption: &ldquo;{html.escape(data.constant['caption'])}&rdquo; "
                     f"(val BLEU-4 {fmt_score(data.constant['val_bleu4'])}, test BLEU-4 {fmt_score(data.constant['test_bleu4'])}).</p>")
    parts += ["<h2>Val BLEU-4 by epoch</h2>", '<img src="curves.png" alt="val BLEU-4 by epoch">', _probe_html(data, probe),
              "<h2>All candidates</h2>", every, "</body></html>"]
    return "\n".join(parts) + "\n"


def _probe_html(data: ReportData, probe: dict[str, Any]) -> str:
    if not probe.get("image_ids"):
        return "<h2>Probe images</h2><p>No probe captions: no trained candidate wrote val captions, or the prepared cache is gone.</p>"
    rows = []
    for image_id, thumb in zip(probe["image_ids"], probe["thumbnails"], strict=True):
        refs = "<br>".join(html.escape(r) for r in probe["references"].get(image_id, [])[:3])
        cells = [f'<img class="thumb" src="{thumb}" alt="val image {image_id}">', f'<span class="refs">{refs}</span>']
        cells += [html.escape(probe["captions"][v.id].get(image_id, "")) for v in data.top if v.id in probe["captions"]]
        rows.append(cells)
    headers = ["image", "references"] + [f"#{v.id}" for v in data.top if v.id in probe["captions"]]
    return ("<h2>Probe images</h2><img src=\"probe_grid.png\" alt=\"probe images\">"
            + _html_table(headers, rows, tuple(range(len(headers)))))
