"""ResNet with basic blocks (two 3×3 convolutions and an identity shortcut), CIFAR-style stem."""

import torch
import torch.nn as nn

FAMILY = "resnet"
DEFAULT_WIDTH = 16  # channels of the stem; the four stages use 1, 2, 4 and 8 times that
STRIDE = 8  # a 32×32 image gives a 4×4 grid


class BasicBlock(nn.Module):
    """Two 3×3 conv-BN layers plus a shortcut (a strided 1×1 conv when the shape changes)."""

    def __init__(self, in_channels, out_channels, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.shortcut = nn.Identity()
        if stride != 1 or in_channels != out_channels:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, stride, bias=False),
                nn.BatchNorm2d(out_channels),
            )

    def forward(self, x):
        out = torch.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return torch.relu(out + self.shortcut(x))


class Features(nn.Module):
    """Stem and four stages of basic blocks; returns the last stage's grid [B, 8·width, H/8, W/8]."""

    def __init__(self, in_channels: int, width: int):
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, width, 3, 1, 1, bias=False),
            nn.BatchNorm2d(width),
            nn.ReLU(inplace=True),
        )
        channels = [width, 2 * width, 4 * width, 8 * width]
        strides = [1, 2, 2, 2]
        blocks = []
        previous = width
        for out_channels, stride in zip(channels, strides, strict=True):
            blocks.append(BasicBlock(previous, out_channels, stride))
            blocks.append(BasicBlock(out_channels, out_channels, 1))
            previous = out_channels
        self.stages = nn.Sequential(*blocks)
        self.out_channels = previous

    def forward(self, x):
        return self.stages(self.stem(x))


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
