"""Lesson 1: the "hello" RNN. One-hot characters through a 2-unit Elman RNN, and its equation.

Keras::

    x = one-hot of ["hello", "eolll", "lleel"] over h, e, l, o       # (3, 5, 4)
    outputs, state = SimpleRNN(2, return_sequences=True, return_state=True)(x)
    last = SimpleRNN(2)(x)                                           # return_sequences=False

nlp-rnn has the same layer (``nlp_rnn.models.encoder.SimpleRNN``) over its ``RNNEncoder``.

    python scripts/lessons/01_hello_rnn.py
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from _common import heading, rounded, run_lesson, shape

from nlp_rnn.models import reference_cells
from nlp_rnn.models.encoder import RNNEncoder, SimpleRNN
from nlp_rnn.training.seeding import seed_everything

ALPHABET = "helo"
WORDS = ["hello", "eolll", "lleel"]


def one_hot_words(words: list[str]) -> torch.Tensor:
    """B x T x 4 one-hot vectors of the characters h, e, l, o."""
    ids = torch.tensor([[ALPHABET.index(char) for char in word] for word in words])  # B x T
    return F.one_hot(ids, len(ALPHABET)).float()


def elman_by_hand(x: torch.Tensor, w: torch.Tensor, u: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """h_t = tanh(W x_t + U h_{t-1} + b) over one sequence x (T x D), from h_0 = 0: T x H."""
    h = torch.zeros(u.size(0))  # H
    outputs = []
    for x_t in x:
        h = torch.tanh(w @ x_t + u @ h + b)
        outputs.append(h)
    return torch.stack(outputs)


def main(seed: int = 0) -> dict[str, Any]:
    seed_everything(seed)
    x = one_hot_words(WORDS)  # 3 x 5 x 4
    heading("the one-hot characters")
    for char, vector in zip(ALPHABET, torch.eye(len(ALPHABET)).int().tolist(), strict=True):
        print(f"{char} = {vector}")
    print(f"the batch {WORDS}: x has shape {shape(x)} (batch, steps, features)")

    heading("SimpleRNN(2, return_sequences=True, return_state=True)")
    rnn = SimpleRNN(2, return_sequences=True, return_state=True, input_size=len(ALPHABET))
    with torch.no_grad():
        outputs, state = rnn(x)  # 3 x 5 x 2, 3 x 2
    print(f"outputs {shape(outputs)}: one 2-dim hidden state per character")
    print(f"state   {shape(state)}: the hidden state after the last character")
    print("outputs of 'hello', one row per character:")
    for char, row in zip(WORDS[0], rounded(outputs[0]), strict=True):
        print(f"  {char}: {row}")
    last_equals_state = torch.equal(outputs[:, -1], state)
    print(f"outputs[:, -1] == state: {last_equals_state} (the last output *is* the final state)")

    heading("SimpleRNN(2) with return_sequences off")
    last_only = SimpleRNN(2, input_size=len(ALPHABET))
    last_only.load_state_dict(rnn.state_dict())  # the same weights
    with torch.no_grad():
        last = last_only(x)  # 3 x 2
    print(f"output {shape(last)}: only the last step, equal to the state above: {torch.equal(last, state)}")

    heading("the same encoder in PyTorch's vocabulary")
    encoder: RNNEncoder = rnn.encoder
    with torch.no_grad():
        encoded = encoder(x)
    print(f"RNNEncoder(4, 2, cell='rnn'): sequence {shape(encoded.sequence)}, last {shape(encoded.last)},")
    print(f"  states {shape(encoded.states)} (layers*directions, batch, hidden), as nn.RNN returns them")

    heading("the cell equation h_t = tanh(W x_t + U h_{t-1} + b)")
    weights = encoder.cell_weights(0)
    w, u = weights.weight_ih.detach(), weights.weight_hh.detach()  # 2 x 4, 2 x 2
    b = (weights.bias_ih + weights.bias_hh).detach()  # 2: PyTorch keeps two biases, only the sum counts
    print(f"W (hidden x input) = {rounded(w)}")
    print(f"U (hidden x hidden) = {rounded(u)}")
    print(f"b = b_ih + b_hh = {rounded(b)}")
    first_step = torch.tanh(w[:, ALPHABET.index("h")] + b)  # 2: h_0 = 0, and a one-hot x picks a column
    print(f"first step of 'hello': h_1 = tanh(W[:, 0] + b) = {rounded(first_step)} (the row 'h' above)")
    by_hand = torch.stack([elman_by_hand(word, w, u, b) for word in x])  # 3 x 5 x 2
    reference = torch.stack(
        [reference_cells.run_direction("rnn", word, list(weights), torch.zeros(2))[0] for word in x]
    ).detach()  # 3 x 5 x 2
    by_hand_error = float((by_hand - outputs).abs().max())
    reference_error = float((reference - outputs).abs().max())
    print(f"largest difference, the loop above vs the fused kernel: {by_hand_error:.1e}")
    print(f"largest difference, nlp_rnn.models.reference_cells vs the kernel: {reference_error:.1e}")
    print("(float32 rounding only: the kernel computes exactly this recurrence)")
    return {
        "input_shape": shape(x),
        "outputs_shape": shape(outputs),
        "state_shape": shape(state),
        "last_only_shape": shape(last),
        "states_shape": shape(encoded.states),
        "last_equals_state": last_equals_state,
        "return_sequences_off_equals_state": torch.equal(last, state),
        "hello_outputs": rounded(outputs[0]),
        "first_step": rounded(first_step),
        "by_hand_error": by_hand_error,
        "reference_error": reference_error,
    }


if __name__ == "__main__":
    run_lesson(main, __doc__)
