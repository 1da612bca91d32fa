"""GRU decoder with additive attention over the spatial grid of a small CNN."""
import torch
import torch.nn as nn
import torch.nn.functional as F


def supported_hyperparameters():
    return {'lr', 'momentum'}


class Attention(nn.Module):
    def __init__(self, feature_width, hidden_width, width):
        super().__init__()
        self.features = nn.Linear(feature_width, width)
        self.hidden = nn.Linear(hidden_width, width)
        self.score = nn.Linear(width, 1)

    def forward(self, grid, hidden):
        # grid: [B, P, C], hidden: [B, H]
        energy = torch.tanh(self.features(grid) + self.hidden(hidden).unsqueeze(1))
        weights = F.softmax(self.score(energy).squeeze(-1), dim=1)  # [B, P]
        return (weights.unsqueeze(-1) * grid).sum(1)  # [B, C]


class Net(nn.Module):
    def __init__(self, in_shape, out_shape, prm, device):
        super().__init__()
        self.device = device
        self.vocab_size = out_shape[0]
        self.cnn = nn.Sequential(nn.Conv2d(in_shape[1], 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2))
        self.attention = Attention(16, 32, 24)
        self.embed = nn.Embedding(self.vocab_size, 16)
        self.cell = nn.GRUCell(32, 32)
        self.init_hidden = nn.Linear(16, 32)
        self.head = nn.Linear(32, self.vocab_size)
        self.to(device)

    def train_setup(self, prm):
        self.criterion = nn.CrossEntropyLoss(ignore_index=0)
        self.optimizer = torch.optim.SGD(self.parameters(), lr=prm['lr'], momentum=prm['momentum'])

    def learn(self, train_data):
        self.train()
        for images, captions in train_data:
            images, captions = images.to(self.device), captions.to(self.device)
            tokens = captions[:, 0] if captions.ndim == 3 else captions
            logits = self.forward(images, tokens)
            loss = self.criterion(logits.transpose(1, 2), tokens[:, 1:])
            self.optimizer.zero_grad()
            loss.backward()
            self.optimizer.step()

    def step(self, grid, token, hidden):
        context = self.attention(grid, hidden)
        hidden = self.cell(torch.cat([self.embed(token), context], dim=-1), hidden)
        return self.head(hidden), hidden

    def forward(self, images, captions=None, hidden_state=None):
        grid = self.cnn(images).flatten(2).transpose(1, 2)  # [B, P, 16]
        hidden = torch.tanh(self.init_hidden(grid.mean(1)))
        if captions is not None:
            tokens = captions[:, 0] if captions.ndim == 3 else captions
            outputs = []
            for t in range(tokens.size(1) - 1):
                logits, hidden = self.step(grid, tokens[:, t], hidden)
                outputs.append(logits)
            return torch.stack(outputs, dim=1)
        token = torch.ones(images.size(0), dtype=torch.long, device=images.device)
        ids = []
        for _ in range(10):
            logits, hidden = self.step(grid, token, hidden)
            token = logits.argmax(-1)
            ids.append(token)
        return torch.stack(ids, dim=1)
