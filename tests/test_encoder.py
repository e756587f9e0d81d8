"""RNNEncoder against the loop-based reference cells, the Keras examples, and its own modes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from script_module import load_script
from torch import Tensor

from nlp_rnn.models import reference_cells
from nlp_rnn.models.encoder import (
    AUTO_MASKED_MIN_FILL,
    GRU,
    LSTM,
    Bidirectional,
    EncoderOutput,
    RNNEncoder,
    SimpleRNN,
    lengths_from_ids,
    lengths_from_mask,
)

CELLS = [("rnn", "tanh"), ("rnn", "relu"), ("lstm", "tanh"), ("gru", "tanh")]
CELL_IDS = ["elman-tanh", "elman-relu", "lstm", "gru"]
DEPTHS = [1, 2, [6, 4]]  # one layer, two of one size (one fused module), two sizes (two modules)
DEPTH_IDS = ["1layer", "2layers", "sizes6-4"]
BATCH, STEPS, FEATURES = 4, 7, 5
LENGTHS = torch.tensor([7, 3, 1, 5])  # unsorted, includes the extremes 1 and T


def make_encoder(
    cell: str, nonlinearity: str, depth: int | list[int], bidirectional: bool, **kwargs
) -> RNNEncoder:
    torch.manual_seed(0)
    hidden, layers = (depth, 1) if isinstance(depth, list) else (6, depth)
    encoder = RNNEncoder(
        FEATURES,
        hidden,
        cell,
        num_layers=layers,
        bidirectional=bidirectional,
        nonlinearity=nonlinearity,
        **kwargs,
    )
    return encoder.eval()


def per_layer(encoder: RNNEncoder, states) -> list[tuple[Tensor, Tensor | None]]:
    """States in any of the encoder's forms as a list of (h, c) per layer, each dirs x B x H."""
    lstm = encoder.cell == "lstm"
    if isinstance(states, list):
        return [(s[0], s[1]) if lstm else (s, None) for s in states]
    h, c = states if lstm else (states, None)
    hs = h.chunk(encoder.num_layers)
    return list(zip(hs, c.chunk(encoder.num_layers) if lstm else [None] * len(hs), strict=True))


def random_states(encoder: RNNEncoder, batch: int, scale: float = 0.5):
    """Random initial states in the encoder's own form."""
    dirs = encoder.num_directions
    layers = [
        (
            scale * torch.randn(dirs, batch, size),
            scale * torch.randn(dirs, batch, size) if encoder.cell == "lstm" else None,
        )
        for size in encoder.layer_sizes
    ]
    if len(set(encoder.layer_sizes)) > 1:
        return [(h, c) if c is not None else h for h, c in layers]
    h = torch.cat([h for h, _ in layers])
    return (h, torch.cat([c for _, c in layers])) if encoder.cell == "lstm" else h


def reference(encoder: RNNEncoder, inputs: Tensor, lengths: Tensor, initial_state) -> EncoderOutput:
    """The reference cells run row by row on each unpadded sequence, with the encoder's weights."""
    dirs = encoder.num_directions
    weights = [
        [encoder.cell_weights(layer, d == 1) for d in range(dirs)] for layer in range(encoder.num_layers)
    ]
    start = per_layer(encoder, initial_state)
    sequence = torch.zeros(inputs.size(0), inputs.size(1), encoder.output_size)
    final_h, final_c = [], []
    for row, length in enumerate(lengths.tolist()):
        h0 = [[h[d, row] for d in range(dirs)] for h, _ in start]
        c0 = [[c[d, row] for d in range(dirs)] for _, c in start] if encoder.cell == "lstm" else None
        out, h, c = reference_cells.run_stack(
            encoder.cell, inputs[row, :length], weights, h0, c0, encoder.nonlinearity
        )
        sequence[row, :length] = out
        final_h.append(h)
        final_c.append(c)
    # rows x layers x dirs -> per layer dirs x B x H
    hs = [torch.stack([torch.stack(h[layer]) for h in final_h], dim=1) for layer in range(encoder.num_layers)]
    last = torch.cat(list(hs[-1]), dim=-1)
    if encoder.cell != "lstm":
        return EncoderOutput(sequence, last, [(h, None) for h in hs])
    cs = [torch.stack([torch.stack(c[layer]) for c in final_c], dim=1) for layer in range(encoder.num_layers)]
    return EncoderOutput(sequence, last, list(zip(hs, cs, strict=True)))


