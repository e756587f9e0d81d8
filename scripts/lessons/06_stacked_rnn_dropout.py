"""Lesson 6: a stacked RNN with TimeDistributed(Dropout) on its sequence outputs.

Keras::

    model = Sequential([LSTM(32, return_sequences=True, input_shape=(7, 10)),
                        LSTM(16, return_sequences=True),
                        LSTM(8, return_sequences=True),
                        TimeDistributed(Dropout(0.5))])

nlp-rnn: one ``RNNEncoder(10, [32, 16, 8], cell="lstm", output_dropout=0.5)``; a list of hidden
sizes stacks the layers, ``output_dropout`` is the dropout on the outputs (``dropout`` would drop
between the layers).

    python scripts/lessons/06_stacked_rnn_dropout.py
"""

from __future__ import annotations

from typing import Any

import torch
from _common import heading, run_lesson, shape
from torch import Tensor, nn

from nlp_rnn.models.encoder import RNNEncoder
from nlp_rnn.training.seeding import seed_everything

BATCH, STEPS, FEATURES = 4, 7, 10
SIZES = [32, 16, 8]
P = 0.5


def layer_output_shapes(encoder: RNNEncoder, x: Tensor) -> list[tuple[int, ...]]:
    """The sequence output shape of each recurrent module of ``encoder`` on ``x`` (forward hooks)."""
    shapes: list[tuple[int, ...]] = []

    def record(module: nn.Module, inputs: tuple, output: tuple) -> None:
        shapes.append(shape(output[0]))  # (sequence, states), as nn.LSTM returns them

    hooks = [module.register_forward_hook(record) for module in encoder.rnns]
    with torch.no_grad():
        encoder(x)
    for hook in hooks:
        hook.remove()
    return shapes


def main(seed: int = 0) -> dict[str, Any]:
    seed_everything(seed)
    encoder = RNNEncoder(FEATURES, SIZES, cell="lstm", output_dropout=P)
    x = torch.randn(BATCH, STEPS, FEATURES)  # 4 x 7 x 10
    heading(f"RNNEncoder({FEATURES}, {SIZES}, cell='lstm', output_dropout={P}) on {shape(x)}")
    encoder.eval()
    per_layer = layer_output_shapes(encoder, x)
    with torch.no_grad():
        out = encoder(x)
    for index, (module, output_shape) in enumerate(zip(encoder.rnns, per_layer, strict=True)):
        h, c = out.states[index]  # states come per layer when the sizes differ
        print(
            f"layer {index + 1}: {module.input_size:2d} -> {module.hidden_size:2d} units, "
            f"outputs {output_shape}, h {shape(h)}, c {shape(c)}"
        )
    print(f"encoder output: sequence {shape(out.sequence)}, last {shape(out.last)}")

    heading("dropout is active in train mode, off in eval mode")
    with torch.no_grad():
        eval_a, eval_b = encoder(x).sequence, encoder(x).sequence
        encoder.train()
        train_a, train_b = encoder(x).sequence, encoder(x).sequence
    eval_same = torch.equal(eval_a, eval_b)
    train_same = torch.equal(train_a, train_b)
    dropped = float((train_a == 0).float().mean())
    kept = train_a != 0
    scaled = torch.allclose(train_a[kept], eval_a[kept] / (1 - P))
    print(f"eval:  two calls give identical outputs: {eval_same}")
    print(f"train: two calls give identical outputs: {train_same} (a new random mask each call)")
    print(f"train: share of outputs set to zero: {dropped:.3f} (p = {P})")
    print(f"train: the kept outputs are the eval outputs times 1/(1-p) = {1 / (1 - P):g}: {scaled}")
    print("so the expected output in training equals the output in eval mode (inverted dropout).")

    heading("padding stays zero in train mode")
    lengths = torch.tensor([7, 5, 3, 1])
    with torch.no_grad():
        padded = encoder(x, lengths).sequence  # 4 x 7 x 8
    padding = torch.arange(STEPS) >= lengths.unsqueeze(1)  # B x T
    padding_zero = bool((padded[padding] == 0).all())
    print(f"lengths {lengths.tolist()}: outputs at padding all zero with dropout on: {padding_zero}")
    return {
        "layer_output_shapes": per_layer,
        "sequence_shape": shape(out.sequence),
        "state_shapes": [(shape(h), shape(c)) for h, c in out.states],
        "eval_same": eval_same,
        "train_same": train_same,
        "dropped_share": dropped,
        "kept_scaled": scaled,
        "padding_zero": padding_zero,
    }


if __name__ == "__main__":
    run_lesson(main, __doc__)
