"""Time one training epoch of a fixed small captioner through three input paths.

Builds a COCO-layout set of `--images` training JPEGs at 640x480 with photo-like grain (about
160 KB each, as in COCO), plus a small val split, which the cache needs. Prepares the set
with nncaption's cache, then times one epoch of the same captioner, re-initialised with the
same seed, fed by:

  memory     all images already normalised in one float tensor, captions already as ids;
  ours       nncaption.data.loader.TrainBatches over the prepared cache;
  reference  the reference system's data set and collate function in one process: for every
             batch, each full-size JPEG is opened with PIL, converted, copied, resized and
             normalised, and every caption is tokenized with nltk.word_tokenize (or its two
             steps when punkt's data is missing).

`ours` runs with the loader's default background prefetch and once more without it. The
benchmark also times the image stage of the cache build (decode, convert, resize, write)
with one decoder thread, a thread pool and a process pool, and the whole build. Prints the
figures and the ratios reference/ours (target: at least 5) and ours/memory - 1 (target: at
most 10 %).

    .venv/bin/python benchmarks/bench_loader.py [--images 2000] [--image-size 64] [--threads 1]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw
from torch import nn

from nncaption.config import DataConfig
from nncaption.contract import EOS_ID, PAD_ID, SOS_ID
from nncaption.data.cache import PreparedData, PrepareSettings, prepare
from nncaption.data.images import write_images
from nncaption.data.loader import MEAN, STD, TrainBatches, normalise
from nncaption.data.sources import load_coco
from nncaption.data.vocab import Vocab
from nncaption.metrics import tokenize

COLOURS = {"red": (200, 40, 40), "green": (40, 170, 60), "blue": (50, 80, 210), "yellow": (230, 210, 60),
           "white": (235, 235, 235), "black": (25, 25, 25), "brown": (130, 80, 40), "orange": (240, 140, 30)}
THINGS = ("car", "dog", "kite", "boat", "ball", "box", "sign", "cat", "bus", "tree")
PLACES = ("on a street", "in a park", "near the water", "on the grass", "in a room", "next to a wall")
FORMS = ("A {c} {t} {p}.", "a {c} {t} sitting {p}", "There is a {c} {t} {p}.", "The {t} {p} is {c}.",
         "A photo of a {c} {t} {p}.", "Someone left a {c} {t} {p}.")
VAL_IMAGES = 100


# --- the data set ------------------------------------------------------------------------


def texture_field(seed: int) -> np.ndarray:
    """Return float32 [960, 1280, 3] grain: fine noise plus coarse blotches, cropped per image.

    COCO train2017 is about 18 GB for 118K JPEGs of roughly 640x480, so about 160 KB each
    (an estimate from those two figures). Smooth drawings compress to a tenth of that and
    decode faster, so the reference loop would look cheaper than on real photos. Noise
    with sigma 18 brings our files to about 160 KB at quality 90.
    """
    rng = np.random.default_rng([seed, 7])
    coarse = rng.normal(0, 60, (120, 160, 3)).clip(-128, 127) + 128
    blotches = np.asarray(Image.fromarray(coarse.astype(np.uint8)).resize((1280, 960), Image.BICUBIC), dtype=np.float32) - 128
    return 0.5 * blotches + rng.normal(0, 18, (960, 1280, 3)).astype(np.float32)


def write_jpeg(path: Path, rng: random.Random, texture: np.ndarray) -> list[str]:
    """Write one 640x480 JPEG of a few coloured shapes on a textured gradient; return its five captions."""
    width, height = 640, 480
    base = np.linspace(rng.randint(40, 120), rng.randint(130, 220), width, dtype=np.float32)
    pixels = np.stack([np.tile(base, (height, 1)) * f for f in (rng.uniform(0.6, 1), rng.uniform(0.6, 1), rng.uniform(0.6, 1))], axis=2)
    image = Image.fromarray(pixels.clip(0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(image)
    colour, thing, place = rng.choice(list(COLOURS)), rng.choice(THINGS), rng.choice(PLACES)
    for _ in range(rng.randint(2, 5)):
        x, y = rng.randint(0, width - 120), rng.randint(0, height - 120)
        box = (x, y, x + rng.randint(40, 200), y + rng.randint(40, 200))
        (draw.ellipse if rng.random() < 0.5 else draw.rectangle)(box, fill=COLOURS[colour])
    top, left = rng.randint(0, texture.shape[0] - height), rng.randint(0, texture.shape[1] - width)
    grain = texture[top : top + height, left : left + width]
    Image.fromarray((np.asarray(image, dtype=np.float32) + grain).clip(0, 255).astype(np.uint8)).save(path, "JPEG", quality=90)
    return [form.format(c=colour, t=thing, p=place) for form in rng.sample(FORMS, 5)]


def write_coco_set(root: Path, train_images: int, seed: int) -> None:
    """Write annotations/captions_{train,val}2017.json with train2017/ and val2017/ JPEGs."""
    rng = random.Random(seed)
    texture = texture_field(seed)
    (root / "annotations").mkdir(parents=True, exist_ok=True)
    for part, count, first_id in (("train", train_images, 1), ("val", VAL_IMAGES, train_images + 1)):
        folder = root / f"{part}2017"
        folder.mkdir(exist_ok=True)
        images, annotations = [], []
        for image_id in range(first_id, first_id + count):
            file_name = f"{image_id:012d}.jpg"
            for caption in write_jpeg(folder / file_name, rng, texture):
                annotations.append({"id": len(annotations) + 1, "image_id": image_id, "caption": caption})
            images.append({"id": image_id, "file_name": file_name, "width": 640, "height": 480})
        payload = {"info": {}, "images": images, "annotations": annotations}
        (root / "annotations" / f"captions_{part}2017.json").write_text(json.dumps(payload))


# --- the fixed captioner -----------------------------------------------------------------


class SmallCaptioner(nn.Module):
    """A four-layer CNN encoder whose pooled feature starts a one-layer GRU decoder."""

    def __init__(self, vocab_size: int, width: int = 32, hidden: int = 256) -> None:
        super().__init__()
        layers, channels = [], 3
        for out in (width, width * 2, width * 4, width * 8):
            layers += [nn.Conv2d(channels, out, 3, stride=2, padding=1), nn.BatchNorm2d(out), nn.ReLU(inplace=True)]
            channels = out
        self.encoder = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(channels, hidden))
        self.embed = nn.Embedding(vocab_size, 128, padding_idx=PAD_ID)
        self.decoder = nn.GRU(128, hidden, batch_first=True)
        self.head = nn.Linear(hidden, vocab_size)

    def forward(self, images: torch.Tensor, captions: torch.Tensor) -> torch.Tensor:
        state = torch.tanh(self.encoder(images)).unsqueeze(0)  # [1, B, H]
        outputs, _ = self.decoder(self.embed(captions[:, :-1]), state)  # [B, T-1, H]
        return self.head(outputs)  # [B, T-1, V]


def train_epoch(batches: Iterable[tuple[torch.Tensor, torch.Tensor]], vocab_size: int, seed: int,
                device: torch.device) -> tuple[float, int]:
    """Train a freshly seeded captioner for one epoch on the first reference; return (seconds, images)."""
    torch.manual_seed(seed)
    model = SmallCaptioner(vocab_size).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss(ignore_index=PAD_ID)
    seen = 0
    started = time.perf_counter()
    for images, captions in batches:
        images, first = images.to(device), captions[:, 0].to(device)  # [B, 3, S, S], [B, T]
        logits = model(images, first)
        loss = loss_fn(logits.reshape(-1, logits.shape[-1]), first[:, 1:].reshape(-1))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        seen += len(images)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter() - started, seen


# --- the three input paths ---------------------------------------------------------------


def our_batches(prepared: PreparedData, batch_size: int, seed: int, prefetch: int = 2) -> TrainBatches:
    batches = TrainBatches(prepared.path, batch_size, seed, prefetch=prefetch)
    batches.set_epoch(1)
    return batches


def memory_batches(prepared: PreparedData, batch_size: int, seed: int) -> Callable[[], Iterator[tuple[torch.Tensor, torch.Tensor]]]:
    """Batches cut from tensors built before the clock starts: the lower bound for any loader."""
    source = TrainBatches(prepared.path, len(np.load(prepared.path / "ref_counts_train.npy")), seed)
    source.set_epoch(1)
    images = normalise(np.array(source.images))  # [N, 3, S, S] float32
    captions = torch.from_numpy(source.captions[:, :5].astype(np.int64))  # [N, 5, max_len + 2]

    def batches() -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        order = torch.from_numpy(np.random.default_rng([seed, 1]).permutation(len(images)))
        for start in range(0, len(order), batch_size):
            index = order[start : start + batch_size]
            chosen = captions[index]
            length = int((chosen != PAD_ID).sum(dim=2).max())
            yield images[index], chosen[:, :, :length]

    return batches


class ReferenceDataset:
    """Training set as the reference system reads it: one decoded JPEG and its raw captions per item.

    Each item looks up the image and its annotations in an index of the annotation file,
    as pycocotools does. It opens the JPEG, converts it to RGB and copies it at full size.
    Then it resizes the image, turns it into a tensor and normalises it, as torchvision's
    Resize, ToTensor and Normalize do on a PIL image. The collate step tokenizes captions.
    """

    def __init__(self, root: Path, image_size: int) -> None:
        payload = json.loads((root / "annotations" / "captions_train2017.json").read_text())
        self.folder = root / "train2017"
        self.image_size = image_size
        self.images = {image["id"]: image for image in payload["images"]}
        self.annotations = {annotation["id"]: annotation for annotation in payload["annotations"]}
        self.image_annotations: dict[int, list[int]] = {}
        for annotation in payload["annotations"]:
            self.image_annotations.setdefault(annotation["image_id"], []).append(annotation["id"])
        self.ids = sorted(self.images)
        self.mean, self.std = MEAN.view(3, 1, 1), STD.view(3, 1, 1)

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, list[str]]:
        image_id = self.ids[index]
        path = self.folder / self.images[image_id]["file_name"]
        with Image.open(path) as file:
            image = file.convert("RGB").copy()
        resized = image.resize((self.image_size, self.image_size), Image.BILINEAR)
        pixels = torch.from_numpy(np.array(resized, copy=True)).permute(2, 0, 1).contiguous().float().div(255)
        captions = [self.annotations[a]["caption"] for a in self.image_annotations.get(image_id, [])]
        return (pixels - self.mean) / self.std, captions or [""]


def reference_collate(items: list[tuple[torch.Tensor, list[str]]], vocab: Vocab,
                      word_tokenize: Callable[[str], list[str]]) -> tuple[torch.Tensor, torch.Tensor]:
    """Stack the images, tokenize every caption, add <SOS> and <EOS>, and pad to [B, N, T]."""
    ids = [[[SOS_ID, *vocab.encode(word_tokenize(c.lower())), EOS_ID] for c in captions] for _, captions in items]
    length = max(len(c) for refs in ids for c in refs)
    count = max(len(refs) for refs in ids)
    padded = [[c + [PAD_ID] * (length - len(c)) for c in refs] + [[PAD_ID] * length] * (count - len(refs)) for refs in ids]
    return torch.stack([image for image, _ in items]), torch.tensor(padded)


def reference_batches(root: Path, vocab: Vocab, image_size: int, batch_size: int, seed: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Yield one shuffled single-process epoch of ReferenceDataset, decoding and tokenizing every batch."""
    dataset, word_tokenize = ReferenceDataset(root, image_size), reference_tokenizer()
    order = list(range(len(dataset)))
    random.Random(seed).shuffle(order)
    for start in range(0, len(order), batch_size):
        yield reference_collate([dataset[i] for i in order[start : start + batch_size]], vocab, word_tokenize)


