import pytest

from nncaption.cli.main import main
from nncaption.config import check_config, dump_config, load_config
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


@pytest.mark.parametrize("text", [".nan", ".inf", "-.inf", ".NaN", "1.0e+999"])
@pytest.mark.parametrize("key", ["trial.timeout_s", "generator.temperature", "search.max_seconds", "trial.epochs"])
def test_non_finite_numbers_rejected(key, text):
    with pytest.raises(ConfigError, match=f"config key '{key}' expects (a finite number|int)"):
        load_config(None, [f"{key}={text}"])


def test_non_finite_number_in_file_rejected(tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text("trial:\n  timeout_s: .inf\n")
    with pytest.raises(ConfigError, match="'trial.timeout_s' expects a finite number, got inf"):
        load_config(path)


@pytest.mark.parametrize(
    "override, message",
    [
        ("trial.seed=-1", r"trial.seed must be between 0 and 2\*\*32 - 1 \(4294967295\), got -1"),
        ("trial.seed=4294967296", "trial.seed must be between 0 and 2"),
        ("trial.param_budget=-5", "trial.param_budget must be a positive parameter count, or 0 .*got -5"),
        ("data.image_size=100000", "data.image_size must be at most 1024 pixels .*got 100,000"),
        ("data.max_len=100000", "data.max_len must be at most 512 tokens .*got 100,000"),
        ("data.cache_dir=", "data.cache_dir is empty"),
        ("data.cache_dir=   ", "data.cache_dir is empty"),
    ],
)
def test_check_config_rejects_crashing_values(override, message):
    with pytest.raises(ConfigError, match=message):
        check_config(load_config(None, [override]))


@pytest.mark.parametrize("override", ["trial.seed=4294967295", "trial.seed=0", "trial.param_budget=0",
                                      "data.image_size=1024", "data.max_len=512"])
def test_check_config_accepts_bounds(override):
    check_config(load_config(None, [override]))


@pytest.mark.parametrize(
    "override, expected",
    [
        ("generator.model=12:30", "12:30"),
        ("generator.model=0o17", "0o17"),
        ("generator.model=017", "017"),
        ("generator.model=1e3", "1e3"),
        ("generator.model=yes", "yes"),
        ("generator.model='12:30'", "12:30"),
        ("generator.model=\"a b\"", "a b"),
        ("generator.base_model=12:30", "12:30"),
    ],
)
def test_set_string_field_keeps_text(override, expected):
    config = load_config(None, [override])
    key = override.split("=", 1)[0].split(".")[1]
    assert getattr(config.generator, key) == expected


def test_set_typed_fields_still_parsed():
    config = load_config(None, ["trial.timeout_s=1.5", "search.baselines=true", "generator.base_model=none",
                                "zoo.extra_dirs=[/a, /b]"])
    assert config.trial.timeout_s == 1.5
    assert config.search.baselines is True
    assert config.generator.base_model is None
    assert config.zoo.extra_dirs == ["/a", "/b"]


def test_set_single_list_item_keeps_text():
    assert load_config(None, ["zoo.extra_dirs=2024"]).zoo.extra_dirs == ["2024"]


@pytest.mark.parametrize("value", ["[1, 2.5, true]", "[/a, 3]"])
def test_extra_dirs_must_be_strings(tmp_path, value):
    with pytest.raises(ConfigError, match="'zoo.extra_dirs' expects a list of strings"):
        load_config(None, [f"zoo.extra_dirs={value}"])
    path = tmp_path / "run.yaml"
    path.write_text(f"zoo:\n  extra_dirs: {value}\n")
    with pytest.raises(ConfigError, match="'zoo.extra_dirs' expects a list of strings"):
        load_config(path)


def test_duplicate_key_names_key_and_line(tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text("trial:\n  epochs: 2\n  seed: 1\n  epochs: 5\n")
    with pytest.raises(ConfigError) as error:
        load_config(path)
    message = str(error.value)
    assert str(path) in message
    assert "duplicate key 'epochs'" in message
    assert "line 4" in message
    assert "line 2" in message


def test_duplicate_section_rejected(tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text("trial:\n  epochs: 2\nsearch:\n  candidates: 1\ntrial:\n  seed: 3\n")
    with pytest.raises(ConfigError, match=r"at line 5, column 1: duplicate key 'trial' \(first at line 1\)"):
        load_config(path)


def test_yaml_merge_key_not_duplicate(tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text("trial:\n  <<: {epochs: 2, seed: 1}\n  epochs: 3\n")
    config = load_config(path)
    assert config.trial.epochs == 3
    assert config.trial.seed == 1


@pytest.mark.parametrize("text", ["12:30", "017", "0x1f", "750", "1.5", "true"])
def test_file_number_in_string_field_rejected(tmp_path, text):
    path = tmp_path / "run.yaml"
    path.write_text(f"generator:\n  model: {text}\n")
    with pytest.raises(ConfigError, match="'generator.model' expects str"):
        load_config(path)


def test_file_quoted_string_field_kept(tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text("generator:\n  model: '12:30'\n  template: \"0o17\"\n")
    config = load_config(path)
    assert config.generator.model == "12:30"
    assert config.generator.template == "0o17"


def test_dumped_config_loads_back(tmp_path):
    config = load_config(None, ["generator.model=12:30", "generator.template=0o17", "zoo.extra_dirs=[/a, '2024']"])
    path = tmp_path / "config.yaml"
    dump_config(config, path)
    assert load_config(path) == config


@pytest.mark.parametrize("text", ["1e3", "1.5e3", "2E2"])
def test_float_key_reads_exponent_without_dot(text):
    assert load_config(None, [f"trial.timeout_s={text}"]).trial.timeout_s == float(text)


@pytest.mark.parametrize("text", ["nan", "inf", "-inf"])
def test_float_key_plain_nan_inf_named_finite(text):
    with pytest.raises(ConfigError, match="expects a finite number"):
        load_config(None, [f"trial.timeout_s={text}"])


@pytest.mark.parametrize("key", ["search.seed", "generator.seed", "data.synthetic_seed", "trial.subset_seed", "trial.seed"])
@pytest.mark.parametrize("value", [-1, 2**32])
def test_every_seed_range_checked(key, value):
    config = load_config(None, [f"{key}={value}"])
    with pytest.raises(ConfigError, match=f"{key} must be between 0 and 2\\*\\*32 - 1"):
        check_config(config)
