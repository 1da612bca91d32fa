"""Word vocabulary with the four special ids of the Net API."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path

from nncaption.contract import EOS_ID, PAD_ID, SOS_ID, SPECIAL_TOKENS, UNK_ID


class Vocab:
    def __init__(self, words: Sequence[str]) -> None:
        self.itos = list(SPECIAL_TOKENS) + [w for w in words if w not in SPECIAL_TOKENS]
        self.stoi = {w: i for i, w in enumerate(self.itos)}
        self.pad_id, self.sos_id, self.eos_id, self.unk_id = PAD_ID, SOS_ID, EOS_ID, UNK_ID

    def __len__(self) -> int:
        return len(self.itos)

    @classmethod
    def build(cls, token_lists: Iterable[list[str]], min_count: int) -> Vocab:
        """Words seen at least `min_count` times, most frequent first (ties alphabetical)."""
        counts = Counter(token for tokens in token_lists for token in tokens)
        words = sorted((w for w, n in counts.items() if n >= min_count), key=lambda w: (-counts[w], w))
        return cls(words)

    def encode(self, tokens: list[str]) -> list[int]:
        return [self.stoi.get(t, UNK_ID) for t in tokens]

    def decode(self, ids: Iterable[int]) -> str:
        """Words up to the first <EOS>, with <PAD>, <SOS> and <UNK> left out."""
        words = []
        for i in ids:
            i = int(i)
            if i == EOS_ID:
                break
            if i in (PAD_ID, SOS_ID, UNK_ID) or not 0 <= i < len(self.itos):
                continue
            words.append(self.itos[i])
        return " ".join(words)

    def save(self, path: Path) -> None:
        path.write_text(json.dumps({"itos": self.itos}), encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> Vocab:
        return cls(json.loads(Path(path).read_text(encoding="utf-8"))["itos"])