def reference_tokenizer() -> Callable[[str], list[str]]:
    """Return `nltk.word_tokenize`, as the reference calls it, or its two steps when punkt's data is missing.

    `word_tokenize` splits sentences with punkt, whose English parameters come from
    `nltk.download`, then runs NLTK's improved Treebank tokenizer on each sentence. Without
    the downloaded data, an untrained punkt splitter does the same work. Without NLTK,
    nncaption's metric tokenizer is used.
    """
    try:
        from nltk import word_tokenize
        from nltk.tokenize import NLTKWordTokenizer
        from nltk.tokenize.punkt import PunktSentenceTokenizer
    except ImportError:
        return tokenize
    try:
        word_tokenize("A test.")
        return word_tokenize
    except LookupError:
        sentences, words = PunktSentenceTokenizer(), NLTKWordTokenizer()
        return lambda text: [word for sentence in sentences.tokenize(text) for word in words.tokenize(sentence)]


def drain(batches: Iterable[tuple[torch.Tensor, torch.Tensor]]) -> float:
    """Seconds to produce every batch of one epoch without training on them."""
    started = time.perf_counter()
    for _ in batches:
        pass
    return time.perf_counter() - started


# --- the run -----------------------------------------------------------------------------


def time_prepare(root: Path, cache_root: Path, image_size: int) -> tuple[float, PreparedData]:
    dataset = load_coco(root, 2017)
    settings = PrepareSettings(image_size, max_len=20, min_count=5)
    started = time.perf_counter()
    prepared = prepare(dataset, cache_root, settings)
    return time.perf_counter() - started, prepared


