"""A bidirectional LSTM forward pass for inference that starts from precomputed input projections.

PyTorch's LSTM kernels multiply every time step's input by ``W_ih`` themselves. When the inputs
of the first layer are a function of the word form alone (embeddings and character features, as
in the tagger), that product can be computed once per distinct form of a batch instead of once
per word and gathered back to the positions: with batches of a few thousand words, the distinct
forms are a fraction of them. This module runs the recurrence from such projections, both
directions at once (one batched matrix product per step), and the upper layers from their
inputs. It computes exactly what :class:`~nlp_rnn.models.encoder.RNNEncoder` computes for a
bidirectional LSTM (tests compare the two); it has no backward pass of its own (inference only).

Shapes: B sentences, T steps (right-padded, ``lengths`` B), H units per direction.
"""

from __future__ import annotations

import torch
from torch import Tensor

from nlp_rnn.models.encoder import RNNEncoder


def reverse_within_lengths(lengths: Tensor, steps: int) -> Tensor:
    """B x T index that reverses each row's first ``lengths[b]`` steps and leaves padding in place."""
    time = torch.arange(steps, device=lengths.device)  # T
    real = time < lengths.unsqueeze(1)  # B x T
    return torch.where(real, lengths.unsqueeze(1) - 1 - time, time)


def _recurrence(projections: Tensor, w_hh: Tensor) -> Tensor:
    """LSTM steps over ``projections`` (T x 2 x B x 4H: input products plus both biases, the second
    direction already reversed) with recurrent weights ``w_hh`` (2 x 4H x H) -> T x 2 x B x H."""
    steps, directions, batch, gates = projections.shape
    hidden = gates // 4
    w_t = w_hh.transpose(1, 2)  # 2 x H x 4H
    h = projections.new_zeros(directions, batch, hidden)
    c = projections.new_zeros(directions, batch, hidden)
    outputs = projections.new_empty(steps, directions, batch, hidden)
    for t in range(steps):
        z = torch.baddbmm(projections[t], h, w_t)  # 2 x B x 4H, gates in PyTorch's order i, f, g, o
        input_forget = z[..., : 2 * hidden].sigmoid()
        cell_input = z[..., 2 * hidden : 3 * hidden].tanh()
        output_gate = z[..., 3 * hidden :].sigmoid()
        c = torch.addcmul(input_forget[..., hidden:] * c, input_forget[..., :hidden], cell_input)
        h = output_gate * c.tanh()
        outputs[t] = h
    return outputs


def _layer_from_projections(projections: Tensor, lengths: Tensor, w_hh: Tensor) -> Tensor:
    """One bidirectional layer: B x T x 2 x 4H projections -> B x T x 2H outputs (zero at padding)."""
    batch, steps = projections.shape[:2]
    reverse = reverse_within_lengths(lengths, steps)  # B x T
    backward = projections[:, :, 1].gather(1, reverse.unsqueeze(-1).expand(-1, -1, projections.size(-1)))
    stacked = torch.stack([projections[:, :, 0], backward]).permute(2, 0, 1, 3).contiguous()  # T x 2 x B x 4H
    out = _recurrence(stacked, w_hh)  # T x 2 x B x H
    forward_out = out[:, 0].transpose(0, 1)  # B x T x H
    backward_out = out[:, 1].transpose(0, 1).gather(1, reverse.unsqueeze(-1).expand(-1, -1, out.size(-1)))
    real = (torch.arange(steps, device=lengths.device) < lengths.unsqueeze(1)).unsqueeze(-1)  # B x T x 1
    return torch.cat([forward_out, backward_out], dim=-1) * real


def first_layer_weights(encoder: RNNEncoder) -> tuple[Tensor, Tensor]:
    """The first layer's input weights of both directions (8H x D) and their biases (8H, both biases summed)."""
    forward, backward = encoder.cell_weights(0), encoder.cell_weights(0, reverse=True)
    weight = torch.cat([forward.weight_ih, backward.weight_ih])  # 8H x D
    bias = torch.cat([forward.bias_ih + forward.bias_hh, backward.bias_ih + backward.bias_hh])  # 8H
    return weight, bias


def supports(encoder: RNNEncoder) -> bool:
    """Whether :func:`encode_from_projections` can run this encoder (a bidirectional LSTM)."""
    return encoder.cell == "lstm" and encoder.bidirectional


def encode_from_projections(encoder: RNNEncoder, first_projections: Tensor, lengths: Tensor) -> Tensor:
    """The encoder's ``sequence`` output (B x T x 2H, eval mode) from the first layer's projections.

    ``first_projections``: B x T x 8H, the first layer's ``W_ih x + b`` of both directions
    (forward first), e.g. gathered from :func:`first_layer_weights` applied per distinct form.
    """
    if not supports(encoder):
        raise ValueError("encode_from_projections runs bidirectional LSTMs only")
    batch, steps, _ = first_projections.shape
    lengths = lengths.to(first_projections.device)
    projections = first_projections
    for layer in range(encoder.num_layers):
        forward, backward = encoder.cell_weights(layer), encoder.cell_weights(layer, reverse=True)
        if layer:
            weight = torch.cat([forward.weight_ih, backward.weight_ih])  # 8H x 2H'
            bias = torch.cat([forward.bias_ih + forward.bias_hh, backward.bias_ih + backward.bias_hh])
            projections = torch.addmm(bias, sequence.flatten(0, 1), weight.t()).view(batch, steps, -1)
        w_hh = torch.stack([forward.weight_hh, backward.weight_hh])  # 2 x 4H x H
        sequence = _layer_from_projections(projections.view(batch, steps, 2, -1), lengths, w_hh)
    return sequence
