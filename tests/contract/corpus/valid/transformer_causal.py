"""Patch encoder and Transformer decoder with a causal mask."""
import math

import torch
from torch import nn


def supported_hyperparameters():
    return {'lr', 'dropout'}


class PositionalEncoding(nn.Module):
    def __init__(self, width, max_len=64):
        super().__init__()
        position = torch.arange(max_len).unsqueeze(1)
        scale = torch.exp(torch.arange(0, width, 2) * (-math.log(10000.0) / width))
        table = torch.zeros(max_len, width)
        table[:, 0::2] = torch.sin(position * scale)
        table[:, 1::2] = torch.cos(position * scale)
        self.register_buffer('table', table)

    def forward(self, x):
        return x + self.table[: x.size(1)]


class Net(nn.Module):
    def __init__(self, in_shape, out_shape, prm, device):
        super().__init__()
        self.device = device
        self.vocab_size = out_shape[0]
        width = 32
        self.patches = nn.Conv2d(in_shape[1], width, kernel_size=4, stride=4)
        self.embed = nn.Embedding(self.vocab_size, width)
        self.position = PositionalEncoding(width)
        layer = nn.TransformerDecoderLayer(width, nhead=4, dim_feedforward=64,
                                           dropout=prm['dropout'], batch_first=True)
        self.decoder = nn.TransformerDecoder(layer, num_layers=2)
        self.head = nn.Linear(width, self.vocab_size)
        self.to(device)

    def train_setup(self, prm):
        self.criterion = nn.CrossEntropyLoss(ignore_index=0)
        self.optimizer = torch.optim.AdamW(self.parameters(), lr=prm['lr'])

    def learn(self, train_data):
        self.train()
        for images, captions in train_data:
            captions = captions.to(self.device)
            tokens = captions[:, 0, :] if captions.dim() == 3 else captions
            logits = self(images.to(self.device), tokens)
            loss = self.criterion(logits.reshape(-1, self.vocab_size), tokens[:, 1:].reshape(-1))
            self.optimizer.zero_grad()
            loss.backward()
            self.optimizer.step()

    def encode(self, images):
        memory = self.patches(images)  # [B, W, H/4, W/4]
        return memory.flatten(2).transpose(1, 2)  # [B, P, W]

    def decode(self, memory, tokens):
        size = tokens.size(1)
        mask = nn.Transformer.generate_square_subsequent_mask(size, device=tokens.device)
        hidden = self.decoder(self.position(self.embed(tokens)), memory, tgt_mask=mask, tgt_is_causal=True)
        return self.head(hidden)  # [B, T, V]

    def forward(self, images, captions=None, hidden_state=None):
        memory = self.encode(images)
        if captions is not None:
            tokens = captions[:, 0, :] if captions.dim() == 3 else captions
            return self.decode(memory, tokens[:, :-1])
        tokens = torch.ones(images.size(0), 1, dtype=torch.long, device=images.device)
        for _ in range(12):
            next_token = self.decode(memory, tokens)[:, -1].argmax(-1, keepdim=True)
            tokens = torch.cat([tokens, next_token], dim=1)
        return tokens[:, 1:]
