"""A character-level decoder-only transformer: learn a text, then write more of it.

    python examples/char_transformer.py                      # a built-in verse; about a minute on a CPU
    python examples/char_transformer.py --text book.txt --steps 2000 --sample 500

Decoder-only = self-attention layers with a causal mask: position i sees positions <= i and
learns to predict character i + 1. (``neurarust train --model transformer --data text:FILE`` trains
the same kind of model from the command line.)
"""
import argparse

import neurarust as nr
import neurarust.nn as nn
import neurarust.nn.functional as F
from neurarust.data import DataLoader
from neurarust.data.datasets import TextFile

VERSE = """\
Tyger Tyger, burning bright,
In the forests of the night;
What immortal hand or eye,
Could frame thy fearful symmetry?
"""


class CharTransformer(nn.Module):
    def __init__(self, vocab, context, d_model=64, nhead=4, layers=2):
        super().__init__()
        self.context = context
        self.tok = nn.Embedding(vocab, d_model)
        self.pos = nn.Embedding(context, d_model)
        layer = nn.TransformerEncoderLayer(d_model, nhead, 4 * d_model, dropout=0.1, batch_first=True,
                                           norm_first=True)
        self.blocks = nn.TransformerEncoder(layer, layers)
        self.norm = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, vocab)

    def forward(self, idx):                                  # idx: (batch, time) token ids
        t = idx.shape[1]
        x = self.tok(idx) + self.pos(nr.arange(t, device=idx.device))
        mask = nn.Transformer.generate_square_subsequent_mask(t, device=idx.device)
        return self.head(self.norm(self.blocks(x, mask=mask, is_causal=True)))

    @nr.no_grad()
    def generate(self, idx, n, temperature=0.8):
        for _ in range(n):
            logits = self(idx[:, -self.context:])[:, -1] / temperature
            nxt = nr.multinomial(F.softmax(logits, dim=-1), 1)
            idx = nr.cat([idx, nxt], dim=1)
        return idx


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--text", help="a UTF-8 text file (default: a short verse, repeated)")
    parser.add_argument("--context", type=int, default=32)
    parser.add_argument("--steps", type=int, default=150)
    parser.add_argument("--sample", type=int, default=100, help="characters to generate")
    args = parser.parse_args()

    path = args.text
    if path is None:
        import os
        import tempfile

        path = os.path.join(tempfile.mkdtemp(), "verse.txt")
        with open(path, "w") as f:
            f.write(VERSE * 20)
    nr.manual_seed(0)
    device = "cuda" if nr.cuda.is_available() else "cpu"
    data = TextFile(path, seq_len=args.context)
    loader = DataLoader(data, batch_size=32, shuffle=True, drop_last=len(data) > 32)
    model = CharTransformer(len(data.vocab), args.context).to(device)
    optimizer = nr.optim.AdamW(model.parameters(), lr=3e-3)

    step = 0
    while step < args.steps:
        for x, y in loader:
            x, y = x.to(device), y.to(device)
            logits = model(x)
            loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            step += 1
            if step % 50 == 0 or step == args.steps:
                print(f"step {step}: loss {loss.item():.3f}")
            if step == args.steps:
                break

    model.eval()
    prompt = nr.tensor([data.encode(VERSE[:6] if args.text is None else data.decode(data[0][0][:6]))],
                       device=device)
    print("sample:\n" + data.decode(model.generate(prompt, args.sample)[0].cpu()))


if __name__ == "__main__":
    main()
