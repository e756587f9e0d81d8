"""Forecasting as a task: transform a series, cut it into windows, train an ensemble of RNN
forecasters with the shared Trainer, forecast from any origin, save and load a model folder.

Every feature is differenced alike (so all columns lose the same first rows) and scaled with
statistics of the training span; the value transform (log/sqrt) applies to the target only,
since other columns may hold zeros or negatives.

Multi-step forecasts run in blocks of the model's output steps: a direct model with ``horizon``
outputs forecasts up to ``horizon`` rows in one pass; further rows (and every row of a
``recursive`` model, which has one output) come from feeding the forecasts back as inputs, which
needs a univariate model (the target is its only input).

A model folder (:meth:`ForecastingPredictor.save`)::

    config.json         task, settings, architecture, fitted transforms, how to read a series
    model.safetensors   the ensemble's weights
    metrics.json        test and validation errors of the run that trained it
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pydantic
import torch
from torch import Tensor

from nlp_rnn import __version__
from nlp_rnn.config import Schema
from nlp_rnn.errors import InputError, NlpRnnError
from nlp_rnn.models.forecaster import ForecasterConfig, ForecasterEnsemble
from nlp_rnn.series import calendar
from nlp_rnn.series.io import TimeSeries
from nlp_rnn.series.transforms import Scaling, SeriesTransform, ValueTransform
from nlp_rnn.series.windows import WindowGenerator
from nlp_rnn.tasks import (
    MODEL_CONFIG_FILE,
    WEIGHTS_FILE,
    config_fields,
    load_weights_file,
    read_task_config,
    require_files,
    save_weights,
    write_json,
)

TASK = "forecasting"
FORMAT_VERSION = 1


class WindowSettings(Schema):
    """What the model sees and forecasts (the window part of a train_forecaster stage)."""

    target: str | None = pydantic.Field(None, description="the column to forecast (null: the first column)")
    features: list[str] | None = pydantic.Field(
        None, description="input columns (null: the target alone); the target is added if missing"
    )
    window: int = pydantic.Field(12, ge=1, description="rows per input window (Keras' length)")
    sampling_rate: int = pydantic.Field(1, ge=1, description="keep every n-th row of a window")
    stride: int = pydantic.Field(1, ge=1, description="training windows start every n-th row")
    horizon: int = pydantic.Field(1, ge=1, description="rows forecast from each origin")
    strategy: Literal["direct", "recursive"] = pydantic.Field(
        "direct", description="direct: one output per forecast row; recursive: one output, fed back"
    )
    transform: ValueTransform = pydantic.Field("none", description="value transform of the target")
    differences: Literal["auto"] | int = pydantic.Field(
        "auto", description="first differences (auto: the fewest that ADF and KPSS call stationary)"
    )
    seasonal_differences: int = pydantic.Field(0, ge=0, le=2, description="seasonal differences")
    season: Literal["auto"] | int = pydantic.Field(
        "auto", description="rows per season (auto: 12 for monthly data, 4 quarterly, ..., 1 yearly)"
    )
    scaling: Scaling = pydantic.Field("standard", description="scaling of the differenced values")
    fourier_terms: int = pydantic.Field(
        0, ge=0, description="sine/cosine pairs of each row's place in the season added to its inputs"
    )

    @pydantic.field_validator("differences", "season")
    @classmethod
    def _non_negative(cls, value: str | int) -> str | int:
        if isinstance(value, int) and value < 0:
            raise ValueError("must be auto or a number of 0 or more")
        return value


@dataclass(frozen=True)
class ModelInputs:
    """The resolved choices of a trained model: columns, orders, and the fitted transforms."""

    target: str
    features: list[str]  # the target first
    window: int
    sampling_rate: int
    outputs: int  # forecast rows per pass (1 for recursive)
    transforms: dict[str, SeriesTransform]
    season: int = 1
    fourier_terms: int = 0  # season feature pairs (nlp_rnn.series.calendar)
    frequency: str | None = None  # the training series' frequency, which season features count in

    @property
    def lag(self) -> int:
        return self.transforms[self.target].lag

    @property
    def univariate(self) -> bool:
        """The target is the only column read from the series (season features are computed)."""
        return self.features == [self.target]

    @property
    def input_size(self) -> int:
        """Columns of a window row: the features, then the season features."""
        return len(self.features) + calendar.fourier_width(self.season, self.fourier_terms)

    def first_place(self, series: TimeSeries) -> int:
        """The first row's place in the season (0 without season features); later rows follow it."""
        if not self.fourier_terms:
            return 0
        if series.freq != self.frequency:
            raise NlpRnnError(
                f"{series.source}: the model's season features count rows of frequency "
                f"{self.frequency}; this series has {series.freq}"
            )
        return calendar.first_place(series, self.season)

    def season_features(self, first_place: int, rows: np.ndarray) -> np.ndarray:
        """(``*rows.shape``, season feature columns) for row numbers ``rows`` of a series whose
        first row has place ``first_place`` (rows past its end too: the grid is regular)."""
        places = np.mod(first_place + rows, self.season)
        return calendar.fourier_features(places, self.season, self.fourier_terms)

    def transformed(self, series: TimeSeries) -> np.ndarray:
        """(n, input_size) model-scale values, NaN in the feature columns' first ``lag`` rows."""
        values = np.stack(
            [
                self.transforms[name].forward(series.column(name), f"column {name!r}")
                for name in self.features
            ],
            axis=1,
        )
        if not self.fourier_terms:
            return values
        season = self.season_features(self.first_place(series), np.arange(len(series)))
        return np.concatenate([values, season], axis=1)

    def to_dict(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "features": self.features,
            "window": self.window,
            "sampling_rate": self.sampling_rate,
            "outputs": self.outputs,
            "transforms": {name: t.to_dict() for name, t in self.transforms.items()},
            "season": self.season,
            "fourier_terms": self.fourier_terms,
            "frequency": self.frequency,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ModelInputs:
        return cls(
            target=str(data["target"]),
            features=[str(name) for name in data["features"]],
            window=int(data["window"]),
            sampling_rate=int(data["sampling_rate"]),
            outputs=int(data["outputs"]),
            transforms={name: SeriesTransform.from_dict(t) for name, t in data["transforms"].items()},
            season=int(data.get("season", 1)),  # model folders written before season features
            fourier_terms=int(data.get("fourier_terms", 0)),
            frequency=data.get("frequency"),
        )


class WindowDataset(Sequence):
    """The windows of a generator as Trainer examples: ``(inputs L x F, targets H)``."""

    def __init__(self, generator: WindowGenerator) -> None:
        inputs, targets = generator.all()  # N x L x F, N (x H)
        self.inputs = torch.as_tensor(inputs, dtype=torch.float32)
        self.targets = torch.as_tensor(targets, dtype=torch.float32).reshape(len(inputs), -1)
        if torch.isnan(self.inputs).any() or torch.isnan(self.targets).any():
            raise NlpRnnError("a window reaches into the rows lost to differencing")  # a caller's bug
        self.lengths = [self.inputs.shape[1]] * len(self.inputs)

    def __len__(self) -> int:
        return len(self.inputs)

    def __getitem__(self, index: int) -> tuple[Tensor, Tensor]:
        return self.inputs[index], self.targets[index]


def collate(examples: list[tuple[Tensor, Tensor]]) -> dict[str, Tensor]:
    inputs, targets = zip(*examples, strict=True)
    return {"inputs": torch.stack(inputs), "targets": torch.stack(targets)}  # B x L x F, B x H


class ForecastingPredictor:
    """A trained ensemble with its inputs; forecasts on the original scale of the target."""

    task = TASK

    def __init__(
        self,
        model: ForecasterEnsemble,
        inputs: ModelInputs,
        architecture: ForecasterConfig,
        reading: Mapping[str, Any] | None = None,
    ) -> None:
        self.model, self.inputs, self.architecture = model, inputs, architecture
        self.reading = dict(reading or {})  # load_series options of the training series

    def forecast_rows(self, series: TimeSeries, origins: np.ndarray, horizon: int) -> np.ndarray:
        """(N, H) forecasts of rows ``o ... o + H - 1`` for each origin ``o``, from the rows before it."""
        inputs = self.inputs
        origins = np.asarray(origins, dtype=np.int64)
        span = inputs.lag + inputs.window
        if origins.min() < span:
            raise NlpRnnError(
                f"a forecast needs {span} earlier rows ({inputs.lag} lost to differencing and a window "
                f"of {inputs.window}); the first origin has {int(origins.min())}"
            )
        if horizon > inputs.outputs and not inputs.univariate:
            raise NlpRnnError(
                f"this model forecasts {inputs.outputs} row(s) per pass from {len(inputs.features)} "
                f"columns; more rows would need the other columns' future values"
            )
        z = inputs.transformed(series)  # n x C (the target, other features, season features)
        first_place = inputs.first_place(series)
        rows = origins[:, None] + np.arange(-inputs.window, 0)[None, :]
        recent = torch.as_tensor(z[rows], dtype=torch.float32)  # N x window x C, every row
        forecasts = []  # blocks of N x outputs, model scale
        done = 0
        while done < horizon:
            block = self.model.predict(recent[:, :: inputs.sampling_rate])  # N x outputs
            if done + block.shape[1] < horizon:  # univariate: slide the window over the forecasts
                future = origins[:, None] + done + np.arange(block.shape[1])[None, :]  # N x outputs
                season = inputs.season_features(first_place, future)  # N x outputs x (C - 1)
                new_rows = torch.cat([block.unsqueeze(-1), torch.as_tensor(season, dtype=torch.float32)], -1)
                recent = torch.cat([recent, new_rows], dim=1)[:, -inputs.window :]
            forecasts.append(block)
            done += block.shape[1]
        predicted = torch.cat(forecasts, dim=1)[:, :horizon].numpy().astype(np.float64)  # N x H
        target = series.column(inputs.target)
        lag = inputs.lag
        history = (
            target[origins[:, None] + np.arange(-lag, 0)[None, :]] if lag else np.empty((len(origins), 0))
        )
        return inputs.transforms[inputs.target].invert(predicted, history)

    def forecast(self, series: TimeSeries, horizon: int) -> tuple[list[str], np.ndarray]:
        """The ``horizon`` rows after the end of ``series``: their time stamps and forecasts."""
        if horizon < 1:
            raise NlpRnnError(f"the horizon must be 1 or more, got {horizon}")
        for name in self.inputs.features:
            series.column(name)  # a missing column is a clear error
        needed = self.inputs.lag + self.inputs.window
        if len(series) < needed:
            raise InputError(
                f"{len(series)} rows: the model needs the last {needed} rows ({self.inputs.lag} lost "
                f"to differencing and a window of {self.inputs.window})",
                series.source,
            )
        values = self.forecast_rows(series, np.array([len(series)]), horizon)[0]
        return series.future_times(horizon), values

    def forecast_csv(
        self,
        path: str | os.PathLike[str],
        horizon: int,
        column: str | None = None,
        time_column: str | None = None,
    ) -> tuple[str, list[tuple[str, float]]]:
        """The target's name and ``(time, forecast)`` rows of the ``horizon`` rows after the CSV
        series ``path``, read like the training series (its time column, resampling and
        missing-value policy) unless ``time_column`` says otherwise; ``column`` names the CSV's
        column that holds the target of a one-column model when it is called differently there."""
        from nlp_rnn.series.io import load_series

        inputs, reading = self.inputs, self.reading
        if column is not None and not inputs.univariate:
            raise NlpRnnError(
                "--column renames the target of a one-column model; this model reads "
                + ", ".join(inputs.features)
            )
        series = load_series(
            path,
            columns=[column] if column is not None else list(inputs.features),
            time_column=time_column if time_column is not None else reading.get("time_column"),
            resample=reading.get("resample"),
            aggregate=reading.get("aggregate", "mean"),
            missing=reading.get("missing", "interpolate"),
        )
        if column is not None:
            series.frame.columns = [inputs.target]
        times, values = self.forecast(series, horizon)
        return inputs.target, list(zip(times, (float(v) for v in values), strict=True))

    # --- saving -------------------------------------------------------------------------------

    def config(self) -> dict[str, Any]:
        return {
            "task": TASK,
            "format_version": FORMAT_VERSION,
            "nlp_rnn_version": __version__,
            "model": self.architecture.model_dump(),
            "members": len(self.model.members),
            "inputs": self.inputs.to_dict(),
            "reading": self.reading,
        }

    def save(self, folder: str | Path, metrics: Mapping[str, float] | None = None) -> Path:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        write_json(folder / MODEL_CONFIG_FILE, self.config())
        save_weights(self.model, folder, metrics)
        return folder

    @classmethod
    def load(cls, folder: str | Path) -> ForecastingPredictor:
        folder = Path(folder)
        config = read_task_config(folder, TASK, FORMAT_VERSION)
        with config_fields(folder, "forecaster"):
            architecture = ForecasterConfig.model_validate(config["model"])
            inputs = ModelInputs.from_dict(config["inputs"])
            members = int(config["members"])
            reading = dict(config.get("reading") or {})
        require_files(folder, WEIGHTS_FILE)
        model = ForecasterEnsemble.build(architecture, inputs.input_size, inputs.outputs, members)
        load_weights_file(model, folder / WEIGHTS_FILE)
        model.eval()
        return cls(model, inputs, architecture, reading)
