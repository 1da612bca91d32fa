"""A run resumes with other LLM connection settings, but not with other sampling settings."""

import dataclasses

import pytest

from nncaption.config import RunConfig, dump_config
from nncaption.errors import ConfigError
from nncaption.search.loop import _check_same_config


def _started(tmp_path) -> tuple[RunConfig, object]:
    config = RunConfig()
    config.generator = dataclasses.replace(config.generator, kind="openai")
    path = tmp_path / "config.yaml"
    dump_config(config, path)
    return config, path


def test_connection_settings_may_change(tmp_path):
    config, path = _started(tmp_path)
    config.generator = dataclasses.replace(
        config.generator, base_url="http://127.0.0.1:9999/v1", api_key_env="OTHER_KEY",
        request_timeout_s=30.0, retries=0, backoff_s=0.5, concurrency=4,
    )
    _check_same_config(path, config)


def test_sampling_settings_may_not_change(tmp_path):
    config, path = _started(tmp_path)
    config.generator = dataclasses.replace(config.generator, temperature=0.1, retries=0)
    with pytest.raises(ConfigError) as caught:
        _check_same_config(path, config)
    assert "generator.temperature" in str(caught.value)
    assert "generator.retries" not in str(caught.value)
