"""The ``series`` stage: read a time series (CSV file, ``statsmodels:NAME``, ``hf:owner/name``),
check it, make it regular, and write it where the forecaster stage reads it.

Outputs: ``series.csv`` (a ``time`` column and one column per variable) and ``series.json``
(source, rows, frequency, first and last time, values filled by the missing-value policy).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import pydantic

from nlp_rnn.pipeline import Metrics, Stage, StageConfig, StageContext

SERIES_FILE = "series.csv"
SERIES_INFO = "series.json"
TIME_COLUMN = "time"


class SeriesConfig(StageConfig):
    kind: Literal["series"] = "series"
    source: str = pydantic.Field(
        description="a CSV file, statsmodels:sunspots, statsmodels:co2 or hf:owner/name"
    )
    columns: list[str] | None = pydantic.Field(
        None, description="columns to keep (null: every numeric column)"
    )
    time_column: str | None = pydantic.Field(
        None, description="the column of time stamps (dates or integers); null: row numbers"
    )
    resample: str | None = pydantic.Field(
        None, description="aggregate into bins of this pandas frequency (MS)"
    )
    aggregate: Literal["mean", "sum", "last"] = pydantic.Field("mean", description="how resample aggregates")
    missing: Literal["interpolate", "error"] = pydantic.Field(
        "interpolate",
        description="missing values: interpolate linearly (ends trimmed), or stop with an error",
    )

    def reading(self) -> dict[str, object]:
        """The load_series options, kept in the model folder for ``nlp-rnn forecast``."""
        return self.model_dump(exclude={"kind", "source"})


class SeriesStage(Stage):
    """Reads and checks a series; metrics: rows, columns, values filled."""

    kind = "series"
    Config = SeriesConfig

    def input_files(self, data_dir: Path) -> list[Path]:
        source = self.config.source
        return [] if source.startswith(("statsmodels:", "hf:")) else [Path(source)]

    def run(self, ctx: StageContext) -> Metrics:
        import pandas as pd

        from nlp_rnn.fileio import atomic_file
        from nlp_rnn.series.io import load_series
        from nlp_rnn.tasks import write_json

        config = self.config
        series = load_series(config.source, **config.reading())
        frame = series.frame.copy()
        frame.index = pd.Index(series.time_labels(), name=TIME_COLUMN)
        with atomic_file(ctx.out_dir / SERIES_FILE, "w", encoding="utf-8", newline="") as handle:
            frame.to_csv(handle, float_format="%.10g")
        info = {
            "source": config.source,
            "rows": len(series),
            "columns": [str(c) for c in frame.columns],
            "frequency": series.freq,
            "first": str(frame.index[0]),
            "last": str(frame.index[-1]),
            "filled": series.filled,
            "reading": config.reading(),
        }
        write_json(ctx.out_dir / SERIES_INFO, info)
        ctx.log.info(
            "%s: %d rows of %s from %s to %s (%s); %d missing value(s) filled",
            config.source,
            len(series),
            ", ".join(info["columns"]),
            info["first"],
            info["last"],
            series.freq,
            series.filled,
        )
        return {"rows": len(series), "columns": len(info["columns"]), "filled": series.filled}
