"""A model whose inference path returns scores [B, L, V] instead of ids."""
import torch
import torch.nn as nn


def supported_hyperparameters():
    return {'lr'}


class Net(nn.Module):
    def __init__(self, in_shape, out_shape, prm, device):
        super().__init__()
        self.device = device
        vocab_size = out_shape[0]
        self.vocab_size = vocab_size
        self.encoder = nn.Sequential(nn.Conv2d(in_shape[1], 8, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(2))
        self.bridge = nn.Linear(32, 24)
        self.embed = nn.Embedding(vocab_size, 24)
        self.rnn = nn.GRU(24, 24, batch_first=True)
        self.head = nn.Linear(24, vocab_size)
        self.max_len = 8
        self.to(device)

    def train_setup(self, prm):
        self.criterion = nn.CrossEntropyLoss(ignore_index=0)
        self.optimizer = torch.optim.Adam(self.parameters(), lr=prm['lr'])

    def learn(self, train_data):
        for images, captions in train_data:
            captions = captions.to(self.device)
            if captions.dim() == 3:
                captions = captions[:, 0, :]
            logits = self(images.to(self.device), captions)
            loss = self.criterion(logits.flatten(0, 1), captions[:, 1:].flatten())
            self.optimizer.zero_grad()
            loss.backward()
            self.optimizer.step()

    def forward(self, images, captions=None, hidden_state=None):
        hidden = self.bridge(self.encoder(images).flatten(1)).unsqueeze(0)  # [1, B, 24]
        if captions is not None:
            if captions.dim() == 3:
                captions = captions[:, 0, :]
            output, _ = self.rnn(self.embed(captions[:, :-1]), hidden)
            return self.head(output)
        token = torch.ones(images.size(0), 1, dtype=torch.long, device=images.device)
        scores = []
        for _ in range(self.max_len):
            output, hidden = self.rnn(self.embed(token), hidden)
            step_scores = self.head(output)  # [B, 1, V]
            scores.append(step_scores)
            token = step_scores.argmax(-1)
        return torch.cat(scores, dim=1)  # [B, L, V]
