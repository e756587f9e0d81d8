"""The ``train_forecaster`` stage: make a series stationary, train an ensemble of RNN forecasters
on its windows, and compare it with naive, seasonal naive and ARIMA/SARIMA on the same test rows.

Rows are cut into spans of forecast targets: the last ``test_fraction`` for test, the last
``validation_fraction`` of the rest for validation (early stopping and model choice), the rest for
training. Transforms, the differencing order, ARIMA's order and the RNN are all fitted on the
training span alone; every model then forecasts each later row from the rows before it.

Outputs, in the stage folder::

    report.json      spans, stationarity tests before/after, ARIMA search, every model's errors
    forecasts.csv    time, observed, and each model's forecast of every validation and test row
    forecast.png     the test span: observed values and each model's forecasts
    train/member_<k>/   the Trainer's run of each ensemble member
    model/[<model_folder>/]   the model folder (see nlp_rnn.tasks.forecasting)

Metrics (and ``metrics.json`` of the model folder): ``<model>_rmse``, ``<model>_mae`` and
``<model>_mase`` on the test span for ``rnn``, ``arima``, ``naive`` and ``seasonal_naive`` (with a
season > 1), and the same with a ``val_`` prefix on the validation span.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pydantic

from nlp_rnn.models.forecaster import ForecasterConfig
from nlp_rnn.pipeline import Metrics, Stage, StageConfig, StageContext
from nlp_rnn.tasks.forecasting import WindowSettings
from nlp_rnn.training.config import TrainerConfig

if TYPE_CHECKING:  # heavy modules, imported inside run()
    from nlp_rnn.models.forecaster import ForecasterEnsemble
    from nlp_rnn.series.baselines import ArimaChoice
    from nlp_rnn.series.io import TimeSeries
    from nlp_rnn.series.transforms import SeriesTransform
    from nlp_rnn.series.windows import Spans
    from nlp_rnn.tasks.forecasting import ForecastingPredictor, ModelInputs

REPORT_FILE = "report.json"
FORECASTS_FILE = "forecasts.csv"
PLOT_FILE = "forecast.png"
TRAIN_DIR = "train"


class ForecasterTrainerSettings(TrainerConfig):
    """The Trainer's settings with a forecaster's defaults: select on the validation MSE."""

    lr: float = pydantic.Field(5e-3, gt=0)
    weight_decay: float = pydantic.Field(1e-3, ge=0)
    max_epochs: int | None = pydantic.Field(60, ge=1)
    tensorboard: bool = pydantic.Field(False, description="TensorBoard events for each member")
    log_every: int = pydantic.Field(50, ge=1)
    seed: int | None = pydantic.Field(None, description="member k uses seed + k (null: the pipeline's seed)")


class ArimaSettings(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid")

    enabled: bool = pydantic.Field(True, description="fit the ARIMA/SARIMA baseline")
    max_p: int = pydantic.Field(5, ge=0, description="largest AR order tried")
    max_q: int = pydantic.Field(2, ge=0, description="largest MA order tried")
    max_P: int = pydantic.Field(1, ge=0, description="largest seasonal AR order (season > 1)")
    max_Q: int = pydantic.Field(1, ge=0, description="largest seasonal MA order (season > 1)")
    differences: int | None = pydantic.Field(None, ge=0, le=2, description="d (null: the RNN's)")
    seasonal_differences: int | None = pydantic.Field(None, ge=0, le=2, description="D (null: the RNN's)")


class TrainForecasterConfig(StageConfig, WindowSettings):
    kind: Literal["train_forecaster"] = "train_forecaster"
    input: str = pydantic.Field(description="the series stage to read")
    test_fraction: float = pydantic.Field(0.1, gt=0, lt=1, description="last share of rows for test")
    validation_fraction: float = pydantic.Field(
        0.1, gt=0, lt=1, description="last share of the remaining rows for validation"
    )
    max_differences: int = pydantic.Field(2, ge=0, le=3, description="differences: auto tries up to this")
    alpha: float = pydantic.Field(0.05, gt=0, lt=1, description="significance level of ADF and KPSS")
    model: ForecasterConfig = pydantic.Field(default_factory=ForecasterConfig)
    ensemble: int = pydantic.Field(5, ge=1, description="members trained from seeds seed, seed+1, ...")
    trainer: ForecasterTrainerSettings = pydantic.Field(default_factory=ForecasterTrainerSettings)
    arima: ArimaSettings = pydantic.Field(default_factory=ArimaSettings)
    plot_history: int = pydantic.Field(60, ge=0, description="rows before the test span shown in the plot")
    model_folder: str = pydantic.Field(
        "", description="subfolder of <run-dir>/model/ ('' = the folder itself)"
    )

    @pydantic.model_validator(mode="after")
    def _consistent(self) -> TrainForecasterConfig:
        if Path(self.model_folder).is_absolute() or ".." in Path(self.model_folder).parts:
            raise ValueError("model_folder must be a relative folder name inside <run-dir>/model/")
        if self.strategy == "recursive" and self.features not in (None, [], [self.target]):
            raise ValueError(
                "strategy: recursive feeds forecasts back, so it needs the target as the only feature"
            )
        return self


class TrainForecasterStage(Stage):
    """Trains :class:`~nlp_rnn.models.forecaster.ForecasterEnsemble`; metrics: test/validation errors."""

    kind = "train_forecaster"
    Config = TrainForecasterConfig

    def upstream(self) -> list[str]:
        return [self.config.input]

    def run(self, ctx: StageContext) -> Metrics:
        from nlp_rnn.fileio import read_json
        from nlp_rnn.series.io import load_series
        from nlp_rnn.series.metrics import mase_scale
        from nlp_rnn.series.windows import split_spans
        from nlp_rnn.stages.series import SERIES_FILE, SERIES_INFO, TIME_COLUMN
        from nlp_rnn.tasks.forecasting import ForecastingPredictor

        config = self.config
        seed = config.trainer.seed if config.trainer.seed is not None else ctx.seed
        source_dir = ctx.input_dir(config.input)
        series = load_series(source_dir / SERIES_FILE, time_column=TIME_COLUMN, missing="error")
        info = read_json(source_dir / SERIES_INFO)
        reading = {"source": info["source"], **info["reading"]}
        target = config.target or str(series.frame.columns[0])
        season = series.season() if config.season == "auto" else int(config.season)
        spans = split_spans(len(series), config.test_fraction, config.validation_fraction)
        inputs, stationarity = self._inputs(ctx, series, target, season, spans.train_end)
        started = time.perf_counter()
        ensemble = self._train(ctx, series, inputs, spans, seed)
        train_seconds = time.perf_counter() - started
        predictor = ForecastingPredictor(ensemble, inputs, config.model, reading)

        y = series.column(target)
        scale = mase_scale(y[: spans.train_end], season)
        arima = self._arima(ctx, y, inputs, season, spans.train_end) if config.arima.enabled else None
        evaluations = {
            split: _evaluate_span(
                predictor, series, y, spans.bounds(split), config.horizon, season, scale, arima
            )
            for split in ("validation", "test")
        }
        metrics: Metrics = {}
        for split, prefix in (("test", ""), ("validation", "val_")):
            for model, errors in evaluations[split].errors.items():
                metrics.update({f"{prefix}{model}_{name}": round(value, 6) for name, value in errors.items()})
        ctx.log.info(
            "test errors (%d origins, horizon %d):\n%s",
            len(evaluations["test"].origins),
            config.horizon,
            _table(evaluations["test"].errors),
        )

        folder = ctx.model_dir / config.model_folder if config.model_folder else ctx.model_dir
        predictor.save(folder, metrics={**metrics, "train_seconds": round(train_seconds, 3)})
        self._write_outputs(ctx, series, target, spans, evaluations, stationarity, arima, metrics)
        metrics.update(
            {
                "train_seconds": round(train_seconds, 3),
                "differences": inputs.transforms[target].order,
                "seasonal_differences": inputs.transforms[target].seasonal_order,
                "train_rows": spans.train_end,
                "test_rows": spans.rows - spans.validation_end,
            }
        )
        return metrics

    # --- steps ------------------------------------------------------------------------------------

    def _inputs(
        self, ctx: StageContext, series: TimeSeries, target: str, season: int, train_end: int
    ) -> tuple[ModelInputs, dict[str, Any]]:
        """The fitted transforms (differencing order chosen on the training span) and the
        stationarity reports of the target before and after them."""
        from nlp_rnn.errors import NlpRnnError
        from nlp_rnn.series.calendar import check_fourier_terms
        from nlp_rnn.series.stationarity import choose_order, seasonal_difference, stationarity_report
        from nlp_rnn.series.transforms import SeriesTransform
        from nlp_rnn.tasks.forecasting import ModelInputs

        config = self.config
        features = [target, *[name for name in (config.features or []) if name != target]]
        if config.seasonal_differences and season < 2:
            raise NlpRnnError(
                f"stage {ctx.name!r}: seasonal_differences needs a season of 2 or more rows; "
                f"this series' season is {season} (set season)"
            )
        try:
            check_fourier_terms(season, config.fourier_terms)
        except NlpRnnError as error:
            raise NlpRnnError(f"stage {ctx.name!r}: {error}") from None
        y = series.column(target)
        value = SeriesTransform(value=config.transform)
        training = value.to_value_scale(y[:train_end], f"column {target!r}")
        before = stationarity_report(y[:train_end], config.alpha)
        if config.differences == "auto":
            deseasoned = seasonal_difference(training, season, config.seasonal_differences)
            order, tried = choose_order(deseasoned, config.max_differences, config.alpha)
        else:
            order, tried = int(config.differences), []
        transforms = {
            name: SeriesTransform(
                value=config.transform if name == target else "none",
                order=order,
                seasonal_order=config.seasonal_differences,
                period=season,
                scaling=config.scaling,
            ).fit(series.column(name), train_end, f"column {name!r}")
            for name in features
        }
        transform = transforms[target]
        after = stationarity_report(transform.forward(y)[transform.lag : train_end], config.alpha)
        ctx.log.info(
            "%s over the training span: before the transforms %s; after (%s, d=%d, D=%d, season %d) %s",
            target,
            before.summary(),
            config.transform,
            order,
            config.seasonal_differences,
            season,
            after.summary(),
        )
        inputs = ModelInputs(
            target=target,
            features=features,
            window=config.window,
            sampling_rate=config.sampling_rate,
            outputs=config.horizon if config.strategy == "direct" else 1,
            transforms=transforms,
            season=season,
            fourier_terms=config.fourier_terms,
            frequency=series.freq if config.fourier_terms else None,
        )
        stationarity = {
            "before": before.to_dict(),
            "after": after.to_dict(),
            "differences_tried": [report.to_dict() for report in tried],
            "season": season,
        }
        return inputs, stationarity

    def _train(
        self, ctx: StageContext, series: TimeSeries, inputs: ModelInputs, spans: Spans, seed: int
    ) -> ForecasterEnsemble:
        """Each member trained by the shared Trainer from its own seed; its best weights kept."""
        from nlp_rnn.errors import NlpRnnError
        from nlp_rnn.models.forecaster import ForecasterEnsemble, RNNForecaster
        from nlp_rnn.series.windows import span_generator
        from nlp_rnn.tasks import WEIGHTS_FILE, load_weights_file
        from nlp_rnn.tasks.forecasting import WindowDataset, collate
        from nlp_rnn.training.seeding import seed_everything
        from nlp_rnn.training.trainer import Trainer

        config = self.config
        z = inputs.transformed(series)  # n x F
        options = {"sampling_rate": config.sampling_rate, "horizon": inputs.outputs}
        train = span_generator(
            z,
            z[:, 0],
            config.window,
            0,
            spans.train_end,
            earliest_input=inputs.lag,
            stride=config.stride,
            **options,
        )
        dev = span_generator(
            z,
            z[:, 0],
            config.window,
            spans.train_end,
            spans.validation_end,
            earliest_input=inputs.lag,
            **options,
        )
        for name, generator, rows in (
            ("training", train, spans.train_end),
            ("validation", dev, spans.validation_end - spans.train_end),
        ):
            if generator.windows == 0:
                raise NlpRnnError(
                    f"stage {ctx.name!r}: the {name} span ({rows} rows) holds no window of "
                    f"{config.window} rows + {inputs.outputs} target row(s) after the {inputs.lag} "
                    f"row(s) lost to differencing; use a longer series or a shorter window"
                )
        train_data, dev_data = WindowDataset(train), WindowDataset(dev)
        ctx.log.info(
            "%d training windows, %d validation windows of %d rows x %d column(s)",
            len(train_data),
            len(dev_data),
            config.window,
            inputs.input_size,
        )
        members = []
        for k in range(config.ensemble):
            seed_everything(seed + k)
            member = RNNForecaster(config.model, inputs.input_size, inputs.outputs)
            settings = TrainerConfig(**{**config.trainer.model_dump(), "seed": seed + k})
            result = Trainer(settings, ctx.out_dir / TRAIN_DIR / f"member_{k}").fit(
                member, train_data, dev_data, collate=collate
            )
            assert result.best_dir is not None  # there is always validation data
            load_weights_file(member, result.best_dir / WEIGHTS_FILE)
            members.append(member.cpu().eval())
        return ForecasterEnsemble(members)

    def _arima(
        self, ctx: StageContext, y: np.ndarray, inputs: ModelInputs, season: int, train_end: int
    ) -> ArimaModel:
        """The (S)ARIMA chosen by AIC on the training span, on the target's value scale, with the
        RNN's differencing orders unless ``arima:`` sets its own."""
        from nlp_rnn.errors import NlpRnnError
        from nlp_rnn.series.baselines import ArimaSearch, choose_arima

        transform = inputs.transforms[inputs.target]
        values = transform.to_value_scale(y)
        settings = self.config.arima
        order = transform.order if settings.differences is None else settings.differences
        seasonal = settings.seasonal_differences
        seasonal_order = transform.seasonal_order if seasonal is None else seasonal
        if seasonal_order and season < 2:
            raise NlpRnnError(
                f"stage {ctx.name!r}: arima.seasonal_differences needs a season of 2 or more rows; "
                f"this series' season is {season} (set season)"
            )
        search = ArimaSearch(
            max_p=settings.max_p, max_q=settings.max_q, max_P=settings.max_P, max_Q=settings.max_Q
        )
        choice = choose_arima(values[:train_end], order, seasonal_order, season, search)
        return ArimaModel(choice, transform, values)

    def _write_outputs(
        self,
        ctx: StageContext,
        series: TimeSeries,
        target: str,
        spans: Spans,
        evaluations: dict[str, SpanEvaluation],
        stationarity: dict[str, Any],
        arima: ArimaModel | None,
        metrics: Metrics,
    ) -> None:
        """report.json, forecasts.csv and forecast.png."""
        import pandas as pd

        from nlp_rnn.fileio import atomic_file
        from nlp_rnn.series.plot import plot_forecasts
        from nlp_rnn.tasks import write_json

        config = self.config
        times, y = series.time_labels(), series.column(target)
        rows = []
        for split, evaluation in evaluations.items():
            for step in range(config.horizon):
                for i, origin in enumerate(evaluation.origins):
                    row = int(origin) + step
                    rows.append(
                        {
                            "time": times[row],
                            "split": split,
                            "origin": times[int(origin)],
                            "step": step + 1,
                            "observed": y[row],
                            **{m: f[i, step] for m, f in evaluation.forecasts.items()},
                        }
                    )
        with atomic_file(ctx.out_dir / FORECASTS_FILE, "w", encoding="utf-8", newline="") as handle:
            pd.DataFrame(rows).to_csv(handle, index=False, float_format="%.6g")

        test = evaluations["test"]
        first = max(0, spans.validation_end - config.plot_history)
        step = "one step ahead" if config.horizon == 1 else f"step 1 of {config.horizon}"
        plot_forecasts(
            ctx.out_dir / PLOT_FILE,
            times[first:],
            y[first:],
            int(test.origins[0]) - first,
            {f"{m} (RMSE {test.errors[m]['rmse']:.3g})": f[:, 0] for m, f in test.forecasts.items()},
            title=f"{ctx.name}: test span forecasts, {step}",
            ylabel=target,
        )
        report = {
            "target": target,
            "spans": {
                name: [times[a], times[b - 1]]
                for name in ("train", "validation", "test")
                for a, b in [spans.bounds(name)]
            },
            "rows": {
                name: spans.bounds(name)[1] - spans.bounds(name)[0]
                for name in ("train", "validation", "test")
            },
            "horizon": config.horizon,
            "strategy": config.strategy,
            "stationarity": stationarity,
            "arima": None
            if arima is None
            else {
                "model": arima.choice.describe(),
                "order": list(arima.choice.order),
                "seasonal_order": list(arima.choice.seasonal_order),
                "aic": arima.choice.aic,
                "fit_seconds": round(arima.choice.seconds, 3),
                "tried": arima.choice.tried,
            },
            "errors": {split: evaluation.errors for split, evaluation in evaluations.items()},
            "metrics": metrics,
        }
        write_json(ctx.out_dir / REPORT_FILE, report)


