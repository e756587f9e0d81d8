"""bf16 matrix products for inference, with fp32 everywhere else.

On CPUs with AMX (Intel Sapphire Rapids and later) oneDNN multiplies bf16 matrices 5-12 times
faster than fp32 ones (``scripts/bench_bf16_gemm.py``), and on CUDA GPUs bf16 runs on the tensor
cores. :func:`bf16_inference_copy` makes a copy of a model whose ``nn.Linear`` layers (and chosen
``nn.GRU``/``nn.LSTM`` decoders) multiply in bf16 and hand fp32 back: their inputs and outputs, the
recurrent state carried between calls, softmaxes, scores and everything element-wise stay fp32,
so rounding happens once per product and does not compound over decoding steps.

Plain ``torch.autocast`` does the same products but casts every weight again at every call
(a decoding step calls each layer once), which eats most of the gain; here the bf16 weights are
made once. Inference only: the copy does not follow later changes to the fp32 model, which is
left as it was (and is what gets saved).
On CPUs without native bf16 the products are emulated and slower; :func:`fast_bf16_available`
says whether this machine has it.
"""

from __future__ import annotations

import copy
import functools
from pathlib import Path
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from nlp_rnn.errors import NlpRnnError

Precision = Literal["fp32", "bf16"]
PRECISIONS: tuple[str, ...] = ("fp32", "bf16")


class Bf16Linear(nn.Module):
    """``nn.Linear`` for inference that multiplies in bf16: fp32 in, fp32 out, fp32 bias."""

    def __init__(self, linear: nn.Linear) -> None:
        super().__init__()
        self.in_features, self.out_features = linear.in_features, linear.out_features
        self.weight = nn.Parameter(linear.weight.detach().to(torch.bfloat16), requires_grad=False)
        self.bias = None if linear.bias is None else nn.Parameter(linear.bias.detach(), requires_grad=False)

    def forward(self, inputs: Tensor) -> Tensor:  # ... x in -> ... x out
        out = F.linear(inputs.to(torch.bfloat16), self.weight).to(inputs.dtype)
        return out if self.bias is None else out + self.bias


class Bf16RNN(nn.Module):
    """An ``nn.GRU``/``nn.LSTM`` for inference whose kernel runs in bf16.

    Inputs and states are cast at the boundary and come back fp32, so a decoder that calls it once
    per step keeps its state in fp32 between steps.
    """

    def __init__(self, rnn: nn.RNNBase) -> None:
        super().__init__()
        self.rnn = copy.deepcopy(rnn).to(torch.bfloat16).requires_grad_(False)

    def forward(
        self, inputs: Tensor, state: Tensor | tuple[Tensor, Tensor] | None = None
    ) -> tuple[Tensor, Tensor | tuple[Tensor, Tensor]]:
        dtype = inputs.dtype
        if isinstance(state, tuple):
            state = (state[0].to(torch.bfloat16), state[1].to(torch.bfloat16))
        elif state is not None:
            state = state.to(torch.bfloat16)
        outputs, final = self.rnn(inputs.to(torch.bfloat16), state)
        if isinstance(final, tuple):
            return outputs.to(dtype), (final[0].to(dtype), final[1].to(dtype))
        return outputs.to(dtype), final.to(dtype)


def bf16_inference_copy(model: nn.Module, recurrent: tuple[str, ...] = ()) -> nn.Module:
    """A copy of ``model`` in eval mode, for inference only, in which every ``nn.Linear`` is a
    :class:`Bf16Linear` and each ``nn.GRU``/``nn.LSTM`` named in ``recurrent`` (a dotted path such
    as ``"decoder"``) a :class:`Bf16RNN`. ``model`` itself is left as it was."""
    twin = copy.deepcopy(model).eval().requires_grad_(False)
    for path in recurrent:
        parent, _, name = path.rpartition(".")
        owner = twin.get_submodule(parent) if parent else twin
        rnn = getattr(owner, name)
        if not isinstance(rnn, (nn.GRU, nn.LSTM)):
            raise TypeError(f"{path} is a {type(rnn).__name__}, not an nn.GRU or nn.LSTM")
        setattr(owner, name, Bf16RNN(rnn))
    for owner in list(twin.modules()):
        for name, child in list(owner.named_children()):
            if type(child) is nn.Linear:
                setattr(owner, name, Bf16Linear(child))
    return twin


def check_precision(precision: str) -> Precision:
    """``precision`` itself when it is one this toolkit runs, else a clear error."""
    if precision not in PRECISIONS:
        raise NlpRnnError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    return precision  # type: ignore[return-value]


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