def time_decoders(root: Path, workdir: Path, image_size: int, workers: int) -> None:
    """Print the image stage of the cache build with one thread, a thread pool and a process pool."""
    paths = sorted((root / "train2017").glob("*.jpg"))
    for label, count, decoder in (("1 thread", 1, "thread"), ("thread pool", workers, "thread"), ("process pool", workers, "process")):
        started = time.perf_counter()
        write_images(paths, workdir / "decoded.npy", image_size, count, decoder)
        seconds = time.perf_counter() - started
        print(f"  {label:<13} {seconds:7.2f} s  {len(paths) / seconds:8.0f} images/s")
    (workdir / "decoded.npy").unlink()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=2000, help="training JPEGs at 640x480 (default 2000)")
    parser.add_argument("--image-size", type=int, default=DataConfig().image_size,
                        help=f"side of the images the model sees, in pixels (default {DataConfig().image_size}, as data.image_size)")
    parser.add_argument("--batch-size", type=int, default=32, help="images per batch (default 32)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads, as in a trial (default 1)")
    parser.add_argument("--workers", type=int, default=0, help="decoders of the pooled cache builds; 0 means one per CPU")
    parser.add_argument("--repeat", type=int, default=2, help="epochs timed for memory and ours; the fastest counts (default 2)")
    parser.add_argument("--workdir", type=Path, help="folder for the data set and caches (default: a temporary folder, removed)")
    parser.add_argument("--device", default="cpu", help="torch device of the captioner: cpu, cuda, cuda:1, ... (default cpu)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="bench_loader_"))
    try:
        run(args, workdir)
    finally:
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)


