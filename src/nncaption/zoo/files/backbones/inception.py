"""Inception-style network: parallel 1×1, 3×3, double-3×3 and pooling branches, concatenated."""

import torch
import torch.nn as nn

FAMILY = "inception"
DEFAULT_WIDTH = 16  # channels of each branch in the first module; later modules use 2 and 4 times that
STRIDE = 8  # strided stem and two reduction modules: a 32×32 image gives a 4×4 grid


class ConvBNReLU(nn.Sequential):
    def __init__(self, in_channels, out_channels, kernel_size=1, stride=1, padding=0):
        super().__init__(
            nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True),
        )


class InceptionBlock(nn.Module):
    """Four branches of `branch` channels each: 1×1; 1×1→3×3; 1×1→3×3→3×3 (a factorised 5×5);
    3×3 average pooling→1×1. The output has 4·branch channels and the input's spatial size."""

    def __init__(self, in_channels, branch):
        super().__init__()
        self.branch1 = ConvBNReLU(in_channels, branch)
        self.branch3 = nn.Sequential(ConvBNReLU(in_channels, branch), ConvBNReLU(branch, branch, 3, padding=1))
        self.branch5 = nn.Sequential(
            ConvBNReLU(in_channels, branch),
            ConvBNReLU(branch, branch, 3, padding=1),
            ConvBNReLU(branch, branch, 3, padding=1),
        )
        self.branch_pool = nn.Sequential(nn.AvgPool2d(3, 1, 1), ConvBNReLU(in_channels, branch))
        self.out_channels = 4 * branch

    def forward(self, x):
        branches = [self.branch1(x), self.branch3(x), self.branch5(x), self.branch_pool(x)]
        return torch.cat(branches, dim=1)


class FactorizedBlock(nn.Module):
    """Inception-v3 style asymmetric convolutions: 1×1; 1×1→1×3→3×1; pooling→1×1 (3·branch channels)."""

    def __init__(self, in_channels, branch):
        super().__init__()
        self.branch1 = ConvBNReLU(in_channels, branch)
        self.branch_asym = nn.Sequential(
            ConvBNReLU(in_channels, branch),
            ConvBNReLU(branch, branch, (1, 3), padding=(0, 1)),
            ConvBNReLU(branch, branch, (3, 1), padding=(1, 0)),
        )
        self.branch_pool = nn.Sequential(nn.AvgPool2d(3, 1, 1), ConvBNReLU(in_channels, branch))
        self.out_channels = 3 * branch

    def forward(self, x):
        return torch.cat([self.branch1(x), self.branch_asym(x), self.branch_pool(x)], dim=1)


class Reduction(nn.Module):
    """Halve the grid with a stride-2 3×3 conv branch next to a stride-2 max pooling branch."""

    def __init__(self, in_channels, conv_channels):
        super().__init__()
        self.conv = ConvBNReLU(in_channels, conv_channels, 3, stride=2, padding=1)
        self.pool = nn.MaxPool2d(3, 2, 1)
        self.out_channels = in_channels + conv_channels

    def forward(self, x):
        return torch.cat([self.conv(x), self.pool(x)], dim=1)


class Features(nn.Module):
    """Stride-2 stem, inception modules with reductions between them, a factorised module last."""

    def __init__(self, in_channels: int, width: int):
        super().__init__()
        blocks = [ConvBNReLU(in_channels, 2 * width, 3, stride=2, padding=1)]
        previous = 2 * width
        for multiple in (1, 2):
            block = InceptionBlock(previous, multiple * width)
            reduction = Reduction(block.out_channels, 2 * multiple * width)
            blocks += [block, reduction]
            previous = reduction.out_channels
        final = FactorizedBlock(previous, 4 * width)
        blocks.append(final)
        self.layers = nn.Sequential(*blocks)
        self.out_channels = final.out_channels

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
