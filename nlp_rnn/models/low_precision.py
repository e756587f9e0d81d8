"""bf16 or int8 matrix products for inference, with fp32 everywhere else.

On CPUs with AMX (Intel Sapphire Rapids and later) oneDNN multiplies bf16 matrices several times
faster than fp32 ones (``scripts/bench_bf16_gemm.py``: 2.2-5x at this toolkit's shapes, casts
included), and on CUDA GPUs bf16 runs on the tensor cores. :func:`low_precision_copy` makes a
copy of a model whose ``nn.Linear`` layers (and chosen ``nn.GRU``/``nn.LSTM`` decoders) multiply
in bf16 (or int8) and hand fp32 back: their inputs and outputs, the recurrent state carried
between calls, softmaxes, scores and everything element-wise stay fp32, so rounding happens once
per product and does not compound over decoding steps.

On CPUs without native bf16 (an AVX2-only EPYC, say) the bf16 products are emulated and slower;
:func:`fast_bf16_available` says whether this machine has it. There ``int8`` is the fast form
(:class:`Int8Linear`): PyTorch's x86 (fbgemm) dynamic int8 products, weights int8 per output
row, each input row quantized over its own range to 7-bit unsigned integers (7 rather than 8 bits
because AVX2's u8 x s8 pair products would saturate int16), int32 sums, fp32 out: 1.4-2.8x fp32's
speed at the translation decoder's shapes on an AVX2 machine (``scripts/bench_int8_gemm.py
--shapes decoding``). CPU only.

The low-precision weights are made once, ahead of decoding, rather than cast where each product
is called as ``torch.autocast`` does. Inference only: the copy does not follow later changes to
the fp32 model, which is left as it was (and is what gets saved).
"""

from __future__ import annotations

import copy
import functools
import logging
import warnings
from pathlib import Path
from typing import Literal, get_args

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from nlp_rnn.errors import NlpRnnError

log = logging.getLogger(__name__)

Precision = Literal["fp32", "bf16", "int8"]
PRECISIONS: tuple[str, ...] = get_args(Precision)
# The precisions of the models whose inference is written out in bf16 (tagger, classifier).
FLOAT_PRECISIONS: tuple[str, ...] = ("fp32", "bf16")
# Linear layers with fewer outputs stay fp32: for a product as thin as Bahdanau's v (one output
# over B x S x A), converting the input is most of the work.
MIN_LOW_PRECISION_OUTPUTS = 16
# PyTorch's quantized engines that run fbgemm's dynamic int8 products.
INT8_ENGINES = ("x86", "fbgemm")


class Bf16Linear(nn.Module):
    """A linear layer (``weight`` out x in, ``bias`` out or None) for inference that multiplies in
    bf16: fp32 in, fp32 out, fp32 bias."""

    def __init__(self, weight: Tensor, bias: Tensor | None) -> None:
        super().__init__()
        self.out_features, self.in_features = weight.shape
        self.weight = nn.Parameter(weight.detach().to(torch.bfloat16), requires_grad=False)
        self.bias = None if bias is None else nn.Parameter(bias.detach().float(), requires_grad=False)

    def forward(self, inputs: Tensor) -> Tensor:  # ... x in -> ... x out
        out = F.linear(inputs.to(torch.bfloat16), self.weight).to(inputs.dtype)
        return out if self.bias is None else out.add_(self.bias)  # in place: one pass less