def assert_same_states(encoder: RNNEncoder, got, expected: list, atol: float = 1e-5) -> None:
    for (h, c), (h_ref, c_ref) in zip(per_layer(encoder, got), expected, strict=True):
        torch.testing.assert_close(h, h_ref, atol=atol, rtol=0)
        if c_ref is not None:
            torch.testing.assert_close(c, c_ref, atol=atol, rtol=0)


# --- shapes, layouts, Keras numbers ---------------------------------------------------------------


@pytest.mark.parametrize("depth", DEPTHS, ids=DEPTH_IDS)
@pytest.mark.parametrize("bidirectional", [False, True], ids=["uni", "bi"])
@pytest.mark.parametrize(("cell", "nonlinearity"), CELLS, ids=CELL_IDS)
def test_output_shapes(cell: str, nonlinearity: str, bidirectional: bool, depth) -> None:
    encoder = make_encoder(cell, nonlinearity, depth, bidirectional)
    dirs, final = (2 if bidirectional else 1), encoder.layer_sizes[-1]
    out = encoder(torch.randn(BATCH, STEPS, FEATURES), LENGTHS)
    assert encoder.output_size == final * dirs
    assert out.sequence.shape == (BATCH, STEPS, final * dirs)
    assert out.last.shape == (BATCH, final * dirs)
    padding = torch.arange(STEPS) >= LENGTHS.unsqueeze(1)  # B x T
    assert out.sequence[padding].abs().max() == 0
    for (h, c), size in zip(per_layer(encoder, out.states), encoder.layer_sizes, strict=True):
        assert h.shape == (dirs, BATCH, size)
        assert (c is not None) == (cell == "lstm")
    if isinstance(depth, int):  # PyTorch's own layout when all layers share a size
        h = out.states[0] if cell == "lstm" else out.states
        assert h.shape == (encoder.num_layers * dirs, BATCH, final)
    else:
        assert isinstance(out.states, list) and len(out.states) == len(depth)


@pytest.mark.parametrize(
    ("layer", "gates", "keras_count"),
    [
        (SimpleRNN(64, input_size=100), 1, 100 * 64 + 64 * 64 + 64),
        (LSTM(64, input_size=100), 4, 4 * (100 * 64 + 64 * 64 + 64)),
        (GRU(64, input_size=100), 3, 3 * (100 * 64 + 64 * 64 + 2 * 64)),  # reset_after=True: two biases
    ],
    ids=["SimpleRNN", "LSTM", "GRU"],
)
def test_parameter_counts_against_keras(layer, gates: int, keras_count: int) -> None:
    weights = layer.encoder.cell_weights(0)
    # Keras' kernel is D x gates*H (100 x 64 for SimpleRNN(64), 100 x 256 for LSTM(64)): our transpose.
    assert weights.weight_ih.T.shape == (100, gates * 64)
    assert weights.weight_hh.T.shape == (64, gates * 64)
    count = sum(p.numel() for p in layer.parameters())
    assert count == gates * (100 * 64 + 64 * 64 + 64 + 64)  # PyTorch: b_ih and b_hh
    # SimpleRNN and LSTM keep one bias in Keras, so PyTorch has gates*H more (redundant) parameters.
    assert count - keras_count == (0 if isinstance(layer, GRU) else gates * 64)


def test_cell_weights_are_the_parameters() -> None:
    encoder = make_encoder("lstm", "tanh", [6, 4], bidirectional=True)
    assert encoder.cell_weights(1, reverse=True).weight_hh is encoder.rnns[1].weight_hh_l0_reverse
    assert encoder.cell_weights(0).weight_ih.shape == (4 * 6, FEATURES)
    with pytest.raises(ValueError, match="no layer 2"):
        encoder.cell_weights(2)


def test_keras_bidirectional_simple_rnn_shape() -> None:
    layer = Bidirectional(SimpleRNN(64, return_sequences=True))
    assert layer(torch.randn(1, 5, 100)).shape == (1, 5, 128)  # input size learned on the first call
    assert layer.encoder.input_size == 100


