#!/usr/bin/env python3
"""Writes the PyTorch-exported ONNX fixtures of hil/tests/data/pytorch/ (the importer's tests
read real exporter output: shape computations, LSTM layouts, GELU as Erf, tied LM heads).

Not run by the tests or CI (it needs torch): `pip install torch onnx`, then
`python3 scripts/pytorch-fixtures.py`. It prints each model's parameter count as torch counts
it, which the tests compare with the importer's.
"""
import math
import os
import sys

import torch
import torch.nn as nn

OUT = os.path.join(os.path.dirname(__file__), "..", "hil", "tests", "data", "pytorch")


class Recurrent(nn.Module):
    """Two stacked batch-first LSTMs (bidirectional, then one direction), a linear layer on the
    sequence, GELU and SiLU: a CRNN's head."""

    def __init__(self):
        super().__init__()
        self.rnn1 = nn.LSTM(16, 8, bidirectional=True, batch_first=True)
        self.rnn2 = nn.LSTM(16, 8, batch_first=True)
        self.fc = nn.Linear(8, 5)
        self.act = nn.GELU()
        self.silu = nn.SiLU()

    def forward(self, x):
        y, _ = self.rnn1(x)
        y, _ = self.rnn2(y)
        return self.silu(self.act(self.fc(y)))


class Block(nn.Module):
    """A post-LayerNorm transformer block written as models commonly are: shapes read from
    `x.shape`, heads split with view/transpose, scores scaled by 1/sqrt(d)."""

    def __init__(self, d=32, h=4):
        super().__init__()
        self.h = h
        self.q, self.k, self.v, self.o = (nn.Linear(d, d) for _ in range(4))
        self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.up, self.down = nn.Linear(d, 4 * d), nn.Linear(4 * d, d)
        self.act = nn.GELU()

    def forward(self, x):
        b, t, d = x.shape
        heads = lambda y: y.view(b, t, self.h, d // self.h).transpose(1, 2)
        q, k, v = heads(self.q(x)), heads(self.k(x)), heads(self.v(x))
        a = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(d // self.h), dim=-1)
        c = (a @ v).transpose(1, 2).reshape(b, t, d)
        x = self.ln1(x + self.o(c))
        return self.ln2(x + self.down(self.act(self.up(x))))


class TinyLm(nn.Module):
    """Token and position embeddings (position ids a buffer sliced to the length, as Hugging
    Face's models hold them), one block, and an LM head tied to the token embedding."""

    def __init__(self, vocab=100, d=32):
        super().__init__()
        self.tok, self.pos = nn.Embedding(vocab, d), nn.Embedding(64, d)
        self.register_buffer("position_ids", torch.arange(64).unsqueeze(0))
        self.block = Block(d)

    def forward(self, ids):
        t = ids.shape[1]
        x = self.tok(ids) + self.pos(self.position_ids[:, :t])
        return self.block(x) @ self.tok.weight.t()


class NewGelu(nn.Module):
    """Hugging Face's `NewGELUActivation` (GPT-2's `gelu_new`): the tanh approximation."""

    def forward(self, x):
        return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))


class TanhGelus(nn.Module):
    """GELU's tanh approximation as torch writes it, then as Hugging Face's GPT-2 does."""

    def __init__(self):
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(8, 16), nn.Linear(16, 8)
        self.act1, self.act2 = nn.GELU(approximate="tanh"), NewGelu()

    def forward(self, x):
        return self.act2(self.fc2(self.act1(self.fc1(x))))


def export(model, example, name, input_name):
    torch.manual_seed(0)
    path = os.path.join(OUT, f"{name}.onnx")
    kwargs = dict(
        input_names=[input_name],
        output_names=["y"],
        dynamic_axes={input_name: {0: "N"}, "y": {0: "N"}},
        opset_version=17,
    )
    try:
        torch.onnx.export(model.eval(), (example,), path, dynamo=False, **kwargs)
    except TypeError:  # torch before 2.5 has no `dynamo` argument
        torch.onnx.export(model.eval(), (example,), path, **kwargs)
    params = sum(p.numel() for p in model.parameters())
    print(f"{path}: {params} parameters (torch {torch.__version__})")


if __name__ == "__main__":
    torch.manual_seed(0)
    os.makedirs(OUT, exist_ok=True)
    export(Recurrent(), torch.randn(1, 10, 16), "recurrent", "x")
    export(TinyLm(), torch.randint(0, 100, (1, 12)), "tiny_lm", "ids")
    export(TanhGelus(), torch.randn(1, 4, 8), "tanh_gelu", "x")
    sys.exit(0)
