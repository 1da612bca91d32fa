import sys
import textwrap

from nncaption.zoo import list_entries

BENIGN = textwrap.dedent(
    """
    import torch.nn as nn

    DEFAULT_WIDTH = 4


    class Features(nn.Module):
        def __init__(self, in_channels, width):
            super().__init__()
            self.conv = nn.Conv2d(in_channels, width, 3, 2, 1)
            self.out_channels = width

        def forward(self, x):
            return self.conv(x)
    """
)

HOSTILE = textwrap.dedent(
    """
    import torch.nn as nn

    open({marker!r}, "w").write("the parent imported me")
    DEFAULT_WIDTH = 4


    class Features(nn.Module):
        def __init__(self, in_channels, width):
            super().__init__()
            self.out_channels = width

        def forward(self, x):
            return x
    """
)


def test_user_files_probed_outside_parent(tmp_path):
    folder = tmp_path / "models"
    folder.mkdir()
    marker = tmp_path / "marker.txt"
    (folder / "user_benign.py").write_text(BENIGN)
    (folder / "user_hostile.py").write_text(HOSTILE.format(marker=str(marker)))

    entries = {e.name: e for e in list_entries("backbone", [folder])}

    assert entries["user_benign"].params == 3 * 4 * 9 + 4
    assert entries["user_benign"].feature_grid == (16, 16)
    assert entries["user_hostile"].params is None
    assert entries["user_hostile"].probe_error
    assert not marker.exists()
    assert not any("user_hostile" in name for name in sys.modules)


KILLED = textwrap.dedent(
    """
    import torch
    import torch.nn as nn

    DEFAULT_WIDTH = 4


    class Features(nn.Module):
        def __init__(self, in_channels, width):
            super().__init__()
            open({marker!r}, "w").write("written by the probe")
            self.out_channels = width

        def forward(self, x):
            return x
    """
)


def test_policy_kill_spares_later_files(tmp_path):
    folder = tmp_path / "models"
    folder.mkdir()
    marker = tmp_path / "marker.txt"
    # Probed in name order: the hostile file ends the shared child before the benign ones.
    (folder / "a_hostile.py").write_text(KILLED.format(marker=str(marker)))
    (folder / "b_plain.py").write_text(BENIGN)
    (folder / "c_plain.py").write_text(BENIGN)

    entries = {e.name: e for e in list_entries("backbone", [folder])}

    assert entries["b_plain"].params == 3 * 4 * 9 + 4
    assert entries["b_plain"].probe_error is None
    assert entries["c_plain"].params == 3 * 4 * 9 + 4
    assert entries["a_hostile"].params is None
    assert "rejected open" in entries["a_hostile"].probe_error
    assert not marker.exists()
