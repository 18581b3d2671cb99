"""Train a small CNN on the bundled 8x8 digits: a training loop written as in PyTorch.

    python examples/train_digits.py              # 8 epochs, ~99% test accuracy, seconds on a CPU
    python examples/train_digits.py --epochs 1

Replace ``neurarust`` by ``torch`` (and ``neurarust.data`` by ``torch.utils.data``) and this is a
PyTorch script; the Digits dataset and its fixed 80/20 split come with NeuraRust.
"""
import argparse

import neurarust as nr
import neurarust.nn as nn
import neurarust.nn.functional as F
from neurarust.data import DataLoader
from neurarust.data.datasets import Digits


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 3, padding=1)
        self.conv2 = nn.Conv2d(16, 32, 3, padding=1)
        self.dropout = nn.Dropout(0.25)
        self.fc = nn.Linear(32 * 4 * 4, 10)

    def forward(self, x):
        x = F.relu(self.conv1(x))
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        return self.fc(self.dropout(x.flatten(1)))


def train(model, loader, optimizer, scheduler, device):
    model.train()
    for images, labels in loader:
        images, labels = images.unsqueeze(1).to(device), labels.to(device)
        optimizer.zero_grad()
        loss = F.cross_entropy(model(images), labels)
        loss.backward()
        optimizer.step()
        scheduler.step()
    return loss.item()


@nr.no_grad()
def test(model, loader, device):
    model.eval()
    correct = total = 0
    for images, labels in loader:
        images, labels = images.unsqueeze(1).to(device), labels.to(device)
        correct += (model(images).argmax(dim=1) == labels).sum().item()
        total += labels.numel()
    return correct / total


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--lr", type=float, default=1e-2)
    parser.add_argument("--batch-size", type=int, default=64)
    args = parser.parse_args()

    nr.manual_seed(0)
    device = "cuda" if nr.cuda.is_available() else "cpu"
    normalize = lambda x: (x - 0.3) / 0.4   # noqa: E731  (pixels are in [0, 1])
    train_set, test_set = Digits(train=True, transform=normalize), Digits(train=False, transform=normalize)
    train_loader = DataLoader(train_set, batch_size=args.batch_size, shuffle=True)
    test_loader = DataLoader(test_set, batch_size=256)

    model = Net().to(device)
    optimizer = nr.optim.AdamW(model.parameters(), lr=args.lr)
    scheduler = nr.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=args.lr,
                                                 total_steps=args.epochs * len(train_loader))
    for epoch in range(1, args.epochs + 1):
        loss = train(model, train_loader, optimizer, scheduler, device)
        print(f"epoch {epoch}: last batch loss {loss:.4f}, test accuracy {100 * test(model, test_loader, device):.2f}%")
    nr.save(model.state_dict(), "digits_cnn.safetensors")
    print("saved digits_cnn.safetensors")


if __name__ == "__main__":
    main()
