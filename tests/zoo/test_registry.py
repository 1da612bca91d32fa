"""Registry: listing, lookup, user folders, probing and the encoder source cut."""

from __future__ import annotations

import ast
import textwrap
from pathlib import Path

import pytest
import torch

from nncaption.contract import EOS_ID, PAD_ID, SOS_ID
from nncaption.errors import UsageError
from nncaption.zoo import encoder_source, get_entry, list_entries, load_module, strip_classifier
from nncaption.zoo.registry import classify_source

USER_BACKBONE = textwrap.dedent(
    '''
    """A user's tiny backbone."""
    import torch.nn as nn

    DEFAULT_WIDTH = 8
    STRIDE = 2


    class Features(nn.Module):
        def __init__(self, in_channels, width):
            super().__init__()
            self.conv = nn.Conv2d(in_channels, width, 3, 2, 1)
            self.out_channels = width

        def forward(self, x):
            return self.conv(x)


    def supported_hyperparameters():
        return {"lr"}


    class Net(nn.Module):
        def __init__(self, in_shape, out_shape, prm, device):
            super().__init__()
            self.features = Features(in_shape[1], DEFAULT_WIDTH)
            self.fc = nn.Linear(DEFAULT_WIDTH, out_shape[0])

        def forward(self, x):
            return self.fc(self.features(x).mean((2, 3)))
    '''
)

# A LEMUR-style classification file: Net only, reads prm keys it declares.
LEMUR_CLASSIFIER = textwrap.dedent(
    '''
    import torch
    from torch import nn


    def supported_hyperparameters():
        return {"lr", "momentum", "dropout"}


    class Net(nn.Module):
        def __init__(self, in_shape, out_shape, prm, device):
            super().__init__()
            self.drop = nn.Dropout(prm["dropout"])
            self.fc = nn.Linear(in_shape[1] * in_shape[2] * in_shape[3], out_shape[0])

        def forward(self, x):
            return self.fc(self.drop(torch.flatten(x, 1)))
    '''
)

LEMUR_CAPTIONER = textwrap.dedent(
    '''
    from torch import nn


    class Net(nn.Module):
        def __init__(self, in_shape, out_shape, prm, device):
            super().__init__()
            self.embed = nn.Embedding(out_shape[0], 4)

        def forward(self, images, captions=None, hidden_state=None):
            return None
    '''
)


@pytest.fixture()
def user_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "nn"
    folder.mkdir()
    (folder / "TinyUser.py").write_text(USER_BACKBONE)
    (folder / "LemurFC.py").write_text(LEMUR_CLASSIFIER)
    (folder / "LemurCap.py").write_text(LEMUR_CAPTIONER)
    (folder / "helpers.py").write_text("def helper():\n    return 1\n")
    (folder / "Broken.py").write_text("class Net(:\n")
    (folder / "__init__.py").write_text("")
    return folder


def test_builtin_backbones_are_probed():
    for entry in list_entries("backbone"):
        assert entry.probe_error is None, entry.probe_error
        assert entry.params and entry.params > 0
        channels, h, w = entry.feature_dims
        assert channels > 0
        assert (h, w) == (32 // entry.stride, 32 // entry.stride)


def test_list_entries_filters_kind():
    kinds = {entry.kind for entry in list_entries("backbone", probe=False)}
    assert kinds == {"backbone"}


def test_list_entries_rejects_unknown_kind():
    with pytest.raises(UsageError, match="unknown zoo kind 'encoder'"):
        list_entries("encoder")


def test_get_entry_unknown_name_lists_known():
    with pytest.raises(UsageError, match="known entries: .*vgg"):
        get_entry("no_such_model")


def test_user_folder_entries_are_classified(user_dir: Path):
    entries = {e.name: e for e in list_entries(extra_dirs=[user_dir])}
    assert "helpers" not in entries
    assert "Broken" not in entries
    assert entries["TinyUser"].kind == "backbone"
    assert entries["TinyUser"].has_features
    assert entries["TinyUser"].feature_dims == (8, 16, 16)
    assert entries["TinyUser"].origin == str(user_dir)
    assert entries["LemurFC"].kind == "backbone"
    assert not entries["LemurFC"].has_features
    assert entries["LemurFC"].params == 3 * 32 * 32 * 10 + 10
    assert entries["LemurCap"].kind == "captioner"
    assert entries["LemurCap"].family == "lemurcap"


def test_user_folder_missing_raises(tmp_path: Path):
    with pytest.raises(UsageError, match="does not exist"):
        list_entries(extra_dirs=[tmp_path / "absent"])


def test_duplicate_name_raises(tmp_path: Path):
    (tmp_path / "vgg.py").write_text(USER_BACKBONE)
    with pytest.raises(UsageError, match="'vgg' is defined twice"):
        list_entries(extra_dirs=[tmp_path], probe=False)


def test_failed_probe_is_recorded(tmp_path: Path):
    (tmp_path / "Raises.py").write_text(
        LEMUR_CLASSIFIER.replace("super().__init__()", "raise RuntimeError('no GPU here')")
    )
    entry = get_entry("Raises", extra_dirs=[tmp_path])
    assert entry.params is None
    assert "no GPU here" in entry.probe_error


def test_encoder_source_of_user_backbone(user_dir: Path):
    source = encoder_source("TinyUser", extra_dirs=[user_dir])
    namespace: dict = {}
    exec(source, namespace)
    assert "Net" not in namespace
    grid = namespace["Features"](3, 4)(torch.zeros(1, 3, 8, 8))
    assert grid.shape == (1, 4, 4, 4)


def test_encoder_source_rejects_classifier_only(user_dir: Path):
    with pytest.raises(UsageError, match="no Features"):
        encoder_source("LemurFC", extra_dirs=[user_dir])


def test_encoder_source_rejects_captioner():
    captioner = list_entries("captioner", probe=False)
    if not captioner:
        pytest.skip("no built-in captioner yet")
    with pytest.raises(UsageError, match="captioner"):
        encoder_source(captioner[0].name)


def test_strip_classifier_drops_future_and_decorated():
    source = textwrap.dedent(
        '''
        """Doc."""
        from __future__ import annotations
        import functools
        X = 1


        @functools.lru_cache
        def supported_hyperparameters():
            return {"lr"}


        class Features:
            """Kept."""


        @functools.total_ordering
        class Net:
            pass
        '''
    )
    stripped = strip_classifier(source)
    tree = ast.parse(stripped)
    names = [getattr(n, "name", None) for n in tree.body]
    assert names == [None, None, "Features"]
    assert "__future__" not in stripped
    assert "lru_cache" not in stripped
    assert "total_ordering" not in stripped
    assert '"""Doc."""' not in stripped
    assert '"""Kept."""' in stripped


def test_strip_classifier_rejects_invalid_source():
    with pytest.raises(UsageError, match="not valid Python"):
        strip_classifier("class Net(:\n")


def test_builtin_kind_matches_syntax():
    for entry in list_entries(probe=False):
        assert classify_source(ast.parse(entry.source())) == entry.kind, entry.name


def test_captioner_token_ids_match_contract():
    for entry in list_entries("captioner", probe=False):
        module = load_module(entry.path)
        assert (module.PAD_ID, module.SOS_ID, module.EOS_ID) == (PAD_ID, SOS_ID, EOS_ID), entry.name