def run(args: argparse.Namespace, workdir: Path) -> None:
    root = workdir / "coco"
    started = time.perf_counter()
    if not (root / "annotations" / "captions_val2017.json").is_file():
        write_coco_set(root, args.images, args.seed)
    jpeg_bytes = sum(path.stat().st_size for path in (root / "train2017").glob("*.jpg"))
    print(f"data set: {args.images} train + {VAL_IMAGES} val JPEGs at 640x480 in {root}, "
          f"{jpeg_bytes / args.images / 1024:.0f} KB per train JPEG ({time.perf_counter() - started:.1f} s to write or find)")

    print(f"\nimage stage of the cache build, {args.images} JPEGs to {args.image_size}x{args.image_size} "
          f"({args.workers or os.cpu_count()} workers in the pools):")
    time_decoders(root, workdir, args.image_size, args.workers)
    cache_root = workdir / "cache"
    shutil.rmtree(cache_root, ignore_errors=True)
    seconds, prepared = time_prepare(root, cache_root, args.image_size)
    print(f"  whole build (all splits, tokenize, vocab, constant caption): {seconds:.2f} s")
    vocab = Vocab.load(prepared.path / "vocab.json")

    device = torch.device(args.device)
    print(f"\none epoch of SmallCaptioner on {device}, batch {args.batch_size}, {args.threads} torch thread(s):")
    make_memory = memory_batches(prepared, args.batch_size, args.seed)
    train_epoch(make_memory(), len(vocab), args.seed, device)  # warm-up: first-call allocations, page cache
    timings = {}
    for label, make in (("memory", make_memory),
                        ("ours", lambda: our_batches(prepared, args.batch_size, args.seed)),
                        ("ours, no prefetch", lambda: our_batches(prepared, args.batch_size, args.seed, prefetch=0))):
        timings[label] = min(train_epoch(make(), len(vocab), args.seed, device)[0] for _ in range(args.repeat))
    reference_iter = reference_batches(root, vocab, args.image_size, args.batch_size, args.seed)
    timings["reference"] = train_epoch(reference_iter, len(vocab), args.seed, device)[0]
    for label, seconds in timings.items():
        print(f"  {label:<18} {seconds:7.2f} s  {args.images / seconds:8.0f} images/s")
    reference, ours, memory = timings["reference"], timings["ours"], timings["memory"]

    # The input side alone: the ratio an epoch approaches when the model step is nearly free (a GPU).
    print("\none epoch of batches with no model (input pipeline only):")
    ours_input = min(drain(our_batches(prepared, args.batch_size, args.seed, prefetch=0)) for _ in range(args.repeat))
    reference_input = drain(reference_batches(root, vocab, args.image_size, args.batch_size, args.seed))
    print(f"  ours (no prefetch) {ours_input:7.2f} s  {args.images / ours_input:8.0f} images/s")
    print(f"  reference          {reference_input:7.2f} s  {args.images / reference_input:8.0f} images/s")
    print(f"  reference / ours:  {reference_input / ours_input:.0f}x")

    print(f"\nepoch, reference / ours: {reference / ours:.1f}x faster (target >= 5x)")
    print(f"epoch, ours / memory - 1: {100 * (ours / memory - 1):+.1f} % overhead (target <= 10 %); "
          f"without prefetch {100 * (timings['ours, no prefetch'] / memory - 1):+.1f} %")


if __name__ == "__main__":
    main()