class Int8Linear(nn.Module):
    """A linear layer (``weight`` out x in, ``bias`` out or None) for CPU inference with int8
    products: fp32 in, fp32 out. The weights are quantized per output row and packed for fbgemm
    once, here.

    fbgemm's dynamic product quantizes its whole input over one range, the batch's, so a row's
    result would depend on the other rows (and a sentence's translation on its batch). Here each
    row is divided by its own largest magnitude first and two anchor rows holding +1 and -1 are
    added, so the range fbgemm finds is always [-1, 1]; the products are scaled back per row.
    That is per-row quantization: every row rounds the same whatever it is batched with.
    """

    def __init__(self, weight: Tensor, bias: Tensor | None) -> None:
        super().__init__()
        self.out_features, self.in_features = weight.shape
        self.packed = _pack_int8(weight)
        self.register_buffer("bias", None if bias is None else bias.detach().float().clone())
        anchors = torch.zeros(2, self.in_features)
        anchors[0, 0], anchors[1, 0] = 1.0, -1.0
        self.register_buffer("anchors", anchors)  # 2 x in

    def forward(self, inputs: Tensor) -> Tensor:  # ... x in -> ... x out
        flat = inputs.reshape(-1, self.in_features)  # N x in
        rows = flat.size(0)
        # each row's largest magnitude (a zero row keeps a tiny one, and stays zero)
        scales = flat.abs().amax(dim=1, keepdim=True).clamp_min_(torch.finfo(torch.float32).tiny)  # N x 1
        scaled = flat.new_empty(rows + 2, self.in_features)  # the N rows in [-1, 1], the anchors
        torch.div(flat, scales, out=scaled[:rows])
        scaled[rows:] = self.anchors
        products = torch.ops.quantized.linear_dynamic(scaled, self.packed, True)[:rows]  # 7-bit inputs
        products.mul_(scales)  # in place, then the bias: faster than a broadcasting addcmul
        out = products if self.bias is None else products.add_(self.bias)
        return out.view(*inputs.shape[:-1], self.out_features)


def _pack_int8(weight: Tensor) -> torch.ScriptObject:
    """``weight`` (out x in) quantized symmetrically to int8 per output row and packed for
    ``quantized::linear_dynamic``."""
    weight = weight.detach().float().cpu()
    scales = (weight.abs().amax(dim=1).clamp_min(1e-8) / 127).double()  # out
    zero_points = torch.zeros(weight.size(0), dtype=torch.long)
    with warnings.catch_warnings():  # creating quantized tensors is deprecated; the kernels are not
        warnings.simplefilter("ignore")
        qweight = torch.quantize_per_channel(weight, scales, zero_points, 0, torch.qint8)
    return torch.ops.quantized.linear_prepack(qweight, None)


class LowPrecisionRNN(nn.Module):
    """A unidirectional, batch-first ``nn.GRU``/``nn.LSTM`` for inference, written out: each
    layer's input products for all steps in one bf16 or int8 product, then per step one product
    with the recurrent weights and the gates in fp32 (PyTorch's equations and gate order).

    Written out rather than calling PyTorch's kernel on a low-precision copy, so that the state
    and the gates stay fp32 and only the products round. Inputs, states and outputs are fp32, so
    a decoder that calls it once per step keeps its state in fp32.
    """

    def __init__(self, rnn: nn.RNNBase, precision: str = "bf16") -> None:
        super().__init__()
        if not isinstance(rnn, (nn.GRU, nn.LSTM)) or rnn.bidirectional or not rnn.batch_first:
            raise TypeError("LowPrecisionRNN runs unidirectional batch-first nn.GRU and nn.LSTM modules")
        if precision not in ("bf16", "int8"):
            raise ValueError(f"LowPrecisionRNN multiplies in bf16 or int8, not {precision!r}")
        product = Bf16Linear if precision == "bf16" else Int8Linear
        self.lstm = isinstance(rnn, nn.LSTM)
        self.num_layers, self.hidden_size = rnn.num_layers, rnn.hidden_size
        gates = rnn.weight_ih_l0.size(0)
        self.input_products = nn.ModuleList()
        self.recurrent_products = nn.ModuleList()
        for layer in range(rnn.num_layers):
            biases = [getattr(rnn, f"{name}_l{layer}", None) for name in ("bias_ih", "bias_hh")]
            biases = [torch.zeros(gates) if bias is None else bias for bias in biases]
            self.input_products.append(product(getattr(rnn, f"weight_ih_l{layer}"), biases[0]))
            self.recurrent_products.append(product(getattr(rnn, f"weight_hh_l{layer}"), biases[1]))

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
            recurrent_product = self.recurrent_products[layer]
            products = self.input_products[layer](x.reshape(batch * steps, -1))  # B*T x G*H
            products = products.view(batch, steps, -1)  # B x T x G*H
            h = h0[layer].float()  # B x H
            c = None if c0 is None else c0[layer].float()
            outputs = []
            for t in range(steps):
                recurrent = recurrent_product(h)  # B x G*H
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


