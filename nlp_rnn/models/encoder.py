"""One recurrent encoder for every model: Elman RNN, LSTM or GRU, stacked, bidirectional, over
right-padded batches of variable length, with initial states in and final states out.

It speaks two dialects:

* PyTorch: ``RNNEncoder(input_size, hidden_size, cell="lstm", ...)`` and
  ``forward(inputs, lengths=None, initial_state=None) -> EncoderOutput``.
* Keras: ``SimpleRNN``, ``LSTM`` and ``GRU`` with ``return_sequences`` / ``return_state``, and
  ``Bidirectional(layer, merge_mode="concat")``, thin modules over the same encoder. Keras'
  ``mask_zero`` (padding id 0) becomes ``mask=ids != 0`` or ``lengths=lengths_from_ids(ids)``.

Padding is skipped in one of two ways that give the same numbers (``length_mode``):

* ``"packed"``: ``pack_padded_sequence``; the kernels never see padding and PyTorch returns each
  sequence's states at its true end, in both directions.
* ``"masked"``: the whole padded batch goes through the fused kernel one layer and direction at a
  time; outputs at padding are zeroed and final states gathered at ``length - 1``. The backward
  direction reads each sequence reversed *within its length*, so that padding never comes before
  real tokens. The kernel hides the LSTM's cell state, so it is recomputed (see
  :func:`_cell_state_at_lengths`), which makes this mode dearer for LSTMs.
* ``"auto"`` picks per device, cell and batch from the measurements of
  ``scripts/bench_packing.py`` (:data:`AUTO_MASKED_MIN_FILL`): masked for little-padded batches
  where the device's fused kernel pays off (on the CPU: every cell, from half-full batches for
  LSTMs and GRUs), packed otherwise.

Weights and parameter counts next to Keras: PyTorch stores ``weight_ih`` as ``gates*H x D``
(Keras' ``kernel`` is its transpose, ``D x gates*H``) and keeps two bias vectors, ``bias_ih`` and
``bias_hh``, where Keras' SimpleRNN and LSTM keep one. Only their sum matters, so a PyTorch layer
has ``gates*H`` more parameters that add no expressive power. On 100-dim input:
``SimpleRNN(64)`` has 100*64 + 64*64 + 64 = 10,560 in Keras and 10,624 here; ``LSTM(64)`` has
4 * 10,560 = 42,240 in Keras and 4 * 10,624 = 42,496 here. Keras' GRU with ``reset_after=True``
(the TF2 default) also keeps two biases and computes ``r * (W_hn h + b_hn)`` like PyTorch, so GRU
counts agree (31,872). Gate order: LSTM i, f, g, o in both; GRU z, r, h in Keras, r, z, n here.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

CELLS = ("rnn", "lstm", "gru")
NONLINEARITIES = ("tanh", "relu")
LENGTH_MODES = ("auto", "packed", "masked")
MERGE_MODES = ("concat", "sum", "mul", "ave")

# length_mode="auto": per (device type, cell), the least fill (real tokens / B x T slots) at which
# a padded batch runs masked; below it, and for pairs not listed, packed. Measured with
# scripts/bench_packing.py: 2 CPU threads, torch 2.13, batch 64, SST-2/EWT sentence lengths 5..60,
# emb 300, hidden 256, bidirectional, forward + backward, median ms packed / masked (ratio). The
# 2-core machine was shared and loaded (run with OMP_WAIT_POLICY=PASSIVE), so absolute times are
# inflated; the modes ran side by side on the same batches and the ratios held across reruns.
#   shuffled batches, fill 0.34    1 layer                 2 layers
#     LSTM                         680 / 929 (1.44)        1498 / 2283 (1.77)
#     GRU                          679 / 915 (1.33)        1400 / 1896 (1.46)
#     RNN                          171 / 201 (1.17)         438 /  684 (1.46)
#   length-bucketed, fill 0.96
#     LSTM                         222 / 233 (0.96)         777 /  619 (0.85)
#     GRU                          244 / 209 (0.86)         532 /  512 (0.91)
#     RNN                           86 /  68 (0.95)         164 /  170 (0.96)
#   GRU / RNN, 1 layer, bucketed by fill: 0.59 -> 1.03 / 0.88, 0.83 -> 0.86 / 0.82.
#   LSTM with gradients through the final states (a seq2seq encoder), fill 0.95: 1.11, because
#   masked mode recomputes the cell state.
# Longer texts change the picture. scripts/bench_packing_long.py (torch 2.13, 2 idle CPU threads,
# OMP_WAIT_POLICY=PASSIVE, emb 100, hidden 100, bidirectional, forward + backward, median of 5;
# packed time / masked time, above 1: masked is faster): PyTorch's CPU kernels step through a
# packed batch far slower than through a padded one, and the gap grows with the length.
#                    B x T     fill ~0.97   fill ~0.77   fill ~0.55
#     LSTM          40 x 400      8.50         6.04         4.18
#     LSTM          80 x 200      4.36
#     LSTM          64 x 60       2.09         1.96         1.67
#     LSTM          64 x 20       1.30                      1.11
#     LSTM          64 x 10       1.07
#     GRU           40 x 400      5.07         4.08         2.99
#     GRU           64 x 60       1.31         1.30         1.08
#     GRU           64 x 20       0.90                      0.81
# So on the CPU, LSTMs and GRUs run masked from half-full batches on (the Trainer's length
# buckets are ~95% full): a GRU loses 10-20% on ~20-token batches and gains 3-5x on long texts.
# The Elman RNN keeps the older threshold.
# CUDA: not measured yet (no GPU was available): packed, which cuDNN runs natively. Rerun the
# script on a GPU and add its entries here.
AUTO_MASKED_MIN_FILL: dict[tuple[str, str], float] = {
    ("cpu", "lstm"): 0.5,
    ("cpu", "gru"): 0.5,
    ("cpu", "rnn"): 0.8,
}

State = Tensor | tuple[Tensor, Tensor]
"""``h``, or ``(h, c)`` for an LSTM; each ``layers*dirs x B x H`` as in PyTorch's RNN modules."""


