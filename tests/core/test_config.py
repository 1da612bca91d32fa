import pytest

from nncaption.config import load_config
from nncaption.errors import ConfigError


def test_set_overrides_typed_values():
    config = load_config(None, ["trial.epochs=2", "trial.timeout_s=30", "data.root=/data/coco"])
    assert config.trial.epochs == 2
    assert config.trial.timeout_s == 30.0
    assert config.data.root == "/data/coco"


def test_yaml_file_then_overrides(tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text("search:\n  candidates: 3\ntrial:\n  epochs: 5\n")
    config = load_config(path, ["trial.epochs=1"])
    assert config.search.candidates == 3
    assert config.trial.epochs == 1


@pytest.mark.parametrize(
    "override, message",
    [
        ("trial.epoch=2", "unknown config key 'trial.epoch'"),
        ("training.epochs=2", "unknown config section 'training'"),
        ("trial.epochs=two", "expects int"),
        ("epochs=2", "section.key"),
        ("trial.epochs", "section.key=value"),
    ],
)
def test_invalid_override_rejected(override, message):
    with pytest.raises(ConfigError, match=message):
        load_config(None, [override])


def test_yaml_must_be_mapping(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("- a\n- b\n")
    with pytest.raises(ConfigError, match="mapping"):
        load_config(path)
