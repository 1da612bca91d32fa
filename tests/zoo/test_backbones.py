"""Every built-in backbone: Features shapes, the encoder source, one classifier step."""

from __future__ import annotations

import ast

import pytest
import torch

from nncaption.zoo import encoder_source, list_entries, load_module

BACKBONES = list_entries("backbone", probe=False)
NAMES = [entry.name for entry in BACKBONES]
ALLOWED_IMPORTS = {"torch", "torch.nn", "torch.nn.functional", "math", "typing"}


@pytest.fixture(scope="module", params=BACKBONES, ids=NAMES)
def backbone(request):
    entry = request.param
    return entry, load_module(entry.path)


def test_registry_has_required_families():
    families = {entry.family for entry in BACKBONES}
    assert {"resnet", "vgg", "mobilenet"} <= families


def test_backbone_declares_constants(backbone):
    entry, module = backbone
    assert entry.has_features
    assert isinstance(module.DEFAULT_WIDTH, int)
    assert isinstance(module.STRIDE, int)
    assert entry.description


def test_backbone_imports_only_allowed(backbone):
    entry, _ = backbone
    tree = ast.parse(entry.source())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            names = {node.module or ""}
            assert node.module != "__future__", "a __future__ import breaks pasted encoder source"
        else:
            continue
        assert names <= ALLOWED_IMPORTS, f"{entry.name} imports {names - ALLOWED_IMPORTS}"


@pytest.mark.parametrize("size", [32, 64])
def test_features_grid_matches_stride(backbone, size):
    entry, module = backbone
    torch.manual_seed(0)
    features = module.Features(3, module.DEFAULT_WIDTH).eval()
    with torch.no_grad():
        grid = features(torch.randn(2, 3, size, size))
    assert grid.shape == (2, features.out_channels, size // module.STRIDE, size // module.STRIDE)
    assert torch.isfinite(grid).all()


def test_features_grid_is_at_least_2x2_at_32(backbone):
    _, module = backbone
    assert 32 // module.STRIDE >= 2


@pytest.mark.parametrize("factor", [0.5, 2.0])
def test_features_scale_with_width(backbone, factor):
    _, module = backbone
    width = max(4, int(module.DEFAULT_WIDTH * factor))
    features = module.Features(3, width).eval()
    with torch.no_grad():
        grid = features(torch.randn(1, 3, 32, 32))
    assert grid.shape[1] == features.out_channels
    base = module.Features(3, module.DEFAULT_WIDTH)
    if factor > 1:
        assert features.out_channels > base.out_channels
    else:
        assert features.out_channels < base.out_channels


def test_features_accept_one_channel(backbone):
    _, module = backbone
    features = module.Features(1, module.DEFAULT_WIDTH).eval()
    with torch.no_grad():
        grid = features(torch.randn(1, 1, 32, 32))
    assert grid.dim() == 4


def test_net_takes_one_optimiser_step(backbone):
    _, module = backbone
    torch.manual_seed(0)
    prm = {"lr": 0.05, "momentum": 0.9}
    assert "lr" in module.supported_hyperparameters()
    net = module.Net((4, 3, 32, 32), (10,), prm, torch.device("cpu"))
    net.train_setup(prm)
    images, labels = torch.randn(4, 3, 32, 32), torch.randint(0, 10, (4,))
    before = [p.detach().clone() for p in net.parameters()]

    net.learn([(images, labels)])

    changed = sum(not torch.equal(b, p) for b, p in zip(before, net.parameters(), strict=True))
    assert changed > 0
    logits = net(images)
    assert logits.shape == (4, 10)


def test_encoder_source_builds_features(backbone):
    entry, module = backbone
    source = encoder_source(entry.name)
    tree = ast.parse(source)
    top_names = {n.name for n in tree.body if isinstance(n, (ast.ClassDef, ast.FunctionDef))}
    assert "Net" not in top_names
    assert "supported_hyperparameters" not in top_names
    assert "Features" in top_names

    namespace: dict = {}
    exec(compile(source, f"<encoder {entry.name}>", "exec"), namespace)
    features = namespace["Features"](3, module.DEFAULT_WIDTH).eval()
    with torch.no_grad():
        grid = features(torch.randn(2, 3, 32, 32))
    assert grid.dim() == 4
    assert grid.shape[1] == features.out_channels


def test_vit_tokens_match_grid():
    module = load_module(next(e for e in BACKBONES if e.name == "vit").path)
    features = module.Features(3, module.DEFAULT_WIDTH).eval()
    images = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        tokens = features.tokens(images)
        grid = features(images)
    assert tokens.shape == (2, 64, features.out_channels)
    assert torch.equal(grid.flatten(2).transpose(1, 2), tokens)
