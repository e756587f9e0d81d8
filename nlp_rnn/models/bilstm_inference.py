"""A bidirectional LSTM forward pass for inference that starts from precomputed input projections.

PyTorch's LSTM kernels multiply every time step's input by ``W_ih`` themselves. When the inputs
of the first layer are a function of the word form alone (embeddings and character features, as
in the tagger), that product can be computed once per distinct form of a batch instead of once
per word and gathered back to the positions: with batches of a few thousand words, the distinct
forms are a fraction of them. This module runs the recurrence from such projections, both
directions at once (one batched matrix product per step), and the upper layers from their
inputs. It computes what :class:`~nlp_rnn.models.encoder.RNNEncoder` computes for a
bidirectional LSTM, up to float rounding (tests compare the two); it has no backward pass of its
own (inference only). Per step it runs one matrix product, one sigmoid over all four gates (tanh
as ``2 sigmoid(2x) - 1``, several times cheaper on the CPU) and a few element-wise products, and
gathers the first layer's inputs with ``index_select``.

Shapes: B sentences, T steps (right-padded, ``lengths`` B), H units per direction.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable

import torch
from torch import Tensor, nn

from nlp_rnn.models.encoder import RNNEncoder


def reverse_within_lengths(lengths: Tensor, steps: int) -> Tensor:
    """B x T index that reverses each row's first ``lengths[b]`` steps and leaves padding in place."""
    time = torch.arange(steps, device=lengths.device)  # T
    real = time < lengths.unsqueeze(1)  # B x T
    return torch.where(real, lengths.unsqueeze(1) - 1 - time, time)


def _recurrence(step_inputs: Callable[[int], Tensor], steps: int, batch: int, w_hh: Tensor) -> Tensor:
    """LSTM steps of both directions at once -> T x 2 x B x H outputs.

    ``step_inputs(t)``: the 2 x B x 4H input products plus both biases at step t (the second
    direction already reversed); ``w_hh``: the recurrent weights, 2 x 4H x H. Both come with the
    cell-input gate's rows doubled (:func:`_doubled_cell_gate`), so that one contiguous sigmoid
    gives all four gates: ``tanh(x) = 2 sigmoid(2x) - 1``, and PyTorch's CPU ``tanh`` costs several
    times its ``sigmoid``.
    """
    directions, gates, hidden = w_hh.shape
    w_t = w_hh.transpose(1, 2)  # 2 x H x 4H
    low = w_hh.dtype != torch.float32  # bf16 products; the state and the gates stay fp32
    h = torch.zeros(directions, batch, hidden, device=w_hh.device)
    c2 = torch.zeros(directions, batch, hidden, device=w_hh.device)  # twice the cell state
    outputs = torch.empty(steps, directions, batch, hidden, device=w_hh.device)
    for t in range(steps):
        if low:
            z = torch.bmm(h.to(w_t.dtype), w_t).float().add_(step_inputs(t)).sigmoid_()
        else:
            z = torch.baddbmm(step_inputs(t), h, w_t).sigmoid_()  # 2 x B x 4H: i, f, (g + 1) / 2, o
        cell_input = z[..., 2 * hidden : 3 * hidden].mul_(4).sub_(2)  # 2 tanh(g)
        c2 = torch.addcmul(z[..., hidden : 2 * hidden] * c2, z[..., :hidden], cell_input)
        squashed = torch.sigmoid(c2).mul_(2).sub_(1)  # tanh(c)
        h = z[..., 3 * hidden :] * squashed
        outputs[t] = h
    return outputs


def _outputs(out: Tensor, reverse: Tensor, lengths: Tensor) -> Tensor:
    """T x 2 x B x H recurrence outputs (second direction reversed) -> B x T x 2H, zero at padding."""
    steps = out.size(0)
    forward_out = out[:, 0].transpose(0, 1)  # B x T x H
    backward_out = out[:, 1].transpose(0, 1).gather(1, reverse.unsqueeze(-1).expand(-1, -1, out.size(-1)))
    real = (torch.arange(steps, device=lengths.device) < lengths.unsqueeze(1)).unsqueeze(-1)  # B x T x 1
    return torch.cat([forward_out, backward_out], dim=-1) * real