def test_keras_hello_example() -> None:
    """Three one-hot sequences over 'helo' through SimpleRNN(2, return_sequences, return_state)."""
    alphabet = "helo"
    words = ["hello", "eolll", "lleel"]
    ids = torch.tensor([[alphabet.index(ch) for ch in word] for word in words])  # 3 x 5
    x = torch.nn.functional.one_hot(ids, len(alphabet)).float()  # 3 x 5 x 4
    torch.manual_seed(0)
    outputs, state = SimpleRNN(2, return_sequences=True, return_state=True)(x)
    assert outputs.shape == (3, 5, 2)
    assert state.shape == (3, 2)
    torch.testing.assert_close(outputs[:, -1], state)


def test_keras_facade_states_and_merge_modes() -> None:
    x = torch.randn(3, 6, 4)
    output, h, c = LSTM(5, return_state=True)(x)
    assert output.shape == h.shape == c.shape == (3, 5)
    torch.testing.assert_close(output, h)
    output, *states = Bidirectional(LSTM(5, return_sequences=True, return_state=True))(x)
    assert output.shape == (3, 6, 10) and len(states) == 4  # h_fw, c_fw, h_bw, c_bw
    torch.testing.assert_close(output[:, -1, :5], states[0])
    torch.testing.assert_close(output[:, 0, 5:], states[2])  # backward reads the first token last
    for mode, size in [("sum", 5), ("mul", 5), ("ave", 5), ("concat", 10)]:
        assert Bidirectional(GRU(5), merge_mode=mode)(x).shape == (3, size)
    with pytest.raises(ValueError, match="merge_mode"):
        Bidirectional(GRU(5), merge_mode=None)
    with pytest.raises(ValueError, match="wraps"):
        Bidirectional(torch.nn.LSTM(4, 5))


def test_keras_facade_mask_and_initial_state() -> None:
    torch.manual_seed(0)
    layer = GRU(3, return_sequences=True, input_size=4)
    x, h0 = torch.randn(2, 5, 4), torch.randn(2, 3)
    mask = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]]).bool()
    expected = layer.encoder(x, lengths=torch.tensor([3, 5]), initial_state=h0[None]).sequence
    torch.testing.assert_close(layer(x, mask=mask, initial_state=[h0]), expected)
    with pytest.raises(ValueError, match="1 state"):
        layer(x, initial_state=[h0, h0])


# --- numerics against the reference cells ---------------------------------------------------------


@pytest.mark.parametrize("length_mode", ["packed", "masked"])
@pytest.mark.parametrize("depth", DEPTHS, ids=DEPTH_IDS)
@pytest.mark.parametrize("bidirectional", [False, True], ids=["uni", "bi"])
@pytest.mark.parametrize(("cell", "nonlinearity"), CELLS, ids=CELL_IDS)
def test_matches_reference_cells(
    cell: str, nonlinearity: str, bidirectional: bool, depth, length_mode: str
) -> None:
    encoder = make_encoder(cell, nonlinearity, depth, bidirectional, length_mode=length_mode)
    inputs = torch.randn(BATCH, STEPS, FEATURES)
    initial_state = random_states(encoder, BATCH)
    with torch.no_grad():
        out = encoder(inputs, LENGTHS, initial_state)
        expected = reference(encoder, inputs, LENGTHS, initial_state)
    torch.testing.assert_close(out.sequence, expected.sequence, atol=1e-5, rtol=0)
    torch.testing.assert_close(out.last, expected.last, atol=1e-5, rtol=0)
    assert_same_states(encoder, out.states, expected.states)


@pytest.mark.parametrize("length_mode", ["packed", "masked"])
@pytest.mark.parametrize("bidirectional", [False, True], ids=["uni", "bi"])
@pytest.mark.parametrize(("cell", "nonlinearity"), CELLS, ids=CELL_IDS)
def test_padding_does_not_change_results(
    cell: str, nonlinearity: str, bidirectional: bool, length_mode: str
) -> None:
    encoder = make_encoder(cell, nonlinearity, 2, bidirectional, length_mode=length_mode)
    sentence = torch.randn(1, 4, FEATURES)
    batch = torch.randn(3, 9, FEATURES) * 3  # padding holds garbage, not zeros
    batch[1, :4] = sentence[0]
    lengths = torch.tensor([6, 4, 2])  # padded to 9, beyond the longest row
    with torch.no_grad():
        alone, padded = encoder(sentence), encoder(batch, lengths)
    torch.testing.assert_close(padded.sequence[1:2, :4], alone.sequence, atol=1e-5, rtol=0)
    torch.testing.assert_close(padded.last[1:2], alone.last, atol=1e-5, rtol=0)
    layers = zip(per_layer(encoder, padded.states), per_layer(encoder, alone.states), strict=True)
    for (h, c), (h_alone, c_alone) in layers:
        torch.testing.assert_close(h[:, 1:2], h_alone, atol=1e-5, rtol=0)
        if c is not None:
            torch.testing.assert_close(c[:, 1:2], c_alone, atol=1e-5, rtol=0)


