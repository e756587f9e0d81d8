"""bf16 matrix products for inference, with fp32 everywhere else.

On CPUs with AMX (Intel Sapphire Rapids and later) oneDNN multiplies bf16 matrices several times
faster than fp32 ones (``scripts/bench_bf16_gemm.py``: 2.2-5x at this toolkit's shapes, casts
included), and on CUDA GPUs bf16 runs on the tensor cores. :func:`bf16_inference_copy` makes a
copy of a model whose ``nn.Linear`` layers (and chosen ``nn.GRU``/``nn.LSTM`` decoders) multiply
in bf16 and hand fp32 back: their inputs and outputs, the recurrent state carried between calls,
softmaxes, scores and everything element-wise stay fp32, so rounding happens once per product
and does not compound over decoding steps.

The bf16 weights are made once, ahead of decoding, rather than cast where each product is called
as ``torch.autocast`` does. Inference only: the copy does not follow later changes to the fp32
model, which is left as it was (and is what gets saved). On CPUs without native bf16 the
products are emulated and slower; :func:`fast_bf16_available` says whether this machine has it.
"""

from __future__ import annotations

import copy
import functools
import logging
from pathlib import Path
from typing import Literal, get_args

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from nlp_rnn.errors import NlpRnnError

log = logging.getLogger(__name__)

Precision = Literal["fp32", "bf16"]
PRECISIONS: tuple[str, ...] = get_args(Precision)
# Linear layers with fewer outputs stay fp32: for a product as thin as Bahdanau's v (one output
# over B x S x A), casting the input to bf16 is most of the work.
MIN_BF16_OUTPUTS = 16


class Bf16Linear(nn.Module):
    """``nn.Linear`` for inference that multiplies in bf16: fp32 in, fp32 out, fp32 bias."""

    def __init__(self, linear: nn.Linear) -> None:
        super().__init__()
        self.in_features, self.out_features = linear.in_features, linear.out_features
        self.weight = nn.Parameter(linear.weight.detach().to(torch.bfloat16), requires_grad=False)
        self.bias = None if linear.bias is None else nn.Parameter(linear.bias.detach(), requires_grad=False)

    def forward(self, inputs: Tensor) -> Tensor:  # ... x in -> ... x out
        out = F.linear(inputs.to(torch.bfloat16), self.weight).to(inputs.dtype)
        return out if self.bias is None else out.add_(self.bias)  # in place: one pass less


class Bf16RNN(nn.Module):
    """A unidirectional, batch-first ``nn.GRU``/``nn.LSTM`` for inference, written out: each
    layer's input products for all steps in one bf16 product, then per step one bf16 product
    with the recurrent weights and the gates in fp32 (PyTorch's equations and gate order).

    Written out rather than calling PyTorch's kernel on a bf16 copy, so that the state and the
    gates stay fp32 and only the products round. Inputs, states and outputs are fp32, so a
    decoder that calls it once per step keeps its state in fp32.
    """

    def __init__(self, rnn: nn.RNNBase) -> None:
        super().__init__()
        if not isinstance(rnn, (nn.GRU, nn.LSTM)) or rnn.bidirectional or not rnn.batch_first:
            raise TypeError("Bf16RNN runs unidirectional batch-first nn.GRU and nn.LSTM modules")
        self.lstm = isinstance(rnn, nn.LSTM)
        self.num_layers, self.hidden_size = rnn.num_layers, rnn.hidden_size
        for layer in range(rnn.num_layers):
            for name in ("weight_ih", "weight_hh"):
                weight = getattr(rnn, f"{name}_l{layer}").detach()
                self.register_buffer(f"{name}_l{layer}", weight.to(torch.bfloat16))
            for name in ("bias_ih", "bias_hh"):
                bias = getattr(rnn, f"{name}_l{layer}", None)
                bias = torch.zeros(rnn.weight_ih_l0.size(0)) if bias is None else bias.detach().clone()
                self.register_buffer(f"{name}_l{layer}", bias)

    def forward(
        self, inputs: Tensor, state: Tensor | tuple[Tensor, Tensor] | None = None
    ) -> tuple[Tensor, Tensor | tuple[Tensor, Tensor]]:
        """``inputs`` B x T x D -> outputs B x T x H and the final state (L x B x H; ``(h, c)``
        for an LSTM), all fp32; ``state`` as ``nn.GRU``/``nn.LSTM`` take it (None: zeros)."""
        batch, steps, _ = inputs.shape
        if state is None:
            zeros = inputs.new_zeros(self.num_layers, batch, self.hidden_size)
            state = (zeros, zeros) if self.lstm else zeros
        h0, c0 = state if self.lstm else (state, None)
        x = inputs.float()
        finals_h, finals_c = [], []
        for layer in range(self.num_layers):
            w_ih, w_hh = getattr(self, f"weight_ih_l{layer}"), getattr(self, f"weight_hh_l{layer}")
            b_ih, b_hh = getattr(self, f"bias_ih_l{layer}"), getattr(self, f"bias_hh_l{layer}")
            products = torch.mm(x.reshape(batch * steps, -1).to(torch.bfloat16), w_ih.t())
            products = products.float().add_(b_ih).view(batch, steps, -1)  # B x T x G*H
            h = h0[layer].float()  # B x H
            c = None if c0 is None else c0[layer].float()
            outputs = []
            for t in range(steps):
                recurrent = torch.mm(h.to(torch.bfloat16), w_hh.t()).float().add_(b_hh)  # B x G*H
                if c is None:
                    h = _gru_cell(products[:, t], recurrent, h)
                else:
                    h, c = _lstm_cell(products[:, t] + recurrent, c)
                outputs.append(h)
            x = torch.stack(outputs, dim=1)  # B x T x H
            finals_h.append(h)
            finals_c.append(c)
        final_h = torch.stack(finals_h)  # L x B x H
        if self.lstm:
            return x, (final_h, torch.stack(finals_c))
        return x, final_h


