"""DenseNet: dense blocks where each layer sees the concatenated outputs of all earlier layers."""

import torch
import torch.nn as nn

FAMILY = "densenet"
DEFAULT_WIDTH = 12  # growth rate: channels each dense layer adds
STRIDE = 8  # strided stem and two transitions: a 32×32 image gives a 4×4 grid
BLOCK_LAYERS = (4, 6, 8)  # dense layers per block (DenseNet-121 uses 6, 12, 24, 16)
BOTTLENECK_FACTOR = 4  # a dense layer's 1×1 conv outputs 4·growth channels


class DenseLayer(nn.Module):
    """BN-ReLU-1×1 conv then BN-ReLU-3×3 conv; returns only the `growth` new channels."""

    def __init__(self, in_channels, growth):
        super().__init__()
        inner = BOTTLENECK_FACTOR * growth
        self.body = nn.Sequential(
            nn.BatchNorm2d(in_channels),
            nn.ReLU(inplace=True),
            nn.Conv2d(in_channels, inner, 1, bias=False),
            nn.BatchNorm2d(inner),
            nn.ReLU(inplace=True),
            nn.Conv2d(inner, growth, 3, 1, 1, bias=False),
        )

    def forward(self, x):
        return self.body(x)


class DenseBlock(nn.Module):
    """`num_layers` dense layers; the output is the input with every layer's channels appended."""

    def __init__(self, in_channels, num_layers, growth):
        super().__init__()
        self.layers = nn.ModuleList(DenseLayer(in_channels + i * growth, growth) for i in range(num_layers))
        self.out_channels = in_channels + num_layers * growth

    def forward(self, x):
        features = [x]
        for layer in self.layers:
            features.append(layer(torch.cat(features, dim=1)))
        return torch.cat(features, dim=1)


class Transition(nn.Sequential):
    """BN-ReLU-1×1 conv that halves the channels, then 2×2 average pooling."""

    def __init__(self, in_channels, out_channels):
        super().__init__(
            nn.BatchNorm2d(in_channels),
            nn.ReLU(inplace=True),
            nn.Conv2d(in_channels, out_channels, 1, bias=False),
            nn.AvgPool2d(2),
        )


class Features(nn.Module):
    """Strided stem, dense blocks with transitions between them, final BN-ReLU."""

    def __init__(self, in_channels: int, width: int):
        super().__init__()
        channels = 2 * width
        layers = [nn.Conv2d(in_channels, channels, 3, 2, 1, bias=False)]
        for index, num_layers in enumerate(BLOCK_LAYERS):
            block = DenseBlock(channels, num_layers, width)
            layers.append(block)
            channels = block.out_channels
            if index < len(BLOCK_LAYERS) - 1:
                layers.append(Transition(channels, channels // 2))
                channels //= 2
        layers += [nn.BatchNorm2d(channels), nn.ReLU(inplace=True)]
        self.layers = nn.Sequential(*layers)
        self.out_channels = channels

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
