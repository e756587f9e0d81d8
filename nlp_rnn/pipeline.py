"""Declarative, cached pipelines: stages run in order, each skipped when nothing it depends on changed.

A pipeline file names its stages in order under ``stages:``; each has a ``kind`` (which
:class:`Stage` class runs it) and that kind's settings. A stage's *fingerprint* hashes its kind,
its validated settings, the fingerprints of the stages it reads, and the size and modification
time of the outside files it reads. Its output lives in ``<run-dir>/stages/<name>/`` and is built
in a temporary folder that is renamed into place only when the stage succeeds, so a failed or
killed stage never leaves an artifact that a later run would trust.

Stages that produce parts of the model (weights, vocabularies, tokenizer models) write them under
``<out_dir>/model/``; the runner merges those into ``<run-dir>/model/`` after the run, giving one
self-contained folder that prediction commands load with ``--model``.
"""

from __future__ import annotations

import abc
import hashlib
import json
import logging
import os
import shutil
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import pydantic
import yaml

from nlp_rnn import __version__
from nlp_rnn.config import RawConfig, Schema, apply_overrides, load_yaml, substitute, validate
from nlp_rnn.errors import ConfigError, NlpRnnError
from nlp_rnn.fileio import atomic_dir, atomic_file

log = logging.getLogger(__name__)

Metrics = dict[str, float | int]
STAGE_RECORD = "stage.json"


class StageConfig(Schema):
    """Settings shared by every stage kind; each kind subclasses this with its own keys."""

    kind: str = pydantic.Field(description="which stage runs these settings")


@dataclass
class StageContext:
    """What a running stage may use: its output folder, its upstream outputs, run settings."""

    name: str
    out_dir: Path  # temporary folder, renamed to <run_dir>/stages/<name> when the stage succeeds
    upstream: dict[str, Path]  # upstream stage name -> its finished output folder
    run_dir: Path
    data_dir: Path
    seed: int
    log: logging.Logger

    def input_dir(self, stage_name: str) -> Path:
        """The output folder of an upstream stage this stage declared in ``upstream()``."""
        try:
            return self.upstream[stage_name]
        except KeyError:
            raise NlpRnnError(f"stage {self.name!r} did not declare {stage_name!r} as an input") from None

    @property
    def model_dir(self) -> Path:
        """Files written here become part of ``<run-dir>/model/``."""
        path = self.out_dir / "model"
        path.mkdir(exist_ok=True)
        return path


class Stage(abc.ABC):
    """One step of a pipeline. Subclasses set ``kind`` and ``Config`` and implement ``run``."""

    kind: ClassVar[str]
    Config: ClassVar[type[StageConfig]]
    # Bump when a stage's output format or semantics change, so old caches are not reused.
    version: ClassVar[int] = 1

    def __init__(self, config: StageConfig) -> None:
        self.config = config

    def upstream(self) -> list[str]:
        """Names of earlier stages whose outputs this stage reads."""
        return []

    def input_files(self, data_dir: Path) -> list[Path]:
        """Outside files this stage reads; their size and mtime are part of the fingerprint."""
        return []

    @abc.abstractmethod
    def run(self, ctx: StageContext) -> Metrics:
        """Do the work, writing outputs under ``ctx.out_dir``; return flat numeric metrics."""


class PipelineConfig(Schema):
    """The top level of a pipeline file."""

    name: str = pydantic.Field(description="a short name, used in reports")
    description: str = ""
    seed: int = pydantic.Field(13, ge=0, description="seed for every random choice in the run")
    stages: dict[str, dict[str, Any]] = pydantic.Field(min_length=1)


@dataclass
class Pipeline:
    """A validated pipeline: ordered stages, ready to run."""

    config: PipelineConfig
    stages: dict[str, Stage]
    source: Path
    resolved: dict[str, Any] = field(repr=False)  # the config after overrides and substitutions


def load_pipeline(
    path: str | os.PathLike[str],
    overrides: list[str] | tuple[str, ...] = (),
    data_dir: str | os.PathLike[str] | None = None,
    stage_kinds: Mapping[str, type[Stage]] | None = None,
) -> Pipeline:
    """Read, override, substitute and validate a pipeline file; check its stage graph."""
    return pipeline_from_raw(load_yaml(path), overrides, data_dir, stage_kinds)