def _upper_layer(
    below: Tensor, reverse_t: Tensor, weight: Tensor, bias: Tensor, w_hh: Tensor, product_dtype: torch.dtype
) -> Tensor:
    """One upper bidirectional layer, step-major throughout: the layer below's T x 2 x B x H'
    recurrence outputs (its second direction in reversed order) -> this layer's T x 2 x B x H.

    Each direction reads, at its step t, both directions' outputs for the word it is at: the
    forward direction the backward outputs re-reversed, the backward direction the forward
    outputs reversed (``reverse_t``: T x B, each row's time reversal within its length; padding
    steps read padding, which no real step depends on). One batched product over both
    directions gives the 2 x T x B x 4H input products the recurrence reads step by step.
    """
    steps, _, batch, below_hidden = below.shape
    index = reverse_t.view(steps, 1, batch, 1).expand(-1, 2, -1, below_hidden)  # T x 2 x B x H'
    reversed_below = below.gather(0, index)  # both directions, each in the other's order
    inputs = torch.stack(
        [
            torch.cat([below[:, 0], reversed_below[:, 1]], dim=-1),  # forward direction's, T x B x 2H'
            torch.cat([reversed_below[:, 0], below[:, 1]], dim=-1),  # backward direction's
        ]
    ).view(2, steps * batch, 2 * below_hidden)
    weights = weight.view(2, -1, 2 * below_hidden).transpose(1, 2)  # 2 x 2H' x 4H
    if product_dtype == torch.float32:
        projections = torch.baddbmm(bias.view(2, 1, -1), inputs, weights)  # 2 x TB x 4H
    else:
        projections = torch.bmm(inputs.to(product_dtype), weights.to(product_dtype)).float()
        projections = projections.add_(bias.view(2, 1, -1))
    projections = projections.view(2, steps, batch, -1)
    return _recurrence(lambda t: projections[:, t], steps, batch, w_hh)


def _first_layer_from_forms(per_form: Tensor, form_index: Tensor, reverse: Tensor, w_hh: Tensor) -> Tensor:
    """The first layer's T x 2 x B x H outputs from per-form projections (U x 8H) and the B x T form
    ids of the positions: the backward direction reverses the ids, not the projections."""
    forms, batch = per_form.size(0), form_index.size(0)
    table = per_form.view(forms * 2, -1)  # 2U x 4H: form u's forward row 2u, backward row 2u + 1
    ids = torch.stack([form_index, form_index.gather(1, reverse)]).permute(2, 0, 1)  # T x 2 x B
    rows = (ids * 2 + torch.arange(2, device=per_form.device).view(2, 1)).flatten(1)  # T x 2B

    def step_inputs(t: int) -> Tensor:  # gathered step by step: each slab is used while in cache
        return table.index_select(0, rows[t]).view(2, batch, -1)  # 2 x B x 4H

    return _recurrence(step_inputs, ids.size(0), batch, w_hh)


def first_layer_weights(encoder: RNNEncoder) -> tuple[Tensor, Tensor]:
    """The first layer's input weights of both directions (8H x D) and their summed biases (8H), in
    the form :func:`encode_forms` expects (the cell-input gate's rows doubled)."""
    weight, bias, _ = _direction_weights(encoder, 0)
    return weight, bias


def supports(encoder: RNNEncoder) -> bool:
    """Whether :func:`encode_forms` can run this encoder (a bidirectional LSTM)."""
    return encoder.cell == "lstm" and encoder.bidirectional


def weights_version(module: nn.Module) -> tuple:
    """What identifies the current values of ``module``'s weights, for caches of values derived
    from them: each parameter's identity, storage and in-place version counter (an optimizer step,
    loading weights or moving the module changes it; writes through ``.data`` do not)."""
    return tuple((id(p), p.data_ptr(), p._version) for p in module.parameters())