@pytest.mark.parametrize("depth", DEPTHS, ids=DEPTH_IDS)
@pytest.mark.parametrize("bidirectional", [False, True], ids=["uni", "bi"])
@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_packed_and_masked_agree_with_gradients(cell: str, bidirectional: bool, depth) -> None:
    encoder = make_encoder(cell, "tanh", depth, bidirectional)
    inputs = torch.randn(BATCH, STEPS, FEATURES)
    initial_state = random_states(encoder, BATCH)
    results = {}
    for mode in ["packed", "masked"]:
        encoder.zero_grad()
        encoder.length_mode = mode
        x = inputs.clone().requires_grad_()
        out = encoder(x, LENGTHS, initial_state)
        states = [part for h, c in per_layer(encoder, out.states) for part in (h, c) if part is not None]
        loss = (out.sequence**2).sum() + out.last.sum() + sum((s * s.detach()).sum() for s in states)
        loss.backward()
        results[mode] = [out.sequence, out.last, *states, x.grad] + [p.grad for p in encoder.parameters()]
    for packed, masked in zip(results["packed"], results["masked"], strict=True):
        torch.testing.assert_close(masked, packed, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("length_mode", ["packed", "masked"])
@pytest.mark.parametrize("depth", DEPTHS, ids=DEPTH_IDS)
@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_without_final_states_sequence_last_and_gradients_are_unchanged(
    cell: str, depth, length_mode: str
) -> None:
    encoder = make_encoder(cell, "tanh", depth, True, length_mode=length_mode)
    inputs = torch.randn(BATCH, STEPS, FEATURES)
    initial_state = random_states(encoder, BATCH)
    results = {}
    for final_states in (True, False):
        encoder.zero_grad()
        x = inputs.clone().requires_grad_()
        out = encoder(x, LENGTHS, initial_state, final_states=final_states)
        assert (out.states is None) == (not final_states)
        ((out.sequence**2).sum() + out.last.sum()).backward()
        results[final_states] = [out.sequence, out.last, x.grad] + [p.grad for p in encoder.parameters()]
    for full, lean in zip(results[True], results[False], strict=True):
        torch.testing.assert_close(lean, full, atol=1e-6, rtol=1e-6)


# --- lengths, masks, states, dropout, gradients ----------------------------------------------------


def test_mask_zero_from_token_ids() -> None:
    ids = torch.tensor([[5, 2, 9, 0, 0], [7, 1, 1, 1, 3], [4, 0, 0, 0, 0]])
    assert lengths_from_ids(ids).tolist() == [3, 5, 1]
    assert lengths_from_ids(ids + 1, pad_id=1).tolist() == [3, 5, 1]
    embedding = torch.nn.Embedding(10, FEATURES, padding_idx=0)
    encoder = make_encoder("lstm", "tanh", 1, bidirectional=True)
    with torch.no_grad():
        x = embedding(ids)
        by_mask, by_lengths = encoder(x, mask=ids != 0), encoder(x, lengths_from_ids(ids))
    torch.testing.assert_close(by_mask.sequence, by_lengths.sequence)
    torch.testing.assert_close(by_mask.last, by_lengths.last)
    with pytest.raises(ValueError, match="prefix"):
        lengths_from_ids(torch.tensor([[3, 0, 4]]))  # a zero inside the sentence
    with pytest.raises(ValueError, match="integer token ids"):
        lengths_from_ids(x)
    with pytest.raises(ValueError, match="B x T"):
        lengths_from_mask(torch.ones(3, dtype=torch.bool))


@pytest.mark.parametrize("depth", DEPTHS, ids=DEPTH_IDS)
@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_final_states_continue_a_sequence(cell: str, depth) -> None:
    """Encoding in two halves, the second starting from the first's states, equals one pass."""
    encoder = make_encoder(cell, "tanh", depth, bidirectional=False)
    inputs = torch.randn(BATCH, STEPS, FEATURES)
    with torch.no_grad():
        whole = encoder(inputs)
        first = encoder(inputs[:, :3])
        second = encoder(inputs[:, 3:], initial_state=first.states)
    torch.testing.assert_close(torch.cat([first.sequence, second.sequence], dim=1), whole.sequence)
    assert_same_states(encoder, second.states, per_layer(encoder, whole.states))


@pytest.mark.parametrize("length_mode", ["packed", "masked"])
@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_initial_state_is_used(cell: str, length_mode: str) -> None:
    encoder = make_encoder(cell, "tanh", 2, bidirectional=True, length_mode=length_mode)
    inputs = torch.randn(BATCH, STEPS, FEATURES)
    with torch.no_grad():
        zeros = encoder(inputs, LENGTHS)
        given = encoder(inputs, LENGTHS, random_states(encoder, BATCH, scale=1.0))
    assert not torch.allclose(zeros.sequence, given.sequence)
    assert not torch.allclose(zeros.last, given.last)


def test_dropout_only_in_training() -> None:
    encoder = make_encoder("gru", "tanh", [6, 6, 4], bidirectional=True, dropout=0.5, output_dropout=0.5)
    inputs = torch.randn(BATCH, STEPS, FEATURES)
    for mode in ["packed", "masked"]:
        encoder.length_mode = mode
        encoder.eval()
        torch.testing.assert_close(encoder(inputs, LENGTHS).sequence, encoder(inputs, LENGTHS).sequence)
        encoder.train()
        first, second = encoder(inputs, LENGTHS), encoder(inputs, LENGTHS)
        assert not torch.allclose(first.sequence, second.sequence)
        # dropout between layers reaches the later layers' states
        assert not torch.allclose(
            per_layer(encoder, first.states)[-1][0], per_layer(encoder, second.states)[-1][0]
        )
        padding = torch.arange(STEPS) >= LENGTHS.unsqueeze(1)
        assert first.sequence[padding].abs().max() == 0


@pytest.mark.parametrize("length_mode", ["packed", "masked"])
@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_gradients_reach_every_parameter_and_skip_padding(cell: str, length_mode: str) -> None:
    encoder = make_encoder(cell, "tanh", [6, 4], bidirectional=True, length_mode=length_mode).train()
    inputs = torch.randn(BATCH, STEPS, FEATURES, requires_grad=True)
    out = encoder(inputs, LENGTHS)
    (out.sequence.sum() + out.last.sum()).backward()
    for name, parameter in encoder.named_parameters():
        assert parameter.grad is not None and parameter.grad.abs().sum() > 0, name
        assert torch.isfinite(parameter.grad).all(), name
    padding = torch.arange(STEPS) >= LENGTHS.unsqueeze(1)
    assert inputs.grad[padding].abs().max() == 0  # padding never influences the results
    assert inputs.grad[~padding].abs().sum(dim=-1).min() > 0


def test_length_mode_auto_is_chosen_per_device_cell_and_fill() -> None:
    encoder = RNNEncoder(FEATURES, 4, "gru")
    assert encoder.length_mode == "auto"
    min_fill = AUTO_MASKED_MIN_FILL["cpu", "gru"]
    assert encoder.resolve_length_mode("cpu", fill=min_fill) == "masked"
    assert encoder.resolve_length_mode("cpu", fill=min_fill - 0.01) == "packed"
    assert encoder.resolve_length_mode("mps", fill=1.0) == "packed"  # unmeasured device types
    assert encoder.resolve_length_mode("cuda", fill=1.0) == "packed"  # cuDNN runs packed batches natively
    lstm = RNNEncoder(FEATURES, 4, "lstm")
    assert lstm.resolve_length_mode("cpu", fill=AUTO_MASKED_MIN_FILL["cpu", "lstm"]) == "masked"
    assert lstm.resolve_length_mode("cpu", fill=0.3) == "packed"
    encoder.length_mode = "masked"
    assert encoder.resolve_length_mode("cpu", fill=0.1) == "masked"
    with pytest.raises(ValueError, match="length_mode"):
        encoder.length_mode = "bucketed"


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU")
@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_packed_and_masked_agree_on_cuda(cell: str) -> None:
    encoder = make_encoder(cell, "tanh", 2, bidirectional=True).cuda()
    inputs = torch.randn(BATCH, STEPS, FEATURES, device="cuda")
    with torch.no_grad():
        packed = encoder(inputs, LENGTHS.cuda())
        encoder.length_mode = "masked"
        masked = encoder(inputs, LENGTHS.cuda())
    torch.testing.assert_close(masked.sequence, packed.sequence, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(masked.states, packed.states, atol=1e-5, rtol=1e-5)


# --- argument checking ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"cell": "elman"}, "cell must be one of"),
        ({"cell": "lstm", "nonlinearity": "relu"}, "nonlinearity applies to cell='rnn' only"),
        ({"cell": "rnn", "nonlinearity": "sigmoid"}, "nonlinearity must be one of"),
        ({"hidden_size": 0}, "hidden_size must be a positive integer"),
        ({"hidden_size": []}, "non-empty list"),
        ({"hidden_size": [8, 0]}, "each hidden_size"),
        ({"hidden_size": [8, 4], "num_layers": 3}, "lists 2 layers but num_layers is 3"),
        ({"num_layers": 0}, "num_layers must be a positive integer"),
        ({"input_size": 0}, "input_size must be a positive integer"),
        ({"dropout": 1.0}, r"dropout must be in \[0, 1\)"),
        ({"output_dropout": -0.1}, r"output_dropout must be in \[0, 1\)"),
        ({"length_mode": "pad"}, "length_mode must be one of"),
    ],
)
def test_bad_arguments_are_refused(kwargs: dict, message: str) -> None:
    settings = {"input_size": FEATURES, "hidden_size": 4} | kwargs
    with pytest.raises(ValueError, match=message):
        RNNEncoder(**settings)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda e: e(torch.randn(BATCH, FEATURES)), "B x T x D float"),
        (lambda e: e(torch.ones(BATCH, STEPS, FEATURES, dtype=torch.long)), "B x T x D float"),
        (lambda e: e(torch.randn(BATCH, STEPS, 3)), "expects 5"),
        (lambda e: e(torch.randn(BATCH, STEPS, FEATURES), torch.tensor([7, 0, 1, 1])), r"lie in 1\.\.7"),
        (lambda e: e(torch.randn(BATCH, STEPS, FEATURES), torch.tensor([8, 1, 1, 1])), r"lie in 1\.\.7"),
        (lambda e: e(torch.randn(BATCH, STEPS, FEATURES), torch.tensor([7, 1])), "B = 4 integers"),
        (
            lambda e: e(torch.randn(BATCH, STEPS, FEATURES), LENGTHS, mask=torch.ones(BATCH, STEPS)),
            "not both",
        ),
        (lambda e: e(torch.randn(BATCH, STEPS, FEATURES), mask=torch.ones(BATCH, 3)), "mask must be B x T"),
        (
            lambda e: e(torch.randn(BATCH, STEPS, FEATURES), initial_state=torch.zeros(2, BATCH, 4)),
            r"pair \(h, c\)",
        ),
        (
            lambda e: e(torch.randn(BATCH, STEPS, FEATURES), initial_state=(torch.zeros(1, BATCH, 4),) * 2),
            r"\(2, 4, 4\)",
        ),
    ],
    ids=[
        "2d",
        "ids",
        "features",
        "zero-length",
        "too-long",
        "lengths-shape",
        "both",
        "mask-shape",
        "form",
        "shape",
    ],
)
def test_bad_inputs_are_refused(call, message: str) -> None:
    encoder = RNNEncoder(FEATURES, 4, "lstm", num_layers=2)
    with pytest.raises(ValueError, match=message):
        call(encoder)


def test_benchmark_script_runs(tmp_path: Path) -> None:
    bench = load_script("bench_packing")
    output = tmp_path / "results.json"
    threads = torch.get_num_threads()
    try:
        bench.main(
            [
                "--devices",
                "cpu",
                "--cells",
                "lstm",
                "--layers",
                "1",
                "--batch-size",
                "4",
                "--emb",
                "8",
                "--hidden",
                "8",
                "--repeats",
                "1",
                "--warmup",
                "0",
                "--corpora",
                str(tmp_path),
                "--output",
                str(output),
            ]
        )
    finally:
        torch.set_num_threads(threads)
    rows = json.loads(output.read_text())["results"]
    assert [(row["batching"], row["cell"]) for row in rows] == [("random", "lstm"), ("bucketed", "lstm")]
    assert all(row["packed_ms"] > 0 and row["masked_ms"] > 0 for row in rows)
