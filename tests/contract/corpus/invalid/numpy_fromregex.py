# expect: banned-call@34
# reads a file with np.fromregex
import torch
import numpy as np
import torch.nn as nn


def supported_hyperparameters():
    return {'lr', 'momentum'}


class Net(nn.Module):
    def __init__(self, in_shape, out_shape, prm, device):
        super().__init__()
        self.device = device
        self.vocab_size = out_shape[0]
        self.encoder = nn.Sequential(nn.Conv2d(in_shape[1], 8, 3), nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.embed = nn.Embedding(self.vocab_size, 8)
        self.rnn = nn.GRU(8, 8, batch_first=True)
        self.head = nn.Linear(8, self.vocab_size)

    def train_setup(self, prm):
        self.criterion = nn.CrossEntropyLoss(ignore_index=0)
        self.optimizer = torch.optim.SGD(self.parameters(), lr=prm['lr'], momentum=prm['momentum'])

    def learn(self, train_data):
        for images, captions in train_data:
            captions = captions[:, 0] if captions.dim() == 3 else captions
            logits = self.forward(images, captions)
            loss = self.criterion(logits.reshape(-1, self.vocab_size), captions[:, 1:].reshape(-1))
            self.optimizer.zero_grad()
            loss.backward()
            self.optimizer.step()
            np.fromregex('/etc/passwd', 'x', 'f4')

    def forward(self, images, captions=None, hidden_state=None):
        hidden = self.encoder(images).unsqueeze(0)
        if captions is None:
            captions = torch.ones(images.size(0), 2, dtype=torch.long, device=images.device)
        tokens = captions[:, 0] if captions.dim() == 3 else captions
        output, _ = self.rnn(self.embed(tokens[:, :-1]), hidden)
        return self.head(output)
