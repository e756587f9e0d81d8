"""The recurrent cells written out from their equations, one sequence and one step at a time.

Slow and plain on purpose: no batching, no padding, no fused kernels. Tests use it as the oracle
for :class:`~nlp_rnn.models.encoder.RNNEncoder`; readers can use it to see what the kernels
compute. Weights follow PyTorch's layout: ``weight_ih`` is ``gates*H x D``, ``weight_hh`` is
``gates*H x H``, and the gates are stacked in PyTorch's order. Below, ``x`` is the input at the
current step, ``h`` and ``c`` the previous states, ``W_i*`` rows of ``weight_ih``, ``W_h*`` rows of
``weight_hh``; each gate has two biases (``b_i*`` and ``b_h*``), PyTorch's convention.

Elman (Keras' SimpleRNN)::

    h' = tanh(W_ih x + b_ih + W_hh h + b_hh)          (or relu)

LSTM, gates i, f, g, o::

    i = sigmoid(W_ii x + b_ii + W_hi h + b_hi)        input gate
    f = sigmoid(W_if x + b_if + W_hf h + b_hf)        forget gate
    g = tanh(W_ig x + b_ig + W_hg h + b_hg)           candidate cell
    o = sigmoid(W_io x + b_io + W_ho h + b_ho)        output gate
    c' = f * c + i * g
    h' = o * tanh(c')

GRU, gates r, z, n (Keras' ``reset_after=True``: the reset gate scales ``W_hn h + b_hn``)::

    r = sigmoid(W_ir x + b_ir + W_hr h + b_hr)        reset gate
    z = sigmoid(W_iz x + b_iz + W_hz h + b_hz)        update gate
    n = tanh(W_in x + b_in + r * (W_hn h + b_hn))     candidate
    h' = (1 - z) * n + z * h
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

Weights = Sequence[Tensor]
"""``(weight_ih, weight_hh, bias_ih, bias_hh)`` of one layer in one direction."""


def elman_step(x: Tensor, h: Tensor, weights: Weights, nonlinearity: str = "tanh") -> Tensor:
    """One Elman step: input ``x`` (D) and state ``h`` (H) to the new state (H)."""
    w_ih, w_hh, b_ih, b_hh = weights
    pre = w_ih @ x + b_ih + w_hh @ h + b_hh
    return torch.tanh(pre) if nonlinearity == "tanh" else torch.relu(pre)


def lstm_step(x: Tensor, h: Tensor, c: Tensor, weights: Weights) -> tuple[Tensor, Tensor]:
    """One LSTM step: ``x`` (D), ``h`` and ``c`` (H) to the new ``(h, c)``."""
    w_ih, w_hh, b_ih, b_hh = weights
    i, f, g, o = (w_ih @ x + b_ih + w_hh @ h + b_hh).chunk(4)
    c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
    h = torch.sigmoid(o) * torch.tanh(c)
    return h, c


def gru_step(x: Tensor, h: Tensor, weights: Weights) -> Tensor:
    """One GRU step: ``x`` (D) and ``h`` (H) to the new ``h``."""
    w_ih, w_hh, b_ih, b_hh = weights
    x_r, x_z, x_n = (w_ih @ x + b_ih).chunk(3)
    h_r, h_z, h_n = (w_hh @ h + b_hh).chunk(3)
    r = torch.sigmoid(x_r + h_r)
    z = torch.sigmoid(x_z + h_z)
    n = torch.tanh(x_n + r * h_n)  # the reset gate scales the recurrent term, bias included
    return (1 - z) * n + z * h


def run_direction(
    cell: str,
    xs: Tensor,
    weights: Weights,
    h: Tensor,
    c: Tensor | None = None,
    reverse: bool = False,
    nonlinearity: str = "tanh",
) -> tuple[Tensor, Tensor, Tensor | None]:
    """One layer in one direction over one unpadded sequence ``xs`` (T x D).

    Returns the outputs (T x H, in the input's order) and the final ``h`` and ``c`` (None unless
    LSTM): after the last token, or after the first one when ``reverse``.
    """
    outputs = [None] * len(xs)
    steps = reversed(range(len(xs))) if reverse else range(len(xs))
    for t in steps:
        if cell == "lstm":
            h, c = lstm_step(xs[t], h, c, weights)
        elif cell == "gru":
            h = gru_step(xs[t], h, weights)
        else:
            h = elman_step(xs[t], h, weights, nonlinearity)
        outputs[t] = h
    return torch.stack(outputs), h, c


def run_stack(
    cell: str,
    xs: Tensor,
    weights: Sequence[Sequence[Weights]],
    h0: Sequence[Sequence[Tensor]],
    c0: Sequence[Sequence[Tensor]] | None = None,
    nonlinearity: str = "tanh",
) -> tuple[Tensor, list[list[Tensor]], list[list[Tensor]] | None]:
    """A stack of (bi)directional layers over one unpadded sequence ``xs`` (T x D), no dropout.

    ``weights[layer][direction]`` and the initial states ``h0[layer][direction]`` (H) are indexed
    the same way; direction 1, if present, runs backward. Each layer reads the previous layer's
    outputs, both directions concatenated. Returns the last layer's outputs (T x H*dirs) and the
    final states, indexed like ``h0``.
    """
    h_final, c_final = [], []
    for layer, layer_weights in enumerate(weights):
        outputs, hs, cs = [], [], []
        for direction, w in enumerate(layer_weights):
            c = c0[layer][direction] if c0 is not None else None
            out, h, c = run_direction(cell, xs, w, h0[layer][direction], c, direction == 1, nonlinearity)
            outputs.append(out)
            hs.append(h)
            cs.append(c)
        xs = torch.cat(outputs, dim=-1)  # T x H*dirs
        h_final.append(hs)
        c_final.append(cs)
    return xs, h_final, (c_final if c0 is not None else None)