def low_precision_copy(model: nn.Module, precision: str, recurrent: tuple[str, ...] = ()) -> nn.Module:
    """A copy of ``model`` in eval mode, for inference only, in which every ``nn.Linear`` of at
    least ``MIN_LOW_PRECISION_OUTPUTS`` outputs is a :class:`Bf16Linear` or :class:`Int8Linear`
    (``precision`` ``"bf16"`` or ``"int8"``) and each ``nn.GRU``/``nn.LSTM`` named in
    ``recurrent`` (a dotted path such as ``"decoder"``) a :class:`LowPrecisionRNN`. ``model``
    itself is left as it was."""
    if precision not in ("bf16", "int8"):
        raise ValueError(f"a low-precision copy multiplies in bf16 or int8, not {precision!r}")
    linear = Bf16Linear if precision == "bf16" else Int8Linear
    twin = copy.deepcopy(model).eval().requires_grad_(False)
    for path in recurrent:
        parent, _, name = path.rpartition(".")
        owner = twin.get_submodule(parent) if parent else twin
        rnn = getattr(owner, name)
        if not isinstance(rnn, (nn.GRU, nn.LSTM)):
            raise TypeError(f"{path} is a {type(rnn).__name__}, not an nn.GRU or nn.LSTM")
        setattr(owner, name, LowPrecisionRNN(rnn, precision).to(next(rnn.parameters()).device))
    for owner in list(twin.modules()):
        for name, child in list(owner.named_children()):
            if type(child) is nn.Linear and child.out_features >= MIN_LOW_PRECISION_OUTPUTS:
                setattr(owner, name, linear(child.weight, child.bias))
    return twin


class InferenceCopies:
    """The model a predictor decodes with, by precision: ``model`` itself for ``fp32``, else a
    :func:`low_precision_copy` of it made on first use and kept (``recurrent`` names its decoder
    RNNs). The precision is checked against ``device`` first (:func:`check_precision`)."""

    def __init__(self, model: nn.Module, device: torch.device | str, recurrent: tuple[str, ...]) -> None:
        self.model, self.device, self.recurrent = model, device, recurrent
        self._copies: dict[str, nn.Module] = {}

    def get(self, precision: str) -> nn.Module:
        if check_precision(precision, self.device) == "fp32":
            return self.model
        if precision not in self._copies:
            self._copies[precision] = low_precision_copy(self.model, precision, self.recurrent)
        return self._copies[precision]


def check_precision(
    precision: str, device: torch.device | str = "cpu", supported: tuple[str, ...] = PRECISIONS
) -> Precision:
    """``precision`` itself when the caller runs it (``supported``) on ``device``, else a clear
    error. bf16 on a machine with neither a CUDA GPU nor a CPU with native bf16 logs a warning
    once: it runs, but slower. int8 runs on CPUs with PyTorch's x86 quantized engine only."""
    if precision not in supported:
        raise NlpRnnError(f"precision must be one of {', '.join(supported)}, got {precision!r}")
    if precision == "bf16" and not torch.cuda.is_available() and not fast_bf16_available("cpu"):
        _warn_emulated_bf16()
    if precision == "int8":
        if torch.device(device).type != "cpu":
            raise NlpRnnError(f"precision int8 runs on the CPU only, not on {device}")
        if not int8_available():
            raise NlpRnnError(
                "precision int8 needs PyTorch's x86 (fbgemm) quantized engine, which this build"
                f" lacks (it has: {', '.join(torch.backends.quantized.supported_engines)})"
            )
    return precision  # type: ignore[return-value]


def int8_available() -> bool:
    """Whether this PyTorch build runs fbgemm's dynamic int8 products (x86 CPUs)."""
    return any(engine in torch.backends.quantized.supported_engines for engine in INT8_ENGINES)


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