def _gru_cell(inputs: Tensor, recurrent: Tensor, h: Tensor) -> Tensor:
    """PyTorch's GRU step from the input (B x 3H, bias included) and recurrent (B x 3H) products."""
    i_r, i_z, i_n = inputs.chunk(3, dim=-1)
    h_r, h_z, h_n = recurrent.chunk(3, dim=-1)
    r = torch.sigmoid(i_r + h_r)
    z = torch.sigmoid(i_z + h_z)
    n = torch.tanh(torch.addcmul(i_n, r, h_n))
    return torch.lerp(n, h, z)  # (1 - z) n + z h


def _lstm_cell(gates: Tensor, c: Tensor) -> tuple[Tensor, Tensor]:
    """PyTorch's LSTM step from the summed gate pre-activations (B x 4H, order i, f, g, o)."""
    i, f, g, o = gates.chunk(4, dim=-1)
    c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
    return torch.sigmoid(o) * torch.tanh(c), c


def bf16_inference_copy(model: nn.Module, recurrent: tuple[str, ...] = ()) -> nn.Module:
    """A copy of ``model`` in eval mode, for inference only, in which every ``nn.Linear`` of at
    least ``MIN_BF16_OUTPUTS`` outputs is a :class:`Bf16Linear` and each ``nn.GRU``/``nn.LSTM``
    named in ``recurrent`` (a dotted path such as ``"decoder"``) a :class:`Bf16RNN`. ``model``
    itself is left as it was."""
    twin = copy.deepcopy(model).eval().requires_grad_(False)
    for path in recurrent:
        parent, _, name = path.rpartition(".")
        owner = twin.get_submodule(parent) if parent else twin
        rnn = getattr(owner, name)
        if not isinstance(rnn, (nn.GRU, nn.LSTM)):
            raise TypeError(f"{path} is a {type(rnn).__name__}, not an nn.GRU or nn.LSTM")
        setattr(owner, name, Bf16RNN(rnn).to(next(rnn.parameters()).device))
    for owner in list(twin.modules()):
        for name, child in list(owner.named_children()):
            if type(child) is nn.Linear and child.out_features >= MIN_BF16_OUTPUTS:
                setattr(owner, name, Bf16Linear(child))
    return twin


def check_precision(precision: str) -> Precision:
    """``precision`` itself when it is one this toolkit runs, else a clear error. bf16 on a machine
    with neither a CUDA GPU nor a CPU with native bf16 logs a warning once: it runs, but slower."""
    if precision not in PRECISIONS:
        raise NlpRnnError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    if precision == "bf16" and not torch.cuda.is_available() and not fast_bf16_available("cpu"):
        _warn_emulated_bf16()
    return precision  # type: ignore[return-value]


@functools.cache
def _warn_emulated_bf16() -> None:
    log.warning(
        "precision bf16: this CPU has no native bf16 (AMX or AVX512-BF16), so bf16 products are"
        " emulated and slower than fp32"
    )


@functools.cache
def fast_bf16_available(device: str = "cpu") -> bool:
    """Whether ``device`` multiplies bf16 natively: CUDA with bf16 support, or a CPU with AMX or
    AVX512-BF16 (read from ``/proc/cpuinfo``; False where that file is absent)."""
    if device.startswith("cuda"):
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    cpuinfo = Path("/proc/cpuinfo")
    if not cpuinfo.exists():
        return False
    flags = cpuinfo.read_text(encoding="utf-8", errors="replace")
    return "amx_bf16" in flags or "avx512_bf16" in flags
