"""run_trial's config check covers the seed and parameter budget, as `nncaption train` relies on it."""

import pytest

from nncaption.config import load_config
from nncaption.errors import ConfigError
from nncaption.trial.runner import check_trial_config


@pytest.mark.parametrize(("setting", "message"), [
    ("trial.seed=-1", "trial.seed must be between 0"),
    ("trial.seed=4294967296", "trial.seed must be between 0"),
    ("trial.param_budget=-5", "trial.param_budget must be"),
])
def test_out_of_range_trial_values_rejected(setting, message):
    config = load_config(None, [])
    name, value = setting.split("=")
    setattr(config.trial, name.split(".")[1], int(value))  # past load_config's own check, as train --seed is

    with pytest.raises(ConfigError, match=message):
        check_trial_config(config)
