"""Entry point of the resume tests' child process: `nncaption` with run_trial replaced by a fake."""

import sys

import nncaption.search.driver as driver
from nncaption.cli.main import main

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from fake_trial import fake_run_trial  # noqa: E402

driver.run_trial = fake_run_trial
sys.exit(main(sys.argv[1:]))