class EncoderOutput(NamedTuple):
    """What :class:`RNNEncoder` returns.

    ``states`` has PyTorch's layout when all layers have one size; with several sizes it is a list
    with one entry per layer, each ``dirs x B x H_layer`` (or such an ``(h, c)`` pair).
    """

    sequence: Tensor  # B x T x H*dirs, zeros at padding
    last: Tensor  # B x H*dirs: final layer's forward state at the last token, backward at the first
    states: State | list[State] | None  # None when forward was called with final_states=False


class CellWeights(NamedTuple):
    """One layer's weights in one direction, in PyTorch's layout and gate order."""

    weight_ih: Tensor  # gates*H x D
    weight_hh: Tensor  # gates*H x H
    bias_ih: Tensor  # gates*H
    bias_hh: Tensor  # gates*H


def real_steps_mask(lengths: Tensor, steps: int) -> Tensor:
    """``B x T`` boolean mask, true at real tokens (``t < lengths[b]``)."""
    return torch.arange(steps, device=lengths.device).unsqueeze(0) < lengths.unsqueeze(1)  # B x T


def lengths_from_mask(mask: Tensor) -> Tensor:
    """Lengths (B) from a ``B x T`` mask that is true at real tokens; padding must come last."""
    if mask.dim() != 2:
        raise ValueError(f"mask must be B x T, got shape {tuple(mask.shape)}")
    mask = mask.bool()
    lengths = mask.sum(dim=1)  # B
    prefix = torch.arange(mask.size(1), device=mask.device) < lengths.unsqueeze(1)  # B x T
    if not torch.equal(mask, prefix):
        # Keras would skip masked steps in the middle; packed kernels cannot, so refuse.
        raise ValueError("mask must mark a prefix of each row: padding only at the end (right padding)")
    return lengths


