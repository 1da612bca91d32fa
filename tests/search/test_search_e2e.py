import json
import shutil
import sqlite3
import subprocess

import pytest

from nncaption.cli.main import main

TINY = [
    "search.candidates=3",
    "search.workers=2",
    "trial.epochs=2",
    "trial.timeout_s=240",
    "data.synthetic_images=80",
    "data.synthetic_size=32",
    "data.image_size=16",
    "data.min_count=1",
    # 80 tiny images and 2 epochs give near-constant captions; this test checks the plumbing.
    "trial.degenerate_check=false",
]


def _args(tmp_path, run_dir):
    args = ["-q", "search", "--run-dir", str(run_dir), "--set", f"data.cache_dir={tmp_path / 'cache'}"]
    for item in TINY:
        args += ["--set", item]
    return args


def _screenshot(page, tmp_path):
    """Render the report in headless Chromium when it is installed; the page must load and draw."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        return
    shot = tmp_path / "report.png"
    result = subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", f"--user-data-dir={tmp_path / 'profile'}",
                             "--window-size=1280,2400", f"--screenshot={shot}", page.as_uri()],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert shot.stat().st_size > 10_000


@pytest.mark.slow
def test_search_end_to_end_on_tiny_synthetic(tmp_path, capsys):
    run_dir = tmp_path / "run"
    assert main(_args(tmp_path, run_dir)) == 0
    output = capsys.readouterr().out
    assert "best constant caption" in output
    assert "val BLEU-4" in output

    db = sqlite3.connect(run_dir / "store.sqlite")
    candidates = db.execute("SELECT id, status, parameters, val_bleu4, test_bleu4, best_epoch FROM candidates ORDER BY id").fetchall()
    assert [c[0] for c in candidates] == [0, 1, 2]
    for candidate_id, status, parameters, val_bleu4, test_bleu4, best_epoch in candidates:
        # Two epochs on 80 tiny images may leave a model that captions every image alike.
        assert status in ("trained", "degenerate"), candidate_id
        assert parameters > 0
        assert 0.0 <= val_bleu4 <= 1.0
        assert 0.0 <= test_bleu4 <= 1.0
        assert best_epoch in (1, 2)
        assert (run_dir / "candidates" / f"{candidate_id:04d}" / "model.py").is_file()
        results = json.loads((run_dir / "candidates" / f"{candidate_id:04d}" / "trial" / "test_hypotheses.json").read_text())
        assert results and set(results[0]) == {"image_id", "caption"}
    epochs = db.execute("SELECT candidate_id, epoch FROM epochs ORDER BY candidate_id, epoch").fetchall()
    assert epochs == [(c, e) for c in (0, 1, 2) for e in (1, 2)]
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert db.execute("PRAGMA user_version").fetchone()[0] == 2
    assert (run_dir / "report" / "index.html").is_file()
    _screenshot(run_dir / "report" / "index.html", tmp_path)
    assert "report:" in output

    # The same command on the same run directory resumes: nothing is trained again.
    before = db.execute("SELECT id, finished_at FROM candidates ORDER BY id").fetchall()
    assert main(_args(tmp_path, run_dir)) == 0
    after = db.execute("SELECT id, finished_at FROM candidates ORDER BY id").fetchall()
    assert before == after


def test_search_rejects_changed_config_on_resume(tmp_path, capsys):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "config.yaml").write_text("trial:\n  epochs: 7\n")
    assert main(_args(tmp_path, run_dir)) == 2
    assert "different config" in capsys.readouterr().err


def test_search_run_dir_that_is_a_file(tmp_path, capsys):
    path = tmp_path / "file"
    path.write_text("x")
    assert main(["search", "--run-dir", str(path)]) == 2
    err = capsys.readouterr().err
    assert "is not a directory" in err
    assert "Traceback" not in err
