"""The series and train_forecaster stages end to end on a small synthetic monthly series, and the
``forecast`` / ``train-forecaster`` commands."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from nlp_rnn.cli import main
from nlp_rnn.errors import NlpRnnError
from nlp_rnn.pipeline import load_pipeline, run_pipeline

FAST = "trainer: {max_epochs: 8, batch_size: 16, lr: 0.01, plot: false}"


def monthly_csv(folder: Path, rows: int = 144, constant: bool = False) -> Path:
    rng = np.random.default_rng(0)
    months = np.arange(rows)
    values = 300 + 0.1 * months + 8 * np.sin(2 * np.pi * months / 12) + rng.normal(0, 0.3, rows)
    if constant:
        values = np.full(rows, 5.0)
    dates = [f"{2000 + m // 12}-{m % 12 + 1:02d}-01" for m in months]
    path = folder / "monthly.csv"
    lines = ["month,level"] + [f"{d},{v:.4f}" for d, v in zip(dates, values, strict=True)]
    lines[5] = lines[5].split(",")[0] + ","  # one missing value, interpolated
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def pipeline_text(csv: Path, extra: str = "") -> str:
    return f"""
name: forecast_test
seed: 5
stages:
  series:
    kind: series
    source: {csv}
    time_column: month
  forecast:
    kind: train_forecaster
    input: series
    window: 12
    seasonal_differences: 1
    model: {{hidden_size: 8}}
    ensemble: 2
    {FAST}
    arima: {{max_p: 1, max_q: 1, max_P: 0, max_Q: 1}}
    {extra}
