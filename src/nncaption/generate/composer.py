"""The composer: samples the captioning design space without an LLM.

It is the embedded default generator and the random-search baseline of the study. Each
proposal is a complete, self-contained model file under the Net API, the same kind of
file an LLM would write. The file starts with the encoder source of a zoo backbone, pasted
as is. A `Net` follows that pools the backbone's grid to one vector, or to a small spatial
grid for attention, and decodes with an LSTM, GRU or Transformer.
"""

from __future__ import annotations

import math
import random
from dataclasses import asdict, dataclass
from string import Template

from nncaption.config import GeneratorConfig
from nncaption.contract import PAD_ID, SOS_ID
from nncaption.generate.base import GenerationContext, Proposal, register_generator
from nncaption.generate.composer_templates import DECODERS, NET_TEMPLATE
from nncaption.zoo import encoder_source, get_entry, list_entries

DECODER_KINDS = ("lstm", "gru", "transformer")
FEATURE_MODES = ("grid", "pooled")
GRID_SIDE = 4  # the backbone's grid is pooled to GRID_SIDE x GRID_SIDE cells in grid mode


@dataclass(frozen=True)
class Design:
    """One point of the composer's design space."""

    backbone: str
    width: int
    features: str  # grid | pooled
    decoder: str  # lstm | gru | transformer
    hidden: int
    embed: int
    layers: int
    dropout: float
    optimizer: str  # adam | adamw
    lr: float

    def describe(self) -> str:
        return f"{self.backbone}(w{self.width}) {self.features} -> {self.decoder} h{self.hidden} x{self.layers}"


def sample_design(rng: random.Random, backbones: list[str], zoo_dirs: tuple[str, ...] = ()) -> Design:
    """Draw a design; every choice is uniform except the log-uniform learning rate."""
    backbone = rng.choice(backbones)
    default_width = get_entry(backbone, zoo_dirs, probe=False).default_width
    decoder = rng.choice(DECODER_KINDS)
    hidden = rng.choice((128, 192, 256))
    return Design(
        backbone=backbone,
        width=max(4, int(default_width * rng.choice((0.5, 0.75)))),
        features=rng.choice(FEATURE_MODES),
        decoder=decoder,
        hidden=hidden,
        embed=hidden if decoder == "transformer" else rng.choice((64, 128)),
        layers=rng.choice((1, 2)),
        dropout=round(rng.uniform(0.0, 0.3), 2),
        optimizer=rng.choice(("adam", "adamw")),
        lr=round(math.exp(rng.uniform(math.log(1e-3), math.log(4e-3))), 5),
    )


def render(design: Design, context: GenerationContext) -> str:
    """Render the complete model file for `design`."""
    decoder = DECODERS[(design.decoder, design.features)]
    hyperparameters = ["lr", "dropout"] + (["weight_decay"] if design.optimizer == "adamw" else [])
    optimizer = {
        "adam": 'torch.optim.Adam(self.parameters(), lr=prm["lr"])',
        "adamw": 'torch.optim.AdamW(self.parameters(), lr=prm["lr"], weight_decay=prm["weight_decay"])',
    }[design.optimizer]
    net = Template(NET_TEMPLATE).substitute(
        summary=design.describe(),
        hyperparameters=", ".join(f'"{h}"' for h in hyperparameters),
        width=design.width,
        grid=GRID_SIDE if design.features == "grid" else 1,
        hidden=design.hidden,
        embed=design.embed,
        layers=design.layers,
        max_positions=max(64, context.facts.max_len + 2),
        max_decode_len=context.facts.max_len,
        pad_id=PAD_ID,
        sos_id=SOS_ID,
        optimizer=optimizer,
        decoder_init=Template(decoder.init).substitute(layers=design.layers),
        decoder_body=decoder.body,
    )
    encoder = encoder_source(design.backbone, context.zoo_dirs)
    header = f'"""Captioning model composed by nncaption: {design.describe()}."""\n\n'
    return header + encoder.rstrip() + "\n\n\n" + net


class Composer:
    kind = "composer"

    def __init__(self, config: GeneratorConfig, context: GenerationContext) -> None:
        self.context = context
        self.seed = config.seed
        usable = [e for e in list_entries(kind="backbone", extra_dirs=context.zoo_dirs, probe=False) if e.has_features]
        self.backbones = sorted(e.name for e in usable if e.name in COMPOSER_BACKBONES or not COMPOSER_BACKBONES)

    def propose(self, index: int) -> Proposal:
        rng = random.Random(f"composer-{self.seed}-{index}")
        design = sample_design(rng, self.backbones, self.context.zoo_dirs)
        suggested = {"lr": design.lr, "dropout": design.dropout}
        if design.optimizer == "adamw":
            suggested["weight_decay"] = 0.01
        meta = {"generator": "composer", "design": asdict(design), "prm": suggested}
        return Proposal(source=render(design, self.context), meta=meta)

    def repair(self, proposal: Proposal, feedback: str, attempt: int) -> Proposal | None:
        return None  # composed files are correct by construction; a failure is reported, not retried


# Backbones the composer samples from. Empty means every backbone in the registry.
COMPOSER_BACKBONES: tuple[str, ...] = ()


@register_generator("composer")
def _make_composer(config: GeneratorConfig, context: GenerationContext) -> Composer:
    return Composer(config, context)
