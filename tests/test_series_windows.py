"""Windows: Keras' TimeseriesGenerator semantics, horizons and offsets, leak-free spans."""

from __future__ import annotations

import numpy as np
import pytest

from nlp_rnn.errors import NlpRnnError
from nlp_rnn.series.windows import WindowGenerator, span_generator, split_spans


def test_the_keras_documentation_example() -> None:
    # keras.preprocessing.sequence.TimeseriesGenerator's docstring example, batch for batch
    data = np.array([[i] for i in range(50)])
    targets = np.array([[i] for i in range(50)])
    generator = WindowGenerator(data, targets, length=10, sampling_rate=2, batch_size=2)
    assert len(generator) == 20
    x, y = generator[0]
    np.testing.assert_array_equal(x, [[[0], [2], [4], [6], [8]], [[1], [3], [5], [7], [9]]])
    np.testing.assert_array_equal(y, [[10], [11]])
    x, y = generator[19]  # the last batch: window ends 48 and 49
    np.testing.assert_array_equal(y, [[48], [49]])


@pytest.mark.parametrize(("start", "end", "stride", "batch"), [(0, None, 1, 3), (2, 30, 3, 4), (5, 41, 2, 1)])
def test_batches_match_keras_formula(start: int, end: int | None, stride: int, batch: int) -> None:
    data = np.arange(45.0)[:, None]
    generator = WindowGenerator(
        data, data[:, 0], 4, stride=stride, start_index=start, end_index=end, batch_size=batch
    )
    last = 44 if end is None else end
    first = start + 4
    keras_len = (last - first + batch * stride) // (batch * stride)  # Keras' __len__
    assert len(generator) == keras_len
    ends = np.concatenate([generator[i][1] for i in range(len(generator))])
    np.testing.assert_array_equal(ends, np.arange(first, last + 1, stride))


def test_horizon_offset_and_reverse() -> None:
    data = np.arange(20.0)[:, None]
    generator = WindowGenerator(data, data[:, 0], 3, target_offset=1, horizon=2, reverse=True)
    x, y = generator.all()
    np.testing.assert_array_equal(x[0, :, 0], [2, 1, 0])  # reversed in time
    np.testing.assert_array_equal(y[0], [4, 5])  # skips row 3, then two rows
    assert y[-1, -1] == 19 and generator.windows == 20 - 3 - 1 - 2 + 1


def test_multivariate_inputs_with_a_target_column() -> None:
    data = np.stack([np.arange(10.0), -np.arange(10.0)], axis=1)
    x, y = WindowGenerator(data, data[:, 1], 4).all()
    assert x.shape == (6, 4, 2) and y.shape == (6,)
    np.testing.assert_array_equal(y, -np.arange(4.0, 10.0))


def test_shuffle_is_a_seeded_permutation() -> None:
    data = np.arange(30.0)[:, None]
    a = WindowGenerator(data, data[:, 0], 5, shuffle=True, seed=1)
    b = WindowGenerator(data, data[:, 0], 5, shuffle=True, seed=1)
    np.testing.assert_array_equal(a.rows, b.rows)
    assert sorted(a.rows) == list(range(5, 30)) and list(a.rows) != list(range(5, 30))


def test_spans_do_not_share_targets_and_inputs_only_look_back() -> None:
    rows, length, horizon = 100, 7, 3
    spans = split_spans(rows, 0.1, 0.2)
    assert (spans.train_end, spans.validation_end) == (72, 90)
    data = np.arange(float(rows))[:, None]
    seen: set[int] = set()
    for split in ("train", "validation", "test"):
        first, end = spans.bounds(split)
        generator = span_generator(data, data[:, 0], length, first, end, earliest_input=2, horizon=horizon)
        targets = generator.target_rows()
        assert targets.min() >= first and targets.max() < end
        inputs = generator.input_rows(generator.rows)
        assert inputs.min() >= 2 and (inputs.max(axis=1) < targets.min(axis=1)).all()
        assert not seen & set(targets.ravel().tolist())
        seen |= set(targets.ravel().tolist())


def test_a_span_shorter_than_one_window_has_no_window() -> None:
    data = np.arange(10.0)[:, None]
    assert WindowGenerator(data, data[:, 0], 10).windows == 0
    assert len(WindowGenerator(data, data[:, 0], 10)) == 0


def test_bad_arguments() -> None:
    data = np.zeros((5, 1))
    with pytest.raises(NlpRnnError, match="length must be at least 1"):
        WindowGenerator(data, data, 0)
    with pytest.raises(NlpRnnError, match="must match"):
        WindowGenerator(data, data[:3], 2)
    with pytest.raises(NlpRnnError, match="test_fraction"):
        split_spans(10, 1.0, 0.1)
