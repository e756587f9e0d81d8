"""Low-precision inference copies: linear layers and RNNs that multiply in bf16 or int8 and keep
fp32 around."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from nlp_rnn.errors import NlpRnnError
from nlp_rnn.models import low_precision
from nlp_rnn.models.low_precision import (
    FLOAT_PRECISIONS,
    Bf16Linear,
    Int8Linear,
    LowPrecisionRNN,
    check_precision,
    fast_bf16_available,
    int8_available,
    low_precision_copy,
)

needs_int8 = pytest.mark.skipif(not int8_available(), reason="needs PyTorch's x86 quantized engine")


def relative_error(found: torch.Tensor, expected: torch.Tensor) -> float:
    return float((found - expected).detach().norm() / expected.detach().norm())


def test_bf16_linear_is_close_to_fp32_and_returns_fp32() -> None:
    torch.manual_seed(0)
    linear = nn.Linear(64, 300)
    low = Bf16Linear(linear.weight, linear.bias)
    x = torch.randn(7, 5, 64)
    out = low(x)
    assert out.dtype == torch.float32 and out.shape == (7, 5, 300)
    assert low.weight.dtype == torch.bfloat16 and low.bias.dtype == torch.float32
    error = relative_error(out, linear(x))
    assert 0 < error < 1e-2  # rounded (so really bf16), but only by bf16's 3 significant digits
    unbiased_layer = nn.Linear(64, 8, bias=False)
    without_bias = Bf16Linear(unbiased_layer.weight, unbiased_layer.bias)
    assert without_bias.bias is None and without_bias(x).shape == (7, 5, 8)


@needs_int8
def test_int8_linear_is_close_to_fp32_and_returns_fp32() -> None:
    torch.manual_seed(0)
    linear = nn.Linear(64, 300)
    low = Int8Linear(linear.weight, linear.bias)
    x = torch.randn(7, 5, 64)
    out = low(x)
    assert out.dtype == torch.float32 and out.shape == (7, 5, 300)
    error = relative_error(out, linear(x))
    assert 1e-4 < error < 3e-2  # rounded (7-bit inputs, 8-bit weights), but only a little
    unbiased = nn.Linear(64, 8, bias=False)
    assert relative_error(Int8Linear(unbiased.weight, None)(x), unbiased(x)) < 3e-2
    assert not Int8Linear(unbiased.weight, None)(torch.zeros(2, 64)).any()  # a zero row stays zero


@needs_int8
def test_an_int8_row_rounds_the_same_whatever_it_is_batched_with() -> None:
    torch.manual_seed(0)
    low = Int8Linear(torch.randn(50, 32), torch.randn(50))
    rows = torch.randn(6, 32)
    alone = torch.cat([low(row[None]) for row in rows])
    beside_a_large_row = low(torch.cat([rows, 100 * torch.randn(1, 32)]))[:6]
    all_positive = low(rows.abs())
    assert torch.equal(low(rows), alone) and torch.equal(beside_a_large_row, alone)
    assert torch.equal(all_positive[2], low(rows[2:3].abs())[0])


@pytest.mark.parametrize("precision", ["bf16", pytest.param("int8", marks=needs_int8)])
@pytest.mark.parametrize("cell", [nn.GRU, nn.LSTM])
def test_low_precision_rnn_takes_and_gives_fp32_states(cell: type[nn.RNNBase], precision: str) -> None:
    torch.manual_seed(0)
    rnn = cell(12, 20, num_layers=2, batch_first=True)
    low = LowPrecisionRNN(rnn, precision)
    x = torch.randn(3, 6, 12)
    state = torch.randn(2, 3, 20)
    if cell is nn.LSTM:
        state = (state, torch.randn(2, 3, 20))
    with torch.no_grad():
        expected, expected_final = rnn(x, state)
        outputs, final = low(x, state)
        outputs_from_zero, _ = low(x)
    assert outputs.dtype == torch.float32 and outputs.shape == (3, 6, 20)
    assert relative_error(outputs, expected) < 2e-2
    finals = final if cell is nn.LSTM else (final,)
    expected_finals = expected_final if cell is nn.LSTM else (expected_final,)
    for part, reference in zip(finals, expected_finals, strict=True):
        assert part.dtype == torch.float32 and relative_error(part, reference) < 2e-2
    assert relative_error(outputs_from_zero, rnn(x)[0].detach()) < 2e-2
    with pytest.raises(TypeError, match="unidirectional batch-first"):
        LowPrecisionRNN(cell(12, 20, bidirectional=True, batch_first=True), precision)
    with pytest.raises(ValueError, match="bf16 or int8"):
        LowPrecisionRNN(rnn, "fp16")


class Tiny(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.embedding = nn.Embedding(10, 16)
        self.decoder = nn.GRU(16, 8, batch_first=True)
        self.head = nn.Sequential(nn.Linear(8, 16), nn.Tanh(), nn.Linear(16, 10))
        self.score = nn.Linear(8, 1)  # too few outputs to gain from bf16
        self.head[2].weight = self.embedding.weight  # tied, as in the seq2seq generator


@pytest.mark.parametrize(
    ("precision", "linear"), [("bf16", Bf16Linear), pytest.param("int8", Int8Linear, marks=needs_int8)]
)
def test_the_copy_converts_and_the_original_is_untouched(precision: str, linear: type[nn.Module]) -> None:
    torch.manual_seed(0)
    model = Tiny().train()
    before = {name: tensor.clone() for name, tensor in model.state_dict().items()}
    twin = low_precision_copy(model, precision, recurrent=("decoder",))
    assert isinstance(twin.decoder, LowPrecisionRNN) and not twin.training
    assert [type(m) for m in twin.head] == [linear, nn.Tanh, nn.Linear]  # 16 outputs, 10
    assert type(twin.score) is nn.Linear
    assert type(model.decoder) is nn.GRU and type(model.head[0]) is nn.Linear and model.training
    assert model.head[2].weight is model.embedding.weight
    assert all(torch.equal(before[name], tensor) for name, tensor in model.state_dict().items())
    assert not any(p.requires_grad for p in twin.parameters())
    with pytest.raises(TypeError, match="not an nn.GRU"):
        low_precision_copy(model, precision, recurrent=("head",))
    with pytest.raises(ValueError, match="bf16 or int8"):
        low_precision_copy(model, "fp32")
    x = torch.randint(0, 10, (2, 4))
    with torch.no_grad():
        found = twin.head(twin.decoder(twin.embedding(x))[0])
        expected = model.eval().head(model.decoder(model.embedding(x))[0])
    assert relative_error(found, expected) < 3e-2


def test_precision_names_are_checked() -> None:
    assert check_precision("bf16") == "bf16" and check_precision("fp32") == "fp32"
    with pytest.raises(NlpRnnError, match="precision must be one of fp32, bf16, int8"):
        check_precision("fp16")
    with pytest.raises(NlpRnnError, match="precision must be one of fp32, bf16, got 'int8'"):
        check_precision("int8", supported=FLOAT_PRECISIONS)
    with pytest.raises(NlpRnnError, match="int8 runs on the CPU only"):
        check_precision("int8", "cuda:0")
    assert isinstance(fast_bf16_available("cpu"), bool)


def test_int8_without_the_x86_engine_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(low_precision, "int8_available", lambda: False)
    with pytest.raises(NlpRnnError, match="x86 \\(fbgemm\\) quantized engine"):
        check_precision("int8")


@pytest.mark.parametrize("native", [False, True])
def test_bf16_without_native_support_warns_once(
    native: bool, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(low_precision, "fast_bf16_available", lambda device: native)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    low_precision._warn_emulated_bf16.cache_clear()
    with caplog.at_level("WARNING", logger="nlp_rnn.models.low_precision"):
        check_precision("bf16")
        check_precision("bf16")
        check_precision("fp32")
    assert caplog.text.count("emulated") == (0 if native else 1)
    low_precision._warn_emulated_bf16.cache_clear()