@dataclass
class ArimaModel:
    """The chosen ARIMA with the value transform it was fitted under."""

    choice: ArimaChoice
    transform: SeriesTransform  # its value transform (log/sqrt) is the one ARIMA was fitted under
    values: np.ndarray  # the whole target on the value scale

    def forecasts(self, origins: np.ndarray, horizon: int) -> np.ndarray:
        from nlp_rnn.series.baselines import arima_forecasts

        return self.transform.from_value_scale(arima_forecasts(self.choice, self.values, origins, horizon))


@dataclass
class SpanEvaluation:
    origins: np.ndarray  # N
    forecasts: dict[str, np.ndarray]  # model -> N x H
    errors: dict[str, dict[str, float]]  # model -> rmse/mae/mase


def _evaluate_span(
    predictor: ForecastingPredictor,
    series: TimeSeries,
    y: np.ndarray,
    bounds: tuple[int, int],
    horizon: int,
    season: int,
    scale: float,
    arima: ArimaModel | None,
) -> SpanEvaluation:
    """Every model's forecasts of the span's rows from each origin in it, and their errors."""
    from nlp_rnn.series.baselines import naive_forecasts, origins_of, seasonal_naive_forecasts
    from nlp_rnn.series.metrics import forecast_errors

    origins = origins_of(bounds[0], bounds[1], horizon)
    actual = y[origins[:, None] + np.arange(horizon)[None, :]]  # N x H
    forecasts = {"rnn": predictor.forecast_rows(series, origins, horizon)}
    if arima is not None:
        forecasts["arima"] = arima.forecasts(origins, horizon)
    forecasts["naive"] = naive_forecasts(y, origins, horizon)
    if season > 1:
        forecasts["seasonal_naive"] = seasonal_naive_forecasts(y, origins, horizon, season)
    errors = {model: forecast_errors(actual, values, scale) for model, values in forecasts.items()}
    return SpanEvaluation(origins=origins, forecasts=forecasts, errors=errors)


def _table(errors: dict[str, dict[str, float]]) -> str:
    lines = [f"  {'model':<16}{'RMSE':>10}{'MAE':>10}{'MASE':>8}"]
    lines += [f"  {m:<16}{e['rmse']:>10.4g}{e['mae']:>10.4g}{e['mase']:>8.3f}" for m, e in errors.items()]
    return "\n".join(lines)