"""


def run(tmp_path: Path, text: str):  # -> RunResult
    path = tmp_path / "pipeline.yaml"
    path.write_text(text, encoding="utf-8")
    return run_pipeline(load_pipeline(path), tmp_path / "run")


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("forecast")
    run(folder, pipeline_text(monthly_csv(folder)))
    return folder / "run"


def test_metrics_reports_and_the_rnn_beats_naive(trained: Path) -> None:
    metrics = json.loads((trained / "metrics.json").read_text())
    for model in ("rnn", "arima", "naive", "seasonal_naive"):
        for name in ("rmse", "mae", "mase"):
            assert f"forecast.{model}_{name}" in metrics and f"forecast.val_{model}_{name}" in metrics
    assert metrics["series.filled"] == 1
    assert metrics["forecast.seasonal_differences"] == 1 and metrics["forecast.test_rows"] == 14
    assert metrics["forecast.rnn_rmse"] < metrics["forecast.naive_rmse"]
    saved = json.loads((trained / "model" / "metrics.json").read_text())
    assert saved["rnn_rmse"] == pytest.approx(metrics["forecast.rnn_rmse"])  # flat keys in the model folder
    stage = trained / "stages" / "forecast"
    report = json.loads((stage / "report.json").read_text())
    assert report["stationarity"]["season"] == 12 and report["stationarity"]["after"]["stationary"]
    assert report["arima"]["order"][1] == metrics["forecast.differences"]
    P, D, Q, season = report["arima"]["seasonal_order"]
    assert (D, season) == (1, 12) and P == 0 and Q in (0, 1)
    assert report["spans"]["test"] == ["2010-11-01", "2011-12-01"]
    assert (stage / "forecast.png").stat().st_size > 10_000
    forecasts = (stage / "forecasts.csv").read_text().splitlines()
    assert forecasts[0] == "time,split,origin,step,observed,rnn,arima,naive,seasonal_naive"
    assert len(forecasts) == 1 + 13 + 14  # validation and test rows
    assert len(list((stage / "train").iterdir())) == 2  # one Trainer run per member


def test_forecast_command_writes_the_next_rows(trained: Path, tmp_path: Path) -> None:
    csv = trained.parent / "monthly.csv"
    out = tmp_path / "next.csv"
    result = CliRunner().invoke(
        main,
        [
            "forecast",
            "--model",
            str(trained / "model"),
            "--input",
            str(csv),
            "--horizon",
            "3",
            "--output",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    lines = out.read_text().splitlines()
    assert lines[0] == "time,level" and [line.split(",")[0] for line in lines[1:]] == [
        "2012-01-01",
        "2012-02-01",
        "2012-03-01",
    ]
    values = [float(line.split(",")[1]) for line in lines[1:]]
    assert all(280 < v < 330 for v in values)
    stdout = CliRunner().invoke(
        main, ["forecast", "--model", str(trained / "model"), "--input", str(csv), "--horizon", "3"]
    )
    assert stdout.exit_code == 0 and "time,level" in stdout.output.splitlines()
    assert [line for line in stdout.output.splitlines() if line.startswith("2012")] == lines[1:]


def test_forecast_command_errors(trained: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("month,level\n2000-01-01,1\n2000-02-01,x\n2000-03-01,2\n", encoding="utf-8")
    result = CliRunner().invoke(
        main, ["forecast", "--model", str(trained / "model"), "--input", str(bad), "--horizon", "2"]
    )
    assert result.exit_code != 0 and "bad.csv:3: column 'level': 'x' is not a number" in result.output
    renamed = tmp_path / "renamed.csv"
    renamed.write_text((trained.parent / "monthly.csv").read_text().replace("level", "ppm"), encoding="utf-8")
    ok = CliRunner().invoke(
        main,
        [
            "forecast",
            "--model",
            str(trained / "model"),
            "--input",
            str(renamed),
            "--horizon",
            "1",
            "--column",
            "ppm",
        ],
    )
    assert ok.exit_code == 0, ok.output
    missing = CliRunner().invoke(
        main, ["forecast", "--model", str(trained / "model"), "--input", str(renamed), "--horizon", "1"]
    )
    assert missing.exit_code != 0 and "no column 'level'" in missing.output


def test_recursive_strategy_and_horizon(tmp_path: Path) -> None:
    result = run(tmp_path, pipeline_text(monthly_csv(tmp_path), "horizon: 3\n    strategy: recursive"))
    metrics = result.metrics
    assert metrics["forecast.rnn_rmse"] < metrics["forecast.naive_rmse"]
    stage = result.run_dir / "stages" / "forecast"
    assert len((stage / "forecasts.csv").read_text().splitlines()) == 1 + 3 * (11 + 12)


def season_pipeline(csv: Path, extra: str = "") -> str:
    """Season features instead of a seasonal difference for the RNN; SARIMA keeps its D = 1."""
    return (
        pipeline_text(csv, f"fourier_terms: 1\n    {extra}")
        .replace("seasonal_differences: 1", "seasonal_differences: 0")
        .replace("arima: {", "arima: {seasonal_differences: 1, ")
    )


def test_season_features(tmp_path: Path) -> None:
    csv = monthly_csv(tmp_path)
    result = run(tmp_path, season_pipeline(csv))
    metrics = result.metrics
    assert metrics["forecast.seasonal_differences"] == 0
    rmse = [metrics[f"forecast.{model}_rmse"] for model in ("rnn", "seasonal_naive", "naive")]
    assert rmse == sorted(rmse)
    report = json.loads((result.run_dir / "stages" / "forecast" / "report.json").read_text())
    _, D, _, season = report["arima"]["seasonal_order"]
    assert (D, season) == (1, 12)
    inputs = json.loads((result.run_dir / "model" / "config.json").read_text())["inputs"]
    assert (inputs["season"], inputs["fourier_terms"], inputs["frequency"]) == (12, 1, "MS")
    # the same last rows in a file that starts 17 months later: the same months, the same forecasts
    later = tmp_path / "later.csv"
    lines = csv.read_text().splitlines()
    later.write_text("\n".join(lines[:1] + lines[18:]) + "\n", encoding="utf-8")
    outputs = []
    for path in (csv, later):
        model = str(result.run_dir / "model")
        out = CliRunner().invoke(main, ["forecast", "--model", model, "--input", str(path), "--horizon", "4"])
        assert out.exit_code == 0, out.output
        outputs.append([line for line in out.output.splitlines() if line.startswith("2012")])
    assert len(outputs[0]) == 4 and outputs[0] == outputs[1]


def test_season_features_need_a_season(tmp_path: Path) -> None:
    with pytest.raises(NlpRnnError, match="stage 'forecast': fourier_terms needs a season of 2 rows or more"):
        run(tmp_path, season_pipeline(monthly_csv(tmp_path), "season: 1"))


def test_arima_seasonal_difference_needs_a_season(tmp_path: Path) -> None:
    text = (
        pipeline_text(monthly_csv(tmp_path), "season: 1")
        .replace("seasonal_differences: 1", "seasonal_differences: 0")
        .replace("arima: {", "arima: {seasonal_differences: 1, ")
    )
    with pytest.raises(NlpRnnError, match="'forecast': arima.seasonal_differences needs a season of 2"):
        run(tmp_path, text)


def test_series_shorter_than_a_window(tmp_path: Path) -> None:
    with pytest.raises(NlpRnnError, match=r"training span \(29 rows\) holds no window of 20 rows"):
        run(tmp_path, pipeline_text(monthly_csv(tmp_path, rows=36), "window: 20"))


def test_constant_series(tmp_path: Path) -> None:
    with pytest.raises(NlpRnnError, match="constant"):
        run(tmp_path, pipeline_text(monthly_csv(tmp_path, constant=True)))


def test_train_forecaster_command(tmp_path: Path) -> None:
    csv = monthly_csv(tmp_path)
    result = CliRunner().invoke(
        main,
        [
            "train-forecaster",
            "--input",
            str(csv),
            "--column",
            "level",
            "--time-column",
            "month",
            "--fourier-terms",
            "2",
            "--run-dir",
            str(tmp_path / "cli_run"),
            "--set",
            "stages.forecast.ensemble=1",
            "--set",
            "stages.forecast.trainer.max_epochs=3",
            "--set",
            "stages.forecast.arima.enabled=false",
        ],
    )
    assert result.exit_code == 0, result.output
    metrics = json.loads((tmp_path / "cli_run" / "metrics.json").read_text())
    assert "forecast.rnn_rmse" in metrics and "forecast.arima_rmse" not in metrics
    config = json.loads((tmp_path / "cli_run" / "model" / "config.json").read_text())
    assert config["inputs"]["fourier_terms"] == 2
