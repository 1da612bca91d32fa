import pytest

from nncaption.cli.main import main
from nncaption.config import check_config, load_config
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


@pytest.mark.parametrize(
    "content, message",
    [
        (b"\xff\xfe", "is not UTF-8 text"),
        (b"trial:\n  epochs: [1\n", "is not valid YAML at line 3"),
        (b"foo: 1\n", "unknown config section 'foo'"),
        (b"trial: 3\n", "config section 'trial' .* must be a mapping"),
    ],
)
def test_config_file_errors_name_file(tmp_path, content, message):
    path = tmp_path / "run.yaml"
    path.write_bytes(content)
    with pytest.raises(ConfigError, match=message) as error:
        load_config(path)
    assert str(path) in str(error.value)
    assert "<unicode string>" not in str(error.value)


def test_config_file_missing(tmp_path):
    with pytest.raises(ConfigError, match="cannot read config file .*missing.yaml"):
        load_config(tmp_path / "missing.yaml")


@pytest.mark.parametrize(
    "override, message",
    [
        ("trial.epochs=0", "trial.epochs must be at least 1, got 0"),
        ("trial.batch_size=-1", "trial.batch_size must be at least 1"),
        ("trial.timeout_s=0", "trial.timeout_s must be positive"),
        ("search.candidates=-1", "search.candidates must be at least 0"),
        ("search.workers=0", "search.workers must be at least 1, got 0"),
        ("search.workers=-2", "search.workers must be at least 1, got -2"),
        ("data.image_size=0", "data.image_size must be at least 1"),
        ("data.val_images=-1", "data.val_images must be at least 0"),
        ("data.source=imagenet", "unknown data.source 'imagenet'"),
        ("data.restval=keep", "data.restval must be one of train, drop"),
        ("data.synthetic_images=5", "data.synthetic_images must be between 10 and 1,000,000"),
        ("data.synthetic_size=100000", "data.synthetic_size must be between 24 and 1024"),
        ("generator.kind=nope", "unknown generator.kind 'nope'"),
    ],
)
def test_check_config_rejects(override, message):
    with pytest.raises(ConfigError, match=message):
        check_config(load_config(None, [override]))


def test_check_config_accepts_defaults():
    check_config(load_config(None, ["search.candidates=0", "data.source=coco", "data.synthetic_images=1"]))


def test_invalid_value_fails_before_data_preparation(tmp_path, capsys):
    cache = tmp_path / "cache"
    code = main(["search", "--run-dir", str(tmp_path / "run"), "--set", f"data.cache_dir={cache}",
                 "--set", "trial.epochs=-1"])
    captured = capsys.readouterr()
    assert code == 2
    assert "trial.epochs must be at least 1, got -1" in captured.err
    assert "preparing data" not in captured.err
    assert not cache.exists()
    assert not (tmp_path / "run").exists()


def test_config_file_error_exits_2(tmp_path, capsys):
    path = tmp_path / "bin.yaml"
    path.write_bytes(b"\xff\xfe")
    assert main(["search", "--run-dir", str(tmp_path / "run"), "--config", str(path)]) == 2
    err = capsys.readouterr().err
    assert "is not UTF-8 text" in err
    assert "Traceback" not in err


def test_log_options_after_subcommand(tmp_path, capsys):
    assert main(["search", "--run-dir", str(tmp_path / "run"), "-q", "--set", "search.workers=0"]) == 2
    assert "search.workers must be at least 1" in capsys.readouterr().err
