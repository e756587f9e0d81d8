"""Lesson 4: counting parameters the Keras way, and why PyTorch's counts differ.

Keras, on 100-dim input::

    SimpleRNN(64)   kernel 100 x 64,  recurrent_kernel 64 x 64,  bias 64           -> 10,560
    LSTM(64)        kernel 100 x 256 (4 gates), recurrent 64 x 256, bias 256       -> 42,240
    GRU(64)         kernel 100 x 192 (3 gates), recurrent 64 x 192, bias 2 x 192   -> 31,872
    Bidirectional(SimpleRNN(64, return_sequences=True))  (1, 5, 100) -> (1, 5, 128)

nlp-rnn has the same layers (``nlp_rnn.models.encoder``: ``SimpleRNN``, ``LSTM``, ``GRU``,
``Bidirectional``) over ``RNNEncoder``, which stores PyTorch's ``weight_ih`` (the transpose of the
Keras kernel) and two bias vectors per gate.

    python scripts/lessons/04_parameter_counts.py
"""

from __future__ import annotations

from typing import Any

import torch
from _common import format_table, heading, run_lesson, shape

from nlp_rnn.models.encoder import GRU, LSTM, Bidirectional, SimpleRNN
from nlp_rnn.training.seeding import seed_everything

INPUT, UNITS = 100, 64
GATES = {"rnn": 1, "lstm": 4, "gru": 3}


def keras_count(cell: str, directions: int = 1) -> int:
    """Keras' formula: gates * (D*H + H*H + H), and a second bias per gate for GRU(reset_after=True)."""
    gates = GATES[cell]
    biases = 2 if cell == "gru" else 1
    return directions * gates * (INPUT * UNITS + UNITS * UNITS + biases * UNITS)


def main(seed: int = 0) -> dict[str, Any]:
    seed_everything(seed)
    layers = {
        "SimpleRNN(64)": SimpleRNN(UNITS, input_size=INPUT),
        "LSTM(64)": LSTM(UNITS, input_size=INPUT),
        "GRU(64)": GRU(UNITS, input_size=INPUT),
        "Bidirectional(SimpleRNN(64))": Bidirectional(SimpleRNN(UNITS, input_size=INPUT)),
        "Bidirectional(LSTM(64))": Bidirectional(LSTM(UNITS, input_size=INPUT)),
    }
    heading(f"kernels (per direction) and parameter counts (all directions) on {INPUT}-dim input")
    rows, counts = [], {}
    for name, layer in layers.items():
        weights = layer.encoder.cell_weights(0)
        ours = sum(p.numel() for p in layer.parameters())
        keras = keras_count(layer.cell, layer.encoder.num_directions)
        counts[name] = {
            "kernel": shape(weights.weight_ih.T),  # Keras' kernel is D x gates*H
            "recurrent_kernel": shape(weights.weight_hh.T),
            "nlp_rnn": ours,
            "keras": keras,
        }
        rows.append(
            [
                name,
                shape(weights.weight_ih.T),
                shape(weights.weight_hh.T),
                f"{ours:,}",
                f"{keras:,}",
                ours - keras,
            ]
        )
    print(format_table(rows, ["layer", "kernel (D x gates*H)", "recurrent", "nlp-rnn", "Keras", "extra"]))
    print(
        "\nThe kernels agree: LSTM stacks 4 gate blocks (i, f, g, o) into 4*64 = 256 columns, GRU 3.\n"
        "The counts differ by one bias vector per gate: PyTorch keeps b_ih and b_hh, and only their\n"
        "sum enters the equations (h' = tanh(W x + b_ih + U h + b_hh)), so the extra gates*64\n"
        "parameters add nothing the network can express. Keras' GRU (reset_after=True, the TF2\n"
        "default) keeps two biases as well, so GRU counts agree: 3 * (100*64 + 64*64 + 2*64); the\n"
        f"older reset_after=False GRU has one bias per gate, 3 * (100*64 + 64*64 + 64) = {3 * 10_560:,}."
    )

    heading("Bidirectional doubles the output width")
    x = torch.randn(1, 5, INPUT)  # batch 1, 5 steps, 100 features
    sequences = Bidirectional(SimpleRNN(UNITS, return_sequences=True))  # learns D on the first call
    with torch.no_grad():
        both = sequences(x)  # 1 x 5 x 128
        merged = Bidirectional(SimpleRNN(UNITS, return_sequences=True), merge_mode="sum")(x)  # 1 x 5 x 64
    print(f"Bidirectional(SimpleRNN(64, return_sequences=True)) on {shape(x)} -> {shape(both)}")
    print("  forward and backward outputs concatenated: 64 + 64 = 128 per step")
    print(f"with merge_mode='sum' -> {shape(merged)}: the two directions added instead")
    return {
        "counts": counts,
        "bidirectional_shape": shape(both),
        "bidirectional_sum_shape": shape(merged),
    }


if __name__ == "__main__":
    run_lesson(main, __doc__)