_PREPARED: weakref.WeakKeyDictionary[RNNEncoder, tuple[tuple, list]] = weakref.WeakKeyDictionary()


def _direction_weights(encoder: RNNEncoder, layer: int) -> tuple[Tensor, Tensor, Tensor]:
    """Input weights (8H x D), summed biases (8H) and recurrent weights (2 x 4H x H) of both
    directions, each with the cell-input gate's rows doubled (what :func:`_recurrence` expects).

    Without autograd they are prepared once per set of weights and kept beside the encoder (a
    tagging call would otherwise rebuild them for every batch and chunk of forms), under
    :func:`weights_version`, so an optimizer step, loading other weights or moving the model makes
    a fresh set. (The Trainer moves the counters after
    fused optimizer steps, which write without moving them; code that writes weights through
    ``.data`` must call ``torch.autograd.graph.increment_version`` itself.)"""
    if torch.is_grad_enabled():
        return _prepared_weights(encoder, layer)
    key = weights_version(encoder)
    cached = _PREPARED.get(encoder)
    if cached is None or cached[0] != key:
        cached = (key, [_prepared_weights(encoder, i) for i in range(encoder.num_layers)])
        _PREPARED[encoder] = cached
    return cached[1][layer]


def _prepared_weights(encoder: RNNEncoder, layer: int) -> tuple[Tensor, Tensor, Tensor]:
    forward, backward = encoder.cell_weights(layer), encoder.cell_weights(layer, reverse=True)
    weight = torch.cat([_doubled_cell_gate(forward.weight_ih), _doubled_cell_gate(backward.weight_ih)])
    bias = torch.cat(
        [
            _doubled_cell_gate(forward.bias_ih + forward.bias_hh),
            _doubled_cell_gate(backward.bias_ih + backward.bias_hh),
        ]
    )
    return (
        weight,
        bias,
        torch.stack([_doubled_cell_gate(forward.weight_hh), _doubled_cell_gate(backward.weight_hh)]),
    )


def _doubled_cell_gate(gate_rows: Tensor) -> Tensor:
    """A copy of one direction's 4H gate rows (PyTorch's order i, f, g, o) with the g rows times 2."""
    scale = gate_rows.new_ones(4, 1)
    scale[2] = 2
    return (gate_rows.view(4, -1) * scale).view_as(gate_rows)


def encode_forms(
    encoder: RNNEncoder,
    per_form: Tensor,
    form_index: Tensor,
    lengths: Tensor,
    product_dtype: torch.dtype = torch.float32,
) -> Tensor:
    """The encoder's ``sequence`` output (B x T x 2H, eval mode) from the first layer's projections
    of distinct forms.

    ``per_form``: U x 8H, the first layer's ``W_ih x + b`` of both directions (forward first) for
    U distinct inputs, e.g. from :func:`first_layer_weights`; ``form_index``: B x T, which of them
    stands at each position (any valid id at padding); ``lengths``: B. ``product_dtype``
    ``torch.bfloat16`` runs the recurrent and upper layers' matrix products in bf16 (inputs, state,
    gates and outputs stay fp32; :mod:`nlp_rnn.models.low_precision`).
    """
    if not supports(encoder):
        raise ValueError("encode_forms runs bidirectional LSTMs only")
    _, steps = form_index.shape
    lengths = lengths.to(per_form.device)
    reverse = reverse_within_lengths(lengths, steps)  # B x T
    _, _, w_hh = _direction_weights(encoder, 0)
    out = _first_layer_from_forms(per_form, form_index, reverse, w_hh.to(product_dtype))  # T x 2 x B x H
    reverse_t = reverse.t()  # T x B
    for layer in range(1, encoder.num_layers):
        weight, bias, w_hh = _direction_weights(encoder, layer)  # 8H x 2H', 8H, 2 x 4H x H
        out = _upper_layer(out, reverse_t, weight, bias, w_hh.to(product_dtype), product_dtype)
    return _outputs(out, reverse, lengths)
