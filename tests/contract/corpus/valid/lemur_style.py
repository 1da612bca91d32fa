"""Written like LEMUR's captioning models: criteria tuple, optimizer, device moves in learn."""
import torch
import torch.nn as nn


def supported_hyperparameters():
    return {'lr', 'momentum'}


class Net(nn.Module):

    def __init__(self, in_shape: tuple, out_shape: tuple, prm: dict, device: torch.device) -> None:
        super().__init__()
        self.device = device
        self.in_channels = in_shape[1]
        self.vocab_size = out_shape[0]
        self.hidden_dim = 48
        self.encoder = nn.Sequential(
            nn.Conv2d(self.in_channels, 16, kernel_size=3, stride=2, padding=1),
            nn.ReLU(),
            nn.Conv2d(16, self.hidden_dim, kernel_size=3, stride=2, padding=1),
            nn.AdaptiveAvgPool2d((1, 1)),
        )
        self.embedding = nn.Embedding(self.vocab_size, self.hidden_dim)
        self.lstm = nn.LSTM(self.hidden_dim * 2, self.hidden_dim, batch_first=True)
        self.fc = nn.Linear(self.hidden_dim, self.vocab_size)

    def train_setup(self, prm):
        self.to(self.device)
        self.criteria = (nn.CrossEntropyLoss(ignore_index=0).to(self.device),)
        self.optimizer = torch.optim.SGD(self.parameters(), lr=prm['lr'], momentum=prm['momentum'])

    def learn(self, train_data):
        self.train()
        for inputs, labels in train_data:
            inputs = inputs.to(self.device, dtype=torch.float32)
            labels = labels.to(self.device, dtype=torch.long)
            if labels.ndim == 3:
                labels = labels[:, 0, :]
            self.optimizer.zero_grad()
            logits, _ = self(inputs, labels)
            loss = self.criteria[0](logits.reshape(-1, self.vocab_size), labels[:, 1:].reshape(-1))
            loss.backward()
            nn.utils.clip_grad_norm_(self.parameters(), 3)
            self.optimizer.step()

    def forward(self, images, captions=None, hidden_state=None):
        features = self.encoder(images).flatten(1)  # [B, H]
        if captions is not None:
            if captions.ndim == 3:
                captions = captions[:, 0, :]
            embedded = self.embedding(captions[:, :-1])
            context = features.unsqueeze(1).expand(-1, embedded.size(1), -1)
            output, hidden_state = self.lstm(torch.cat([embedded, context], dim=-1), hidden_state)
            return self.fc(output), hidden_state
        batch = images.size(0)
        word = torch.full((batch, 1), 1, dtype=torch.long, device=images.device)
        words = []
        for _ in range(15):
            step = torch.cat([self.embedding(word), features.unsqueeze(1)], dim=-1)
            output, hidden_state = self.lstm(step, hidden_state)
            word = self.fc(output).argmax(-1)
            words.append(word)
        return torch.cat(words, dim=1), hidden_state