def pipeline_from_raw(
    raw: RawConfig,
    overrides: list[str] | tuple[str, ...] = (),
    data_dir: str | os.PathLike[str] | None = None,
    stage_kinds: Mapping[str, type[Stage]] | None = None,
) -> Pipeline:
    """:func:`load_pipeline` for a config already in memory (``raw.path`` names its origin)."""
    if stage_kinds is None:
        from nlp_rnn.stages import STAGE_KINDS

        stage_kinds = STAGE_KINDS
    raw = apply_overrides(raw, overrides)
    variables = {"data_dir": str(resolve_data_dir(data_dir)), "pipeline_dir": str(raw.path.resolve().parent)}
    data = substitute(raw.data, variables)
    config = validate(PipelineConfig, data, raw)
    stages: dict[str, Stage] = {}
    for name, settings in config.stages.items():
        prefix = ("stages", name)
        if not isinstance(settings, dict):
            origin, line = raw.where(prefix)
            raise ConfigError(f"stage {name!r} must be a mapping of settings", origin, line)
        kind = settings.get("kind")
        if kind not in stage_kinds:
            origin, line = raw.where(prefix + ("kind",))
            known = ", ".join(sorted(stage_kinds))
            raise ConfigError(f"stage {name!r}: unknown kind {kind!r}; known kinds: {known}", origin, line)
        stage_cls = stage_kinds[kind]
        stage = stage_cls(validate(stage_cls.Config, settings, raw, prefix))
        for needed in stage.upstream():
            if needed not in stages:
                origin, line = raw.where(prefix)
                later = " (it comes later; stages run in file order)" if needed in config.stages else ""
                raise ConfigError(
                    f"stage {name!r} reads stage {needed!r}, which is not defined before it{later}",
                    origin,
                    line,
                )
        stages[name] = stage
    return Pipeline(config=config, stages=stages, source=raw.path, resolved=data)


def resolve_data_dir(data_dir: str | os.PathLike[str] | None = None) -> Path:
    """``--data-dir``, else ``$NLP_RNN_DATA``, else the ``shared/corpora`` folder beside the checkout."""
    from nlp_rnn.data.catalog import default_data_dir

    return Path(data_dir or default_data_dir()).expanduser().resolve()


@dataclass
class StageOutcome:
    name: str
    status: str  # "ran" or "reused"
    seconds: float
    metrics: Metrics
    out_dir: Path


@dataclass
class RunResult:
    run_dir: Path
    outcomes: list[StageOutcome]
    metrics: Metrics

    def report(self) -> str:
        """A readable table of what ran, what was reused, and the metrics of each stage."""
        lines = [f"run directory: {self.run_dir}", ""]
        width = max(len(outcome.name) for outcome in self.outcomes)
        for outcome in self.outcomes:
            lines.append(f"  {outcome.name:<{width}}  {outcome.status:<6}  {outcome.seconds:8.2f} s")
            for key, value in outcome.metrics.items():
                shown = f"{value:.4f}" if isinstance(value, float) else f"{value:,}"
                lines.append(f"  {'':<{width}}    {key:<36} {shown:>14}")
        ran = sum(outcome.status == "ran" for outcome in self.outcomes)
        lines += [
            "",
            f"{ran} stage(s) ran, {len(self.outcomes) - ran} reused; "
            f"metrics in {self.run_dir / 'metrics.json'}",
        ]
        return "\n".join(lines)


def run_pipeline(
    pipeline: Pipeline,
    run_dir: str | os.PathLike[str],
    data_dir: str | os.PathLike[str] | None = None,
    until: str | None = None,
    force: bool = False,
) -> RunResult:
    """Run the stages in order (up to and including ``until``), reusing unchanged ones."""
    if until is not None and until not in pipeline.stages:
        raise ConfigError(f"--until {until!r}: no such stage; stages: {', '.join(pipeline.stages)}")
    run_dir = Path(run_dir)
    data_path = resolve_data_dir(data_dir)
    _quiet_progress_unless_terminal()
    (run_dir / "stages").mkdir(parents=True, exist_ok=True)
    handler = _attach_log_file(run_dir / "run.log")
    try:
        with atomic_file(run_dir / "pipeline.yaml") as handle:
            yaml.safe_dump(pipeline.resolved, handle, sort_keys=False)
        fingerprints: dict[str, str] = {}
        outcomes: list[StageOutcome] = []
        for name, stage in pipeline.stages.items():
            fingerprint = stage_fingerprint(
                stage, {up: fingerprints[up] for up in stage.upstream()}, data_path
            )
            fingerprints[name] = fingerprint
            outcomes.append(
                _run_stage(name, stage, fingerprint, run_dir, data_path, pipeline.config.seed, force)
            )
            if name == until:
                break
        metrics = {f"{o.name}.{key}": value for o in outcomes for key, value in o.metrics.items()}
        with atomic_file(run_dir / "metrics.json") as handle:
            json.dump(metrics, handle, indent=2, sort_keys=True)
        _assemble_model_dir(run_dir, outcomes)
        return RunResult(run_dir=run_dir, outcomes=outcomes, metrics=metrics)
    finally:
        logging.getLogger("nlp_rnn").removeHandler(handler)
        handler.close()


