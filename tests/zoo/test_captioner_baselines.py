"""Each zoo baseline captioner passes `nncaption check` and beats the best constant caption."""

import pytest

from nncaption.cli.main import main
from nncaption.config import load_config
from nncaption.data.prepare import prepare_data
from nncaption.status import Status
from nncaption.trial.runner import run_trial
from nncaption.zoo import list_entries

CAPTIONERS = list_entries("captioner", probe=False)
IDS = [e.name for e in CAPTIONERS]


@pytest.fixture(scope="module")
def small_synthetic(tmp_path_factory):
    cache = tmp_path_factory.mktemp("cache")
    config = load_config(None, [
        f"data.cache_dir={cache}",
        "data.synthetic_images=1200",
        "data.min_count=2",
        "trial.epochs=3",
        "trial.patience=0",
        "trial.score_own_inference=false",
    ])
    return config, prepare_data(config.data)


@pytest.mark.slow
@pytest.mark.parametrize("entry", CAPTIONERS, ids=IDS)
def test_captioner_passes_check(entry, capsys):
    assert main(["check", str(entry.path)]) == 0, capsys.readouterr().out


@pytest.mark.slow
@pytest.mark.parametrize("entry", CAPTIONERS, ids=IDS)
def test_captioner_beats_constant_caption(entry, small_synthetic, tmp_path):
    config, prepared = small_synthetic
    outcome = run_trial(entry.path, tmp_path / "trial", prepared, config, {"lr": 2e-3}, 50_000_000)

    assert outcome.status == Status.TRAINED, outcome.message
    constant = prepared.manifest["constant_caption"]["test_bleu4"]
    assert outcome.test_metrics["Bleu_4"] > constant
