"""The report and the LEMUR export of a search run whose trials are faked (fast, no training)."""

from __future__ import annotations

import json
import re
import shutil
import sqlite3
import subprocess

import pytest

import nncaption.search.driver as driver
from nncaption.cli.main import main
from nncaption.report.data import wilson_interval
from nncaption.report.render import fmt_score

from .fake_trial import fake_run_trial
from .helpers import search_args

CANDIDATES = 6


@pytest.fixture(scope="module")
def fake_run(tmp_path_factory, data_cache):
    """A finished composer run with baselines; run_trial is the fake, so it takes seconds."""
    run_dir = tmp_path_factory.mktemp("report") / "run"
    patch = pytest.MonkeyPatch()
    patch.setattr(driver, "run_trial", fake_run_trial)
    try:
        code = main(search_args(run_dir, data_cache, f"search.candidates={CANDIDATES}", "search.baselines=true",
                                "trial.epochs=2", "search.report_top=3"))
    finally:
        patch.undo()
    assert code == 0
    return run_dir


def test_report_numbers_match_store(fake_run):
    summary = json.loads((fake_run / "report" / "summary.json").read_text())
    db = sqlite3.connect(fake_run / "store.sqlite")

    statuses = dict(db.execute("SELECT status, COUNT(*) FROM candidates GROUP BY status").fetchall())
    assert summary["status_counts"] == statuses
    assert summary["candidates"] == CANDIDATES
    trained = statuses.get("trained", 0)
    assert summary["success"]["trained"] == trained
    assert summary["success"]["rate"] == pytest.approx(trained / CANDIDATES)

    ranked = db.execute("SELECT id, val_bleu4, test_bleu4, parameters FROM candidates WHERE status IN ('trained', 'degenerate') "
                        "ORDER BY val_bleu4 DESC, id LIMIT 3").fetchall()
    assert [(t["id"], t["val_bleu4"], t["test_bleu4"], t["parameters"]) for t in summary["top"]] == ranked

    baselines = db.execute("SELECT name, val_bleu4, test_bleu4 FROM baselines ORDER BY name").fetchall()
    assert [(b["name"], b["val_bleu4"], b["test_bleu4"]) for b in summary["baselines"]] == baselines
    best = max(baselines, key=lambda b: b[1])
    assert summary["best_baseline"] == best[0]
    assert summary["top"][0]["delta_test_bleu4_to_best_baseline"] == pytest.approx(ranked[0][2] - best[2])


def test_report_pages_show_store_values(fake_run):
    db = sqlite3.connect(fake_run / "store.sqlite")
    markdown = (fake_run / "report" / "summary.md").read_text()
    page = (fake_run / "report" / "index.html").read_text()
    for candidate_id, val_bleu4, test_bleu4 in db.execute(
            "SELECT id, val_bleu4, test_bleu4 FROM candidates ORDER BY val_bleu4 DESC LIMIT 3"):
        row = next(line for line in markdown.splitlines() if line.startswith(f"| #{candidate_id} |"))
        assert fmt_score(val_bleu4) in row
        assert fmt_score(test_bleu4) in row
        assert f"#{candidate_id}" in page
    assert "95 % CI" in markdown
    for title in ("By generator", "Baselines"):
        assert title in markdown


@pytest.mark.parametrize("page_name", ["summary.md", "index.html"])
def test_composer_report_omits_llm_groups(fake_run, page_name):
    page = (fake_run / "report" / page_name).read_text()
    assert "By generator" in page
    for title in ("By K", "By base model", "By prompt template"):
        assert title not in page
    assert "No table by K, base model or prompt template, because no finished candidate" in page


def test_report_files_and_links_exist(fake_run):
    report = fake_run / "report"
    for name in ("index.html", "summary.md", "summary.json", "status.png", "curves.png", "groups.png", "probe_grid.png"):
        assert (report / name).is_file(), name
    page = (report / "index.html").read_text()
    targets = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert any(t.endswith("model.py") for t in targets)
    assert any(t.startswith("probe_") for t in targets)
    for target in targets:
        assert (report / target).resolve().is_file(), target


def test_report_command_rewrites_report(fake_run, tmp_path, capsys):
    assert main(["report", str(fake_run), "--out", str(tmp_path / "out"), "--top", "2"]) == 0
    assert "report:" in capsys.readouterr().out
    assert len(json.loads((tmp_path / "out" / "summary.json").read_text())["top"]) == 2


def test_report_of_missing_run(tmp_path, capsys):
    assert main(["report", str(tmp_path)]) == 2
    assert "no store.sqlite" in capsys.readouterr().err


def test_report_opens_in_headless_chromium(fake_run, tmp_path):
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        pytest.skip("chromium is not installed (Debian: apt-get install -y chromium)")
    shot = tmp_path / "report.png"
    command = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", f"--user-data-dir={tmp_path / 'profile'}",
               "--window-size=1280,2000", f"--screenshot={shot}", (fake_run / "report" / "index.html").as_uri()]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert shot.is_file()
    assert shot.stat().st_size > 10_000
    dom = subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", f"--user-data-dir={tmp_path / 'profile2'}",
                          "--dump-dom", (fake_run / "report" / "index.html").as_uri()], capture_output=True, text=True, timeout=120)
    assert "Top candidates" in dom.stdout
    assert "Uncaught" not in dom.stderr


