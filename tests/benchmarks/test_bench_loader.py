"""The loader benchmark: its reference loop matches the reference system, and a tiny run completes."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from nncaption.contract import EOS_ID, PAD_ID, SOS_ID
from nncaption.data.vocab import Vocab

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_loader.py"


def load_bench():
    spec = importlib.util.spec_from_file_location("bench_loader", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_loader"] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def bench():
    return load_bench()


def test_reference_tokenizer_splits_like_word_tokenize(bench):
    pytest.importorskip("nltk")
    words = bench.reference_tokenizer()("a man's dog can't sit. then it runs!")
    assert words == ["a", "man", "'s", "dog", "ca", "n't", "sit", ".", "then", "it", "runs", "!"]


def test_reference_jpegs_are_photo_sized(bench, tmp_path):
    import random

    texture = bench.texture_field(0)
    rng = random.Random(0)
    sizes = []
    for number in range(4):
        path = tmp_path / f"{number}.jpg"
        captions = bench.write_jpeg(path, rng, texture)
        sizes.append(path.stat().st_size)
        assert len(captions) == 5
    assert 120_000 < sum(sizes) / len(sizes) < 200_000


def test_reference_collate_pads_every_caption(bench):
    vocab = Vocab.build([["a", "red", "car"]], min_count=1)
    items = [(torch.zeros(3, 4, 4), ["A red car.", "a car"]), (torch.ones(3, 4, 4), ["red"])]
    images, captions = bench.reference_collate(items, vocab, lambda text: text.replace(".", " .").split())

    assert images.shape == (2, 3, 4, 4)
    assert captions.shape == (2, 2, 6)
    first = captions[0, 0].tolist()
    assert first[0] == SOS_ID
    assert first[4] == vocab.encode(["."])[0]
    assert first[5] == EOS_ID
    assert captions[1, 1].tolist() == [PAD_ID] * 6
    assert captions[1, 0].tolist()[:3] == [SOS_ID, vocab.encode(["red"])[0], EOS_ID]


@pytest.mark.slow
def test_tiny_benchmark_prints_both_ratios(tmp_path):
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--images", "48", "--repeat", "1", "--workers", "2", "--workdir", str(tmp_path)],
        capture_output=True, text=True, timeout=600, check=False,
    )
    assert result.returncode == 0, result.stderr
    faster = re.search(r"epoch, reference / ours: ([\d.]+)x", result.stdout)
    overhead = re.search(r"epoch, ours / memory - 1: ([+-][\d.]+) %", result.stdout)
    assert faster is not None, result.stdout
    assert overhead is not None, result.stdout
    assert float(faster.group(1)) > 1.0
