"""AlexNet: five convolutions with ReLU and three overlapping max poolings, no normalisation."""

import torch
import torch.nn as nn

FAMILY = "alexnet"
DEFAULT_WIDTH = 16  # channels of the first conv; AlexNet's 64-192-384-256-256 become 1-3-6-4-4 times width
STRIDE = 8  # three 3×3 stride-2 poolings: a 32×32 image gives a 4×4 grid


class ConvReLU(nn.Sequential):
    def __init__(self, in_channels, out_channels, kernel_size):
        super().__init__(
            nn.Conv2d(in_channels, out_channels, kernel_size, 1, kernel_size // 2),
            nn.ReLU(inplace=True),
        )


class Features(nn.Module):
    """AlexNet's conv layers with a 5×5 stride-1 first conv (11×11 stride 4 in the original)."""

    def __init__(self, in_channels: int, width: int):
        super().__init__()
        self.layers = nn.Sequential(
            ConvReLU(in_channels, width, 5),
            nn.MaxPool2d(3, 2, 1),
            ConvReLU(width, 3 * width, 5),
            nn.MaxPool2d(3, 2, 1),
            ConvReLU(3 * width, 6 * width, 3),
            ConvReLU(6 * width, 4 * width, 3),
            ConvReLU(4 * width, 4 * width, 3),
            nn.MaxPool2d(3, 2, 1),
        )
        self.out_channels = 4 * width

    def forward(self, x):
        return self.layers(x)


def supported_hyperparameters():
    return {"lr", "momentum"}


class Net(nn.Module):
    """Image classifier: Features, global average pooling and a linear layer."""

    def __init__(self, in_shape, out_shape, prm, device):
        super().__init__()
        self.device = device
        self.features = Features(in_shape[1], DEFAULT_WIDTH)
        self.classifier = nn.Linear(self.features.out_channels, out_shape[0])
        self.to(device)

    def forward(self, x):
        grid = self.features(x)  # [B, C, h, w]
        return self.classifier(grid.mean(dim=(2, 3)))  # [B, num_classes]

    def train_setup(self, prm):
        self.criterion = nn.CrossEntropyLoss()
        self.optimizer = torch.optim.SGD(
            self.parameters(), lr=prm["lr"], momentum=prm.get("momentum", 0.9)
        )

    def learn(self, train_data):
        self.train()
        for images, labels in train_data:
            images, labels = images.to(self.device), labels.to(self.device)
            self.optimizer.zero_grad()
            loss = self.criterion(self(images), labels)
            loss.backward()
            nn.utils.clip_grad_norm_(self.parameters(), 3.0)
            self.optimizer.step()
