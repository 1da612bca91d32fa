"""The epoch journal lies outside the trial process's writable folder."""

from nncaption.trial import journal


def test_journal_outside_trial_folder(tmp_path):
    trial_dir = tmp_path / "candidates" / "0003" / "trial"
    folder = journal.journal_dir(trial_dir)

    assert folder.parent == trial_dir.parent
    assert not folder.is_relative_to(trial_dir)


def test_written_epoch_lands_in_journal_folder(tmp_path):
    trial_dir = tmp_path / "trial"
    trial_dir.mkdir()
    journal.write_setup(trial_dir, [], None, 0.0)
    journal.write_epoch(trial_dir, {"score": {"epoch": 1}})

    assert journal.epoch_path(trial_dir, 1).is_file()
    assert list(trial_dir.rglob("*.json")) == []
    assert journal.journaled_epochs(trial_dir) == 1
