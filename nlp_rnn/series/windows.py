"""Windows over a series, with the semantics of Keras' ``TimeseriesGenerator``, and leak-free splits.

A window ending at row ``i`` (exclusive) holds rows ``i - length, i - length + sampling_rate, ...,
i - 1`` of ``data``; its target is row ``i`` of ``targets``. Window ends run from
``start_index + length`` to ``end_index`` (inclusive, default the last row) every ``stride`` rows,
and batches hold ``batch_size`` windows, exactly as in Keras. Two additions for forecasting:
``target_offset`` moves the target ``offset`` rows further (``i + offset``), and ``horizon > 1``
makes each target the ``horizon`` rows ``i + offset ... i + offset + horizon - 1``; ``end_index``
then bounds the last target row. With the defaults (offset 0, horizon 1) every batch equals
Keras' batch for batch.

:func:`split_spans` cuts a series into training, validation and test spans of *target* rows.
A window belongs to the span that holds all of its targets, so no target is ever seen by two
splits; its inputs may reach back into an earlier span, which is history known at forecast time.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nlp_rnn.errors import NlpRnnError


class WindowGenerator:
    """Batches of ``(inputs (B, length/sampling_rate, F), targets (B, ...) or (B, horizon, ...))``."""

    def __init__(
        self,
        data: np.ndarray,
        targets: np.ndarray,
        length: int,
        *,
        sampling_rate: int = 1,
        stride: int = 1,
        start_index: int = 0,
        end_index: int | None = None,
        target_offset: int = 0,
        horizon: int = 1,
        shuffle: bool = False,
        reverse: bool = False,
        batch_size: int = 128,
        seed: int | None = None,
    ) -> None:
        if len(data) != len(targets):
            raise NlpRnnError(f"data has {len(data)} rows and targets {len(targets)}; they must match")
        for name, value in (
            ("length", length),
            ("sampling_rate", sampling_rate),
            ("stride", stride),
            ("horizon", horizon),
            ("batch_size", batch_size),
        ):
            if value < 1:
                raise NlpRnnError(f"{name} must be at least 1, got {value}")
        if target_offset < 0:
            raise NlpRnnError(f"target_offset must be 0 or more, got {target_offset}")
        self.data, self.targets = np.asarray(data), np.asarray(targets)
        self.length, self.sampling_rate, self.horizon = length, sampling_rate, horizon
        self.target_offset, self.batch_size, self.reverse = target_offset, batch_size, reverse
        last_target = len(data) - 1 if end_index is None else min(end_index, len(data) - 1)
        first_end, last_end = start_index + length, last_target - target_offset - horizon + 1
        self.rows = np.arange(first_end, last_end + 1, stride)  # window ends (exclusive)
        if shuffle:
            np.random.default_rng(seed).shuffle(self.rows)

    def __len__(self) -> int:
        """Batches, the last one possibly short."""
        return -(-len(self.rows) // self.batch_size)

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        if not 0 <= index < len(self):
            raise IndexError(f"batch {index} of {len(self)}")
        return self.take(self.rows[index * self.batch_size : (index + 1) * self.batch_size])

    @property
    def windows(self) -> int:
        return len(self.rows)

    def input_rows(self, rows: np.ndarray) -> np.ndarray:
        """(N, steps) row numbers of the inputs of the windows ending at ``rows``."""
        offsets = np.arange(-self.length, 0, self.sampling_rate)
        steps = rows[:, None] + offsets[None, :]
        return steps[:, ::-1] if self.reverse else steps

    def target_rows(self, rows: np.ndarray | None = None) -> np.ndarray:
        """(N, horizon) row numbers of the targets of the windows ending at ``rows`` (default: all)."""
        rows = self.rows if rows is None else rows
        return rows[:, None] + self.target_offset + np.arange(self.horizon)[None, :]

    def take(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The inputs and targets of the windows ending at ``rows`` (one gather each, no loop)."""
        inputs = self.data[self.input_rows(rows)]  # N x steps x F
        targets = self.targets[self.target_rows(rows)]  # N x horizon x ...
        return inputs, targets[:, 0] if self.horizon == 1 else targets

    def all(self) -> tuple[np.ndarray, np.ndarray]:
        """Every window at once."""
        return self.take(self.rows)


@dataclass(frozen=True)
class Spans:
    """Target rows ``[0, train_end)`` train, ``[train_end, validation_end)`` validate, the rest test."""

    rows: int
    train_end: int
    validation_end: int

    def bounds(self, split: str) -> tuple[int, int]:
        """``(first, last + 1)`` target rows of ``split``."""
        return {
            "train": (0, self.train_end),
            "validation": (self.train_end, self.validation_end),
            "test": (self.validation_end, self.rows),
        }[split]


def split_spans(rows: int, test_fraction: float, validation_fraction: float) -> Spans:
    """The last ``test_fraction`` of the rows for test, the last ``validation_fraction`` of the rest
    for validation (each rounded to whole rows, at least one row when the fraction is positive)."""
    for name, value in (("test_fraction", test_fraction), ("validation_fraction", validation_fraction)):
        if not 0 <= value < 1:
            raise NlpRnnError(f"{name} must be in [0, 1), got {value}")
    test = max(1, round(rows * test_fraction)) if test_fraction > 0 else 0
    validation_end = rows - test
    validation = max(1, round(validation_end * validation_fraction)) if validation_fraction > 0 else 0
    return Spans(rows=rows, train_end=validation_end - validation, validation_end=validation_end)


def span_generator(
    data: np.ndarray,
    targets: np.ndarray,
    length: int,
    first_target: int,
    end_target: int,
    *,
    earliest_input: int = 0,
    **options: object,
) -> WindowGenerator:
    """The windows whose targets all lie in rows ``[first_target, end_target)`` and whose inputs
    start at ``earliest_input`` or later (rows before it, such as the first rows lost to
    differencing, are never read)."""
    offset = int(options.get("target_offset", 0))  # type: ignore[call-overload]
    start_index = max(earliest_input, first_target - offset - length)
    return WindowGenerator(
        data, targets, length, start_index=start_index, end_index=end_target - 1, **options
    )
