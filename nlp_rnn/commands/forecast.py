"""``nlp-rnn forecast`` (forecast the rows after a series with a trained model) and
``nlp-rnn train-forecaster`` (train one on any CSV series, with the baselines beside it).

The click commands only parse options; :func:`forecast_file` and :func:`forecaster_pipeline` do
the work and can be called from Python.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import click

from nlp_rnn.commands import model_dir_option
from nlp_rnn.errors import NlpRnnError


def forecast_file(
    model_dir: str | os.PathLike[str],
    input_path: str | os.PathLike[str],
    horizon: int,
    output_path: str | os.PathLike[str] | None = None,
    column: str | None = None,
    time_column: str | None = None,
) -> tuple[str, list[tuple[str, float]]]:
    """Forecast the ``horizon`` rows after the end of the CSV series ``input_path``: the target's
    name and ``(time, forecast)`` rows.

    The CSV is read like the training series (its time column, resampling and missing-value
    policy, from the model folder) unless ``time_column`` says otherwise; ``column`` names the
    input's column that holds the target when it is called differently there. Writes
    ``time,<target>`` rows to ``output_path`` (atomically) when given.
    """
    from nlp_rnn.api import load_model
    from nlp_rnn.fileio import atomic_file
    from nlp_rnn.tasks import read_model_config

    task = read_model_config(model_dir)["task"]
    if task != "forecasting":
        raise NlpRnnError(f"{model_dir}: a {task} model, not a forecaster (train one with train-forecaster)")
    predictor = load_model(model_dir)
    target, rows = predictor.forecast_csv(input_path, horizon, column, time_column)
    if output_path is not None:
        with atomic_file(output_path, "w", encoding="utf-8", newline="\n") as handle:
            _write_rows(handle, target, rows)
    return target, rows


def _write_rows(handle, target: str, rows: list[tuple[str, float]]) -> None:
    handle.write(f"time,{target}\n")
    handle.writelines(f"{time},{value:.6g}\n" for time, value in rows)


def forecaster_pipeline(
    input_path: str,
    column: str,
    time_column: str | None,
    window: int = 12,
    horizon: int = 1,
    season: str | int = "auto",
    seasonal_differences: int = 0,
    transform: str = "none",
    resample: str | None = None,
    fourier_terms: int = 0,
) -> dict[str, Any]:
    """The pipeline ``train-forecaster`` runs: a series stage and a train_forecaster stage with
    the defaults of :class:`~nlp_rnn.stages.train_forecaster.TrainForecasterConfig`."""
    name = Path(input_path).stem
    return {
        "name": f"forecast_{name}",
        "description": f"RNN forecaster for {column} of {input_path}",
        "seed": 13,
        "stages": {
            "series": {
                "kind": "series",
                "source": str(input_path),
                "columns": [column],
                "time_column": time_column,
                "resample": resample,
            },
            "forecast": {
                "kind": "train_forecaster",
                "input": "series",
                "target": column,
                "window": window,
                "horizon": horizon,
                "season": season,
                "seasonal_differences": seasonal_differences,
                "fourier_terms": fourier_terms,
                "transform": transform,
            },
        },
    }


@click.command(name="forecast")
@model_dir_option("Model folder (e.g. runs/forecast_co2/model).")
@click.option(
    "--input",
    "input_path",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="CSV file of the series so far (its last rows are the model's input).",
)
@click.option("--horizon", required=True, type=click.IntRange(min=1), help="Rows to forecast.")
@click.option(
    "--output",
    "output_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="CSV file to write (time,<target>); default: standard output.",
)
@click.option("--column", help="The input's column holding the target, if named differently.")
@click.option("--time-column", help="The input's time column (default: the training series').")
def forecast(
    model_dir: Path,
    input_path: Path,
    horizon: int,
    output_path: Path | None,
    column: str | None,
    time_column: str | None,
) -> None:
    """Forecast the HORIZON rows after the end of the series in --input."""
    target, rows = forecast_file(model_dir, input_path, horizon, output_path, column, time_column)
    if output_path is None:
        _write_rows(sys.stdout, target, rows)
    else:
        click.echo(f"wrote {len(rows)} forecast row(s) to {output_path}", err=True)


@click.command(name="train-forecaster")
@click.option(
    "--input",
    "input_path",
    required=True,
    help="CSV file (or statsmodels:NAME, hf:owner/name) of the series.",
)
@click.option("--column", required=True, help="The column to forecast.")
@click.option("--time-column", help="The column of time stamps (dates or integers); default: row numbers.")
@click.option(
    "--window", default=12, show_default=True, type=click.IntRange(min=1), help="Rows per input window."
)
@click.option(
    "--horizon", default=1, show_default=True, type=click.IntRange(min=1), help="Rows forecast per origin."
)
@click.option(
    "--season",
    default="auto",
    show_default=True,
    help="Rows per season (auto: from the frequency, 12 for monthly data).",
)
@click.option("--seasonal-differences", default=0, show_default=True, type=click.IntRange(0, 2))
@click.option(
    "--fourier-terms",
    default=0,
    show_default=True,
    type=click.IntRange(min=0),
    help="Sine/cosine pairs of each row's place in the season, added to the inputs.",
)
@click.option("--transform", default="none", show_default=True, type=click.Choice(["none", "log", "sqrt"]))
@click.option("--resample", help="Aggregate into bins of this pandas frequency first (e.g. MS).")
@click.option(
    "--set",
    "overrides",
    multiple=True,
    metavar="KEY=VALUE",
    help="Override any key, e.g. --set stages.forecast.ensemble=3.",
)
@click.option(
    "--run-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where the run goes (default: runs/forecast_<input name>).",
)
def train_forecaster(
    input_path: str,
    column: str,
    time_column: str | None,
    window: int,
    horizon: int,
    season: str,
    seasonal_differences: int,
    fourier_terms: int,
    transform: str,
    resample: str | None,
    overrides: tuple[str, ...],
    run_dir: Path | None,
) -> None:
    """Train an RNN forecaster on a series and compare it with naive, seasonal naive and ARIMA
    on its last 10% (the pipeline of pipelines/forecast_co2.yaml, for any CSV)."""
    from nlp_rnn.config import RawConfig
    from nlp_rnn.pipeline import pipeline_from_raw, run_pipeline

    if season != "auto" and not season.isdigit():
        raise NlpRnnError(f"--season must be auto or a whole number, got {season!r}")
    data = forecaster_pipeline(
        input_path,
        column,
        time_column,
        window,
        horizon,
        season if season == "auto" else int(season),
        seasonal_differences,
        transform,
        resample,
        fourier_terms,
    )
    pipeline = pipeline_from_raw(RawConfig(data=data, path=Path("train-forecaster")), overrides)
    result = run_pipeline(pipeline, run_dir or Path("runs") / pipeline.config.name)
    click.echo(result.report())
