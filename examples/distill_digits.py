"""Knowledge distillation on the bundled 8x8 digits: train a CNN teacher on all 1,437 training
images, then a 13x smaller MLP student from the teacher's softened predictions
(``nn.functional.distillation_loss``), and the same student from the labels alone for comparison.

    python examples/distill_digits.py                 # ~10 s on a CPU
    python examples/distill_digits.py --labels 1437   # every student image labelled
    python examples/distill_digits.py --teacher-epochs 1 --student-epochs 1

The students have labels for the first ``--labels`` training images (100 by default). The
label-only student trains on those; the distilled student sees every training image, with labels
and the teacher where there are labels and the teacher alone (``alpha=1``) elsewhere: the
teacher's predictions stand in for the missing labels.
"""
import argparse

import neurarust as nr
import neurarust.nn as nn
import neurarust.nn.functional as F
from neurarust.data import DataLoader, TensorDataset
from neurarust.data.datasets import Digits


class Teacher(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 3, padding=1)
        self.conv2 = nn.Conv2d(16, 32, 3, padding=1)
        self.fc = nn.Linear(32 * 4 * 4, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv2(F.relu(self.conv1(x.unsqueeze(1))))), 2)
        return self.fc(x.flatten(1))


def student():
    return nn.Sequential(nn.Flatten(), nn.Linear(64, 10), nn.ReLU(), nn.Linear(10, 10))


def size(model):
    return sum(p.numel() for p in model.parameters())


def fit(model, dataset, epochs, loss_fn, lr=1e-2):
    """Train on batches of ``dataset``; ``loss_fn(output, *rest of the batch)``."""
    loader = DataLoader(dataset, batch_size=64, shuffle=True)
    optimizer = nr.optim.AdamW(model.parameters(), lr=lr)
    scheduler = nr.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=epochs * len(loader))
    model.train()
    for _ in range(epochs):
        for images, *rest in loader:
            optimizer.zero_grad()
            loss_fn(model(images), *rest).backward()
            optimizer.step()
            scheduler.step()
    return model.eval()


@nr.no_grad()
def accuracy(model, images, labels):
    return 100 * (model(images).argmax(dim=1) == labels).float().mean().item()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--teacher-epochs", type=int, default=6)
    parser.add_argument("--student-epochs", type=int, default=20)
    parser.add_argument("--labels", type=int, default=100, help="training images the students have labels for")
    parser.add_argument("--T", type=float, default=2.0, help="temperature of the soft targets")
    parser.add_argument("--alpha", type=float, default=0.5, help="weight of the soft targets where there are labels")
    args = parser.parse_args()

    normalize = lambda x: (x - 0.3) / 0.4   # noqa: E731  (pixels are in [0, 1])
    train, test = Digits(train=True), Digits(train=False)
    images, labels = normalize(nr.tensor(train.data)), nr.tensor(train.targets)
    test_images, test_labels = normalize(nr.tensor(test.data)), nr.tensor(test.targets)
    n = min(args.labels, len(labels))
    if n < 1:
        parser.error("--labels must be at least 1 (the label-only student needs some)")

    nr.manual_seed(0)
    cross_entropy = lambda out, y: F.cross_entropy(out, y)   # noqa: E731
    teacher = fit(Teacher(), TensorDataset(images, labels), args.teacher_epochs, cross_entropy)
    print(f"teacher ({size(teacher)} parameters): test accuracy {accuracy(teacher, test_images, test_labels):.2f}%")

    with nr.no_grad():
        soft_targets = teacher(images)   # once: the teacher is fixed
    labelled = nr.arange(len(labels)) < n

    def distill(out, y, teacher_logits, has_label):
        with_labels = F.distillation_loss(out, teacher_logits, y, T=args.T, alpha=args.alpha, reduction="none")
        teacher_only = F.distillation_loss(out, teacher_logits, None, T=args.T, alpha=1.0, reduction="none")
        return nr.where(has_label, with_labels, teacher_only).mean()

    runs = ((f"{n} labels", TensorDataset(images[:n], labels[:n]), cross_entropy),
            (f"{n} labels + teacher", TensorDataset(images, labels, soft_targets, labelled), distill))
    for name, dataset, loss_fn in runs:
        nr.manual_seed(1)
        model = fit(student(), dataset, args.student_epochs * len(labels) // len(dataset), loss_fn)
        print(f"student ({size(model)} parameters), {name}: test accuracy "
              f"{accuracy(model, test_images, test_labels):.2f}%")


if __name__ == "__main__":
    main()