@pytest.mark.parametrize(("successes", "total", "low", "high"), [(0, 10, 0.0, 0.2775), (5, 10, 0.2366, 0.7634), (10, 10, 0.7225, 1.0)])
def test_wilson_interval_known_values(successes, total, low, high):
    assert wilson_interval(successes, total) == pytest.approx((low, high), abs=1e-4)


def test_export_lemur_layout_and_fields(fake_run, tmp_path, capsys):
    out = tmp_path / "lemur"
    assert main(["export", "lemur", str(fake_run), "--out", str(out)]) == 0
    db = sqlite3.connect(fake_run / "store.sqlite")
    trained = db.execute("SELECT COUNT(*) FROM candidates WHERE status = 'trained'").fetchone()[0]
    models = sorted((out / "nn").glob("*.py"))
    assert len(models) == trained > 0
    for model in models:
        assert re.fullmatch(r"nncap-[0-9a-f]{32}", model.stem)
        folder = out / "stat" / "train" / f"img-captioning_synthetic_bleu_{model.stem}"
        files = sorted(folder.glob("*.json"))
        assert [f.stem for f in files] == ["1", "2"]
        for path in files:
            records = json.loads(path.read_text())
            assert isinstance(records, list) and len(records) == 1
            record = records[0]
            assert isinstance(record["accuracy"], float)
            assert isinstance(record["batch"], int)
            assert isinstance(record["lr"], float)
            assert isinstance(record["transform"], str)
            assert isinstance(record["duration"], int)
            assert re.fullmatch(r"[0-9a-f]{32}", record["uid"])
        # LEMUR splits a statistics folder into task, dataset, metric and model at the first three '_'.
        task, dataset, metric, name = folder.name.split("_", 3)
        assert (task, dataset, metric, name) == ("img-captioning", "synthetic", "bleu", model.stem)


def test_export_rejects_prefix_with_underscore(fake_run, tmp_path, capsys):
    assert main(["export", "lemur", str(fake_run), "--out", str(tmp_path), "--prefix", "a_b"]) == 2
    assert "--prefix" in capsys.readouterr().err


@pytest.mark.slow
def test_exported_models_pass_check(fake_run, tmp_path, capsys):
    out = tmp_path / "lemur"
    assert main(["export", "lemur", str(fake_run), "--out", str(out)]) == 0
    models = sorted((out / "nn").glob("*.py"))
    assert models
    for model in models:
        assert main(["check", str(model), "--json"]) == 0, capsys.readouterr().out


@pytest.mark.parametrize("successes, total", [(0, 10), (10, 10), (1, 1), (7, 10), (0, 1)])
def test_wilson_interval_contains_rate(successes, total):
    from nncaption.report.data import wilson_interval

    low, high = wilson_interval(successes, total)
    rate = successes / total
    assert 0.0 <= low <= rate
    assert rate <= high <= 1.0


def _group_report(by_group: dict[str, dict[str, dict[str, int]]]):
    """Return ReportData with the given status counts per group value and nothing else."""
    from collections import Counter
    from pathlib import Path

    from nncaption.config import RunConfig
    from nncaption.report.data import GROUPS, Rate, ReportData

    groups = {key: {value: Counter(counts) for value, counts in by_group.get(key, {}).items()} for key in GROUPS}
    rates = {key: {value: Rate(counts["trained"], counts.total(), 0.0, 1.0) for value, counts in values.items()}
             for key, values in groups.items()}
    return ReportData(run_dir=Path("run"), config=RunConfig(), candidates=[], baselines=[], status_counts={"trained": 2},
                      by_group=groups, success=Rate(2, 2, 0.0, 1.0), success_by_group=rates, top=[], best_baseline=None,
                      constant=None, data_path=None, llm_tokens=0, elapsed_s=0.0)


def test_mixed_run_shows_every_group_table():
    from nncaption.report.render import render_html, render_markdown

    data = _group_report({
        "generator": {"composer": {"trained": 1}, "replay": {"trained": 1}},
        "k": {"-": {"trained": 1}, "5": {"trained": 1}},
        "base_model": {"-": {"trained": 1}, "cnn_gru": {"trained": 1}},
        "template": {"-": {"trained": 1}, "default": {"trained": 1}},
    })
    assert data.shown_groups() == ["generator", "k", "base_model", "template"]
    for page in (render_markdown(data, {}), render_html(data, {})):
        for title in ("By generator", "By K", "By base model", "By prompt template"):
            assert title in page
        assert "No table by" not in page


def test_run_without_candidates_has_no_group_tables():
    from nncaption.report.render import omitted_groups_note, render_html, render_markdown

    data = _group_report({})
    assert data.shown_groups() == []
    note = omitted_groups_note(data)
    assert note is not None
    assert note.startswith("No table by generator, K, base model or prompt template, because")
    for page in (render_markdown(data, {}), render_html(data, {})):
        assert "By generator" not in page
        assert "No table by generator, K, base model or prompt template" in page


def test_one_omitted_group_named_alone():
    from nncaption.report.render import omitted_groups_note

    data = _group_report({
        "generator": {"replay": {"trained": 2}},
        "k": {"5": {"trained": 2}},
        "base_model": {"cnn_gru": {"trained": 2}},
        "template": {"-": {"trained": 2}},
    })
    assert data.shown_groups() == ["generator", "k", "base_model"]
    assert omitted_groups_note(data).startswith("No table by prompt template, because no finished candidate of this run "
                                                "has a value for it.")


def test_groups_figure_without_candidates(tmp_path):
    from nncaption.report.figures import groups_figure

    path = groups_figure(_group_report({}), tmp_path / "groups.png")
    assert path.stat().st_size > 0
