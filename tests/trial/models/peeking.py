"""A non-causal captioner for trial tests: every position also reads the mean of all caption tokens."""

import torch
import torch.nn as nn

PAD_ID = 0


def supported_hyperparameters():
    return {"lr"}


class Net(nn.Module):
    def __init__(self, in_shape, out_shape, prm, device):
        super().__init__()
        self.device = device
        self.encoder = nn.Sequential(nn.Conv2d(in_shape[1], 8, 4, 4), nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.embed = nn.Embedding(out_shape[0], 8)
        self.out = nn.Linear(16, out_shape[0])
        self.to(device)

    def forward(self, images, captions=None, hidden_state=None):
        features = self.encoder(images)
        if captions is None:
            return torch.ones(images.size(0), 3, dtype=torch.long)
        if captions.dim() == 3:
            captions = captions[:, 0]
        embedded = self.embed(captions[:, :-1])
        future = embedded.mean(dim=1, keepdim=True).expand_as(embedded)  # reads tokens after each position
        return self.out(torch.cat([embedded + future, features.unsqueeze(1).expand_as(embedded)], dim=2))

    def train_setup(self, prm):
        self.optimizer = torch.optim.SGD(self.parameters(), lr=prm["lr"])

    def learn(self, train_data):
        for images, captions in train_data:
            logits = self(images, captions)
            loss = nn.functional.cross_entropy(logits.reshape(-1, logits.size(-1)), captions[:, 0, 1:].reshape(-1), ignore_index=PAD_ID)
            self.optimizer.zero_grad()
            loss.backward()
            self.optimizer.step()