def stage_fingerprint(stage: Stage, upstream: Mapping[str, str], data_dir: Path) -> str:
    """Hash of everything a stage's output depends on."""
    files = []
    for path in stage.input_files(data_dir):
        try:
            stat = path.stat()
        except FileNotFoundError:
            raise NlpRnnError(f"{path}: input file not found (stage kind {stage.kind!r})") from None
        if path.is_dir():
            raise NlpRnnError(f"{path}: expected a file, found a directory (stage kind {stage.kind!r})")
        files.append([str(path.resolve()), stat.st_size, stat.st_mtime_ns])
    payload = {
        "kind": stage.kind,
        "stage_version": stage.version,
        "package_version": __version__,
        "config": stage.config.model_dump(mode="json"),
        "upstream": dict(sorted(upstream.items())),
        "files": files,
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def _run_stage(
    name: str, stage: Stage, fingerprint: str, run_dir: Path, data_dir: Path, seed: int, force: bool
) -> StageOutcome:
    out_dir = run_dir / "stages" / name
    record_path = out_dir / STAGE_RECORD
    if not force and record_path.is_file():
        record = json.loads(record_path.read_text(encoding="utf-8"))
        if record.get("fingerprint") == fingerprint:
            log.info("stage %s: reused (inputs and settings unchanged)", name)
            return StageOutcome(name, "reused", 0.0, record["metrics"], out_dir)
    log.info("stage %s (%s): running", name, stage.kind)
    upstream = {up: run_dir / "stages" / up for up in stage.upstream()}
    started = time.perf_counter()
    with atomic_dir(out_dir) as tmp_dir:
        ctx = StageContext(
            name=name,
            out_dir=tmp_dir,
            upstream=upstream,
            run_dir=run_dir,
            data_dir=data_dir,
            seed=seed,
            log=logging.getLogger(f"nlp_rnn.stage.{name}"),
        )
        metrics = stage.run(ctx)
        seconds = time.perf_counter() - started
        record = {"fingerprint": fingerprint, "kind": stage.kind, "seconds": seconds, "metrics": metrics}
        (tmp_dir / STAGE_RECORD).write_text(json.dumps(record, indent=2), encoding="utf-8")
    log.info("stage %s: done in %.2f s", name, seconds)
    return StageOutcome(name, "ran", seconds, metrics, out_dir)


def _assemble_model_dir(run_dir: Path, outcomes: list[StageOutcome]) -> None:
    """Merge every stage's ``model/`` folder into ``<run-dir>/model/`` (atomically)."""
    sources = [o.out_dir / "model" for o in outcomes if (o.out_dir / "model").is_dir()]
    if not sources:
        return
    owners: dict[Path, str] = {}
    with atomic_dir(run_dir / "model") as tmp:
        for source in sources:
            for path in sorted(source.rglob("*")):
                relative = path.relative_to(source)
                if relative in owners and not path.is_dir():
                    raise NlpRnnError(
                        f"stages {owners[relative]!r} and {source.parent.name!r} both write model/{relative}"
                    )
                target = tmp / relative
                if path.is_dir():
                    target.mkdir(parents=True, exist_ok=True)
                else:
                    owners[relative] = source.parent.name
                    target.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(path, target)


def _quiet_progress_unless_terminal() -> None:
    """Progress bars only on a terminal: logs and CI output stay readable."""
    import sys

    import datasets

    if sys.stderr.isatty():
        datasets.enable_progress_bars()
    else:
        datasets.disable_progress_bars()


def _attach_log_file(path: Path) -> logging.Handler:
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.setLevel(logging.INFO)
    package_logger = logging.getLogger("nlp_rnn")
    package_logger.addHandler(handler)
    if package_logger.level == logging.NOTSET or package_logger.level > logging.INFO:
        package_logger.setLevel(logging.INFO)
    return handler