def lengths_from_ids(token_ids: Tensor, pad_id: int = 0) -> Tensor:
    """Keras' ``mask_zero``: lengths (B) of right-padded ``B x T`` token ids whose padding is ``pad_id``."""
    if token_ids.is_floating_point():
        raise ValueError("lengths_from_ids expects integer token ids; for vectors pass lengths or a mask")
    return lengths_from_mask(token_ids != pad_id)


def _check_positive_int(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")


def _layer_sizes(hidden_size: int | Sequence[int], num_layers: int) -> list[int]:
    """One hidden size per layer from ``hidden_size`` (an int, or a list giving the layers)."""
    _check_positive_int("num_layers", num_layers)
    if isinstance(hidden_size, int) and not isinstance(hidden_size, bool):
        _check_positive_int("hidden_size", hidden_size)
        return [hidden_size] * num_layers
    sizes = (
        list(hidden_size) if isinstance(hidden_size, Sequence) and not isinstance(hidden_size, str) else []
    )
    if not sizes:
        raise ValueError(
            f"hidden_size must be a positive integer or a non-empty list of them, got {hidden_size!r}"
        )
    for size in sizes:
        _check_positive_int("each hidden_size", size)
    if num_layers not in (1, len(sizes)):
        raise ValueError(f"hidden_size lists {len(sizes)} layers but num_layers is {num_layers}")
    return sizes


def _make_rnn(
    cell: str,
    input_size: int,
    hidden_size: int,
    num_layers: int,
    bidirectional: bool,
    dropout: float,
    nonlinearity: str,
) -> nn.RNNBase:
    options = dict(num_layers=num_layers, bidirectional=bidirectional, dropout=dropout, batch_first=True)
    if cell == "lstm":
        return nn.LSTM(input_size, hidden_size, **options)
    if cell == "gru":
        return nn.GRU(input_size, hidden_size, **options)
    return nn.RNN(input_size, hidden_size, nonlinearity=nonlinearity, **options)


def _dropout(x: Tensor | PackedSequence, p: float, training: bool) -> Tensor | PackedSequence:
    """Dropout that also works on a packed batch (on its data, which holds no padding)."""
    if isinstance(x, PackedSequence):
        return x._replace(data=F.dropout(x.data, p, training))
    return F.dropout(x, p, training)


def _gather_steps(x: Tensor, index: Tensor) -> Tensor:
    """``x[b, index[b, t]]`` for a B x T x D tensor and a B x T index."""
    return x.gather(1, index.unsqueeze(-1).expand(-1, -1, x.size(-1)))


def _cell_state_at_lengths(
    x: Tensor, outputs: Tensor, h0: Tensor, c0: Tensor, w: CellWeights, lengths: Tensor
) -> Tensor:
    """An LSTM's cell state after each row's last real step, from the padded run's outputs.

    The fused kernel returns ``c`` only after the last padded step. Inputs and previous hidden
    states are known at every step, so the input, forget and cell gates come from one batched
    matmul, and only the cheap elementwise recurrence ``c = f * c + i * g`` runs step by step,
    frozen once a row's length is reached.
    """
    rows = 3 * h0.size(-1)  # gates i, f, g lead in PyTorch's order; o is not needed
    h_prev = torch.cat([h0.unsqueeze(1), outputs[:, :-1]], dim=1)  # B x T x H
    gates = F.linear(x, w.weight_ih[:rows], w.bias_ih[:rows] + w.bias_hh[:rows])  # B x T x 3H
    gates = gates + F.linear(h_prev, w.weight_hh[:rows])  # B x T x 3H
    i, f, g = gates.chunk(3, dim=-1)
    i, f, g = i.sigmoid(), f.sigmoid(), g.tanh()  # B x T x H each
    c = c0  # B x H
    for t in range(x.size(1)):
        running = (lengths > t).unsqueeze(-1)  # B x 1
        c = torch.where(running, f[:, t] * c + i[:, t] * g[:, t], c)  # B x H
    return c


class RNNEncoder(nn.Module):
    """Stacked, optionally bidirectional Elman RNN / LSTM / GRU over right-padded batches.

    Args:
        input_size: features per step (D).
        hidden_size: units per layer, or a list with one size per layer (``[128, 64]``).
            Consecutive layers of one size share one ``nn.RNN``/``nn.LSTM``/``nn.GRU`` module,
            which runs them in one fused (cuDNN) call.
        cell: ``"rnn"`` (Elman, Keras' SimpleRNN), ``"lstm"`` or ``"gru"``.
        num_layers: layers when ``hidden_size`` is an int.
        bidirectional: add a backward direction to every layer; outputs concatenate both.
        dropout: dropout on each layer's outputs before the next layer (not after the last).
        output_dropout: dropout on ``sequence`` and ``last`` (Keras' ``TimeDistributed(Dropout)``),
            not on ``states``, which usually start a decoder.
        nonlinearity: ``"tanh"`` or ``"relu"``, for ``cell="rnn"`` only.
        length_mode: ``"packed"``, ``"masked"`` or ``"auto"`` (by device, cell and padding, see
            :data:`AUTO_MASKED_MIN_FILL`).
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int | Sequence[int],
        cell: str = "lstm",
        num_layers: int = 1,
        bidirectional: bool = False,
        dropout: float = 0.0,
        output_dropout: float = 0.0,
        nonlinearity: str = "tanh",
        length_mode: str = "auto",
    ) -> None:
        super().__init__()
        _check_positive_int("input_size", input_size)
        if cell not in CELLS:
            raise ValueError(f"cell must be one of {CELLS}, got {cell!r}")
        if nonlinearity not in NONLINEARITIES:
            raise ValueError(f"nonlinearity must be one of {NONLINEARITIES}, got {nonlinearity!r}")
        if cell != "rnn" and nonlinearity != "tanh":
            raise ValueError(
                f"nonlinearity applies to cell='rnn' only; the {cell.upper()} has fixed activations"
            )
        for name, p in (("dropout", dropout), ("output_dropout", output_dropout)):
            if not 0.0 <= p < 1.0:
                raise ValueError(f"{name} must be in [0, 1), got {p!r}")
        self.layer_sizes = _layer_sizes(hidden_size, num_layers)
        self.input_size = input_size
        self.cell = cell
        self.num_layers = len(self.layer_sizes)
        self.bidirectional = bidirectional
        self.num_directions = 2 if bidirectional else 1
        self.dropout = dropout
        self.nonlinearity = nonlinearity
        self.length_mode = length_mode
        self.output_dropout = nn.Dropout(output_dropout)

        self.rnns = nn.ModuleList()
        self._module_layers: list[range] = []  # which layers each module in self.rnns runs
        layer, size_in = 0, input_size
        for size, run in itertools.groupby(self.layer_sizes):
            count = len(list(run))
            # nn.RNNBase drops between its own layers; dropout between modules is ours (_run_modules).
            inner_dropout = dropout if count > 1 else 0.0
            self.rnns.append(
                _make_rnn(cell, size_in, size, count, bidirectional, inner_dropout, nonlinearity)
            )
            self._module_layers.append(range(layer, layer + count))
            layer, size_in = layer + count, size * self.num_directions

    @property
    def output_size(self) -> int:
        """Features per step of ``sequence`` and of ``last``: final hidden size times directions."""
        return self.layer_sizes[-1] * self.num_directions

    @property
    def length_mode(self) -> str:
        return self._length_mode

    @length_mode.setter
    def length_mode(self, mode: str) -> None:
        if mode not in LENGTH_MODES:
            raise ValueError(f"length_mode must be one of {LENGTH_MODES}, got {mode!r}")
        self._length_mode = mode

    def resolve_length_mode(self, device: torch.device | str, fill: float = 0.0) -> str:
        """The mode a padded batch runs in on ``device``: ``length_mode``, or auto's choice for a
        batch whose real tokens fill ``fill`` of its ``B x T`` slots."""
        if self.length_mode != "auto":
            return self.length_mode
        min_fill = AUTO_MASKED_MIN_FILL.get((torch.device(device).type, self.cell))
        return "masked" if min_fill is not None and fill >= min_fill else "packed"

    def cell_weights(self, layer: int, reverse: bool = False) -> CellWeights:
        """The parameters of one layer (0-based) in one direction: the module's own tensors."""
        if not 0 <= layer < self.num_layers or (reverse and not self.bidirectional):
            raise ValueError(f"no layer {layer} {'backward' if reverse else 'forward'} in this encoder")
        module, layers = next(
            (m, r) for m, r in zip(self.rnns, self._module_layers, strict=True) if layer in r
        )
        suffix = f"_l{layer - layers.start}" + ("_reverse" if reverse else "")
        return CellWeights(*(getattr(module, name + suffix) for name in CellWeights._fields))

    def forward(
        self,
        inputs: Tensor,
        lengths: Tensor | None = None,
        initial_state: State | Sequence[State] | None = None,
        *,
        mask: Tensor | None = None,
        final_states: bool = True,
    ) -> EncoderOutput:
        """Encode a right-padded batch.

        Args:
            inputs: B x T x D float vectors (embed token ids first).
            lengths: B real lengths (1..T); None means every row is T long.
            initial_state: same structure as ``EncoderOutput.states``; None means zeros.
            mask: B x T, true at real tokens, instead of ``lengths`` (e.g. ``ids != 0``).
            final_states: False when only ``sequence`` and ``last`` are wanted (a tagger, a
                pooling classifier): ``states`` is then None, and a masked LSTM batch skips
                recomputing each row's cell state at its end (:func:`_cell_state_at_lengths`).
        """
        if inputs.dim() != 3 or not inputs.is_floating_point():
            raise ValueError(
                f"inputs must be B x T x D float vectors, got {inputs.dtype} of shape {tuple(inputs.shape)}"
                " (token ids go through an embedding first; their lengths come from lengths_from_ids)"
            )
        if inputs.size(-1) != self.input_size:
            raise ValueError(
                f"inputs have {inputs.size(-1)} features per step, the encoder expects {self.input_size}"
            )
        batch, steps, _ = inputs.shape
        lengths = self._check_lengths(inputs, lengths, mask)
        hs, cs = self._initial_states(initial_state, inputs)

        if lengths is None:  # no padding: one fused call per module
            sequence, hs, cs = self._run_modules(inputs, hs, cs)
        elif self.resolve_length_mode(inputs.device, fill=float(lengths.sum()) / (batch * steps)) == "packed":
            packed = pack_padded_sequence(inputs, lengths, batch_first=True, enforce_sorted=False)
            packed, hs, cs = self._run_modules(packed, hs, cs)
            sequence, _ = pad_packed_sequence(packed, batch_first=True, total_length=steps)
        else:
            sequence, hs, cs = self._run_masked(inputs, lengths.to(inputs.device), hs, cs, final_states)

        last = hs[-1].transpose(0, 1).reshape(batch, self.output_size)  # B x H*dirs
        states = self._states(hs, cs) if final_states else None
        return EncoderOutput(self.output_dropout(sequence), self.output_dropout(last), states)

    def _check_lengths(self, inputs: Tensor, lengths: Tensor | None, mask: Tensor | None) -> Tensor | None:
        """Lengths on the CPU (as packing wants them), or None when no row is padded."""
        if mask is not None:
            if lengths is not None:
                raise ValueError("give lengths or mask, not both")
            if mask.shape != inputs.shape[:2]:
                raise ValueError(f"mask must be B x T = {tuple(inputs.shape[:2])}, got {tuple(mask.shape)}")
            lengths = lengths_from_mask(mask)
        if lengths is None:
            return None
        lengths = torch.as_tensor(lengths).cpu()
        if lengths.shape != (inputs.size(0),) or lengths.is_floating_point():
            raise ValueError(
                f"lengths must be B = {inputs.size(0)} integers, got {lengths.dtype} {tuple(lengths.shape)}"
            )
        steps = inputs.size(1)
        if lengths.min() < 1 or lengths.max() > steps:
            raise ValueError(f"lengths must lie in 1..{steps} (the padded length), got {lengths.tolist()}")
        return None if bool((lengths == steps).all()) else lengths.long()

    def _initial_states(
        self, initial_state: State | Sequence[State] | None, inputs: Tensor
    ) -> tuple[list[Tensor], list[Tensor] | None]:
        """Per-layer ``dirs x B x H_layer`` states ``h`` (and ``c`` for an LSTM) from the user's form."""
        lstm, dirs, batch = self.cell == "lstm", self.num_directions, inputs.size(0)
        if initial_state is None:
            hs = [inputs.new_zeros(dirs, batch, size) for size in self.layer_sizes]
            return hs, ([torch.zeros_like(h) for h in hs] if lstm else None)

        def parts_of(state: State) -> tuple[Tensor, ...]:
            parts = tuple(state) if lstm and isinstance(state, (tuple, list)) else (state,)
            if len(parts) != (2 if lstm else 1) or not all(isinstance(part, Tensor) for part in parts):
                raise ValueError(f"an initial state must be {'a pair (h, c)' if lstm else 'a tensor h'}")
            return parts

        def check(parts: tuple[Tensor, ...], shape: tuple[int, ...], where: str) -> None:
            if any(tuple(part.shape) != shape for part in parts):
                got = [tuple(part.shape) for part in parts]
                raise ValueError(f"initial_state{where} must be {shape} (layers*dirs x B x H), got {got}")

        if len(set(self.layer_sizes)) == 1:  # PyTorch's layout, split into layers
            parts = parts_of(initial_state)
            check(parts, (self.num_layers * dirs, batch, self.layer_sizes[0]), "")
            per_layer = list(zip(*(part.chunk(self.num_layers) for part in parts), strict=True))
        else:
            if not isinstance(initial_state, (list, tuple)) or len(initial_state) != self.num_layers:
                raise ValueError(
                    f"with several hidden sizes, initial_state is a list of {self.num_layers} layer states"
                )
            per_layer = [parts_of(state) for state in initial_state]
            for layer, (parts, size) in enumerate(zip(per_layer, self.layer_sizes, strict=True)):
                check(parts, (dirs, batch, size), f"[{layer}]")
        hs = [parts[0] for parts in per_layer]
        return hs, ([parts[1] for parts in per_layer] if lstm else None)

    def _states(self, hs: list[Tensor], cs: list[Tensor] | None) -> State | list[State]:
        """Per-layer states in the user's form (PyTorch's layout when all sizes agree)."""
        if len(set(self.layer_sizes)) == 1:
            h = torch.cat(hs)  # layers*dirs x B x H
            return (h, torch.cat(cs)) if cs is not None else h
        return [(h, c) for h, c in zip(hs, cs, strict=True)] if cs is not None else hs

    def _run_modules(
        self, x: Tensor | PackedSequence, hs: list[Tensor], cs: list[Tensor] | None
    ) -> tuple[Tensor | PackedSequence, list[Tensor], list[Tensor] | None]:
        """Unpadded or packed input through the modules; PyTorch handles lengths and states."""
        hs, cs = list(hs), (list(cs) if cs is not None else None)
        for index, (module, layers) in enumerate(zip(self.rnns, self._module_layers, strict=True)):
            if index:
                x = _dropout(x, self.dropout, self.training)
            h0 = torch.cat(hs[layers.start : layers.stop])  # layers*dirs x B x H
            if cs is not None:
                x, (h_n, c_n) = module(x, (h0, torch.cat(cs[layers.start : layers.stop])))
                cs[layers.start : layers.stop] = c_n.chunk(len(layers))
            else:
                x, h_n = module(x, h0)
            hs[layers.start : layers.stop] = h_n.chunk(len(layers))
        return x, hs, cs

    def _run_masked(
        self, x: Tensor, lengths: Tensor, hs: list[Tensor], cs: list[Tensor] | None, cell_states: bool
    ) -> tuple[Tensor, list[Tensor], list[Tensor] | None]:
        """The padded batch through each layer and direction; states gathered at the true ends
        (an LSTM's cell states only with ``cell_states``; else ``cs`` comes back as it went in)."""
        batch, steps, _ = x.shape
        time = torch.arange(steps, device=x.device)  # T
        real = time < lengths.unsqueeze(1)  # B x T
        # Reverses each row within its length and leaves padding in place; it is its own inverse.
        reverse_index = torch.where(real, lengths.unsqueeze(1) - 1 - time, time)  # B x T
        ends = (torch.arange(batch, device=x.device), lengths - 1)
        hs, cs = list(hs), (list(cs) if cs is not None else None)
        for layer in range(self.num_layers):
            if layer:
                x = F.dropout(x, self.dropout, self.training)
            outputs, h_n, c_n = [], [], []
            for direction in range(self.num_directions):
                reverse = direction == 1
                w = self.cell_weights(layer, reverse)
                x_dir = _gather_steps(x, reverse_index) if reverse else x  # B x T x D
                h0 = hs[layer][direction : direction + 1]  # 1 x B x H
                c0 = cs[layer][direction : direction + 1] if cs is not None else None
                out = self._fused_layer(x_dir, h0, c0, w)  # B x T x H
                h_n.append(out[ends])  # B x H, after the last real step of x_dir
                if c0 is not None and cell_states:
                    c_n.append(_cell_state_at_lengths(x_dir, out, h0[0], c0[0], w, lengths))
                outputs.append(_gather_steps(out, reverse_index) if reverse else out)
            x = torch.cat(outputs, dim=-1)  # B x T x H*dirs
            hs[layer] = torch.stack(h_n)  # dirs x B x H
            if cs is not None and cell_states:
                cs[layer] = torch.stack(c_n)
        return x * real.unsqueeze(-1), hs, cs

    def _fused_layer(self, x: Tensor, h0: Tensor, c0: Tensor | None, w: CellWeights) -> Tensor:
        """Outputs (B x T x H) of one layer in one direction over the full padded batch."""
        # has_biases, num_layers, dropout, train, bidirectional, batch_first: PyTorch's own RNN ops.
        flags = (True, 1, 0.0, self.training, False, True)
        if self.cell == "lstm":
            return torch.lstm(x, (h0, c0), list(w), *flags)[0]
        if self.cell == "gru":
            return torch.gru(x, h0, list(w), *flags)[0]
        run = torch.rnn_tanh if self.nonlinearity == "tanh" else torch.rnn_relu
        return run(x, h0, list(w), *flags)[0]


class _KerasRecurrent(nn.Module):
    """Keras-style recurrent layer over :class:`RNNEncoder`: ``layer(inputs, mask=None, initial_state=None)``.

    Returns the last output (B x units) or, with ``return_sequences``, every output
    (B x T x units); with ``return_state``, a tuple ``(output, *states)`` whose states are B x units:
    ``h`` (SimpleRNN, GRU) or ``h, c`` (LSTM), forward then backward under ``Bidirectional``.
    ``initial_state`` takes the same list of states. Like Keras, the layer learns its input size
    on the first call unless ``input_size`` is given; create the optimizer after that call.
    """

    def __init__(
        self,
        units: int,
        cell: str,
        return_sequences: bool = False,
        return_state: bool = False,
        input_size: int | None = None,
        nonlinearity: str = "tanh",
        bidirectional: bool = False,
        merge_mode: str = "concat",
    ) -> None:
        super().__init__()
        _check_positive_int("units", units)
        if merge_mode not in MERGE_MODES:
            raise ValueError(f"merge_mode must be one of {MERGE_MODES}, got {merge_mode!r}")
        self.units, self.cell, self.nonlinearity = units, cell, nonlinearity
        self.return_sequences, self.return_state = return_sequences, return_state
        self.bidirectional, self.merge_mode = bidirectional, merge_mode
        self.encoder: RNNEncoder | None = None
        if input_size is not None:
            self.build(input_size)

    def build(self, input_size: int) -> None:
        """Create the weights for inputs of ``input_size`` features (Keras' ``build``)."""
        self.encoder = RNNEncoder(
            input_size,
            self.units,
            self.cell,
            bidirectional=self.bidirectional,
            nonlinearity=self.nonlinearity,
        )

    def forward(
        self, inputs: Tensor, mask: Tensor | None = None, initial_state: Sequence[Tensor] | None = None
    ) -> Tensor | tuple[Tensor, ...]:
        if self.encoder is None:
            self.build(inputs.size(-1))
            self.encoder.to(device=inputs.device, dtype=inputs.dtype)
        per_direction = 2 if self.cell == "lstm" else 1
        state = None
        if initial_state is not None:
            if len(initial_state) != per_direction * self.encoder.num_directions:
                raise ValueError(
                    f"initial_state must list {per_direction} state(s) per direction, B x units each"
                )
            parts = [
                torch.stack(initial_state[i::per_direction]) for i in range(per_direction)
            ]  # dirs x B x H
            state = tuple(parts) if self.cell == "lstm" else parts[0]
        out = self.encoder(inputs, initial_state=state, mask=mask)
        output = self._merge(out.sequence if self.return_sequences else out.last)
        if not self.return_state:
            return output
        parts = out.states if self.cell == "lstm" else (out.states,)
        return (output, *(part[d] for d in range(self.encoder.num_directions) for part in parts))

    def _merge(self, output: Tensor) -> Tensor:
        if not self.bidirectional or self.merge_mode == "concat":
            return output
        forward, backward = output.chunk(2, dim=-1)
        if self.merge_mode == "sum":
            return forward + backward
        if self.merge_mode == "mul":
            return forward * backward
        return (forward + backward) / 2


class SimpleRNN(_KerasRecurrent):
    """Keras' ``SimpleRNN(units, activation="tanh")``: an Elman RNN (``cell="rnn"``)."""

    def __init__(
        self,
        units: int,
        activation: str = "tanh",
        return_sequences: bool = False,
        return_state: bool = False,
        input_size: int | None = None,
    ) -> None:
        super().__init__(units, "rnn", return_sequences, return_state, input_size, nonlinearity=activation)


class LSTM(_KerasRecurrent):
    """Keras' ``LSTM(units)``; with ``return_state`` it returns ``(output, h, c)``."""

    def __init__(
        self,
        units: int,
        return_sequences: bool = False,
        return_state: bool = False,
        input_size: int | None = None,
    ) -> None:
        super().__init__(units, "lstm", return_sequences, return_state, input_size)


class GRU(_KerasRecurrent):
    """Keras' ``GRU(units)`` with ``reset_after=True`` (the TF2 default), PyTorch's formulation."""

    def __init__(
        self,
        units: int,
        return_sequences: bool = False,
        return_state: bool = False,
        input_size: int | None = None,
    ) -> None:
        super().__init__(units, "gru", return_sequences, return_state, input_size)


class Bidirectional(_KerasRecurrent):
    """Keras' ``Bidirectional(layer, merge_mode="concat")``: a new bidirectional layer built from
    ``layer``'s settings (like Keras, it copies the configuration, not the weights)."""

    def __init__(self, layer: _KerasRecurrent, merge_mode: str = "concat") -> None:
        if not isinstance(layer, _KerasRecurrent) or layer.bidirectional:
            raise ValueError("Bidirectional wraps a SimpleRNN, LSTM or GRU layer")
        input_size = layer.encoder.input_size if layer.encoder is not None else None
        super().__init__(
            layer.units,
            layer.cell,
            layer.return_sequences,
            layer.return_state,
            input_size,
            nonlinearity=layer.nonlinearity,
            bidirectional=True,
            merge_mode=merge_mode,
        )
