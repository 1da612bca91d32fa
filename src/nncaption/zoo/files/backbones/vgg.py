"""VGG-style network: stacks of 3×3 conv-BN-ReLU layers separated by 2×2 max pooling."""

import torch
import torch.nn as nn

FAMILY = "vgg"
DEFAULT_WIDTH = 16  # channels of the first stack; later stacks use 2, 4 and 8 times that
STRIDE = 8  # three poolings: a 32×32 image gives a 4×4 grid

# Output channels per conv layer as multiples of width; "M" is a 2×2 max pooling.
# The same pattern as VGG-11, with the last pooling dropped to keep a spatial grid.
LAYOUT = [1, "M", 2, "M", 4, 4, "M", 8, 8]


class ConvBNReLU(nn.Sequential):
    """3×3 convolution, batch normalisation and ReLU, keeping the spatial size."""

    def __init__(self, in_channels, out_channels):
        super().__init__(
            nn.Conv2d(in_channels, out_channels, 3, 1, 1, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True),
        )


class Features(nn.Module):
    """The conv stacks of LAYOUT; returns [B, 8·width, H/8, W/8]."""

    def __init__(self, in_channels: int, width: int):
        super().__init__()
        layers = []
        previous = in_channels
        for item in LAYOUT:
            if item == "M":
                layers.append(nn.MaxPool2d(2))
            else:
                layers.append(ConvBNReLU(previous, item * width))
                previous = item * width
        self.layers = nn.Sequential(*layers)
        self.out_channels = previous

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
