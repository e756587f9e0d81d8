"""Tests for nlp_rnn.pipeline: stage order, caching by fingerprint, atomic outputs, model folder."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

import pydantic
import pytest

from nlp_rnn.errors import ConfigError, NlpRnnError
from nlp_rnn.pipeline import Stage, StageConfig, StageContext, load_pipeline, run_pipeline

CALLS: list[str] = []


class WriteConfig(StageConfig):
    kind: Literal["write"] = "write"
    text: str
    repeat: int = pydantic.Field(1, ge=1)
    source: str | None = None  # an outside file whose size and mtime count
    export: bool = False


class WriteStage(Stage):
    kind = "write"
    Config = WriteConfig

    def input_files(self, data_dir: Path) -> list[Path]:
        return [Path(self.config.source)] if self.config.source else []

    def run(self, ctx: StageContext) -> dict[str, float | int]:
        CALLS.append(ctx.name)
        (ctx.out_dir / "out.txt").write_text(self.config.text * self.config.repeat)
        if self.config.export:
            (ctx.model_dir / f"{ctx.name}.txt").write_text(self.config.text)
        return {"chars": len(self.config.text) * self.config.repeat}


class JoinConfig(StageConfig):
    kind: Literal["join"] = "join"
    inputs: list[str]
    fail: bool = False


class JoinStage(Stage):
    kind = "join"
    Config = JoinConfig

    def upstream(self) -> list[str]:
        return list(self.config.inputs)

    def run(self, ctx: StageContext) -> dict[str, float | int]:
        CALLS.append(ctx.name)
        text = "".join((ctx.input_dir(name) / "out.txt").read_text() for name in self.config.inputs)
        (ctx.out_dir / "out.txt").write_text(text)
        if self.config.fail:
            raise NlpRnnError("join failed on purpose")
        return {"chars": len(text)}


KINDS = {"write": WriteStage, "join": JoinStage}

PIPELINE = """\
name: toy
seed: 3
stages:
  first:
    kind: write
    text: ab
  second:
    kind: write
    text: cd
    repeat: 2
  both:
    kind: join
    inputs: [first, second]
"""


@pytest.fixture(autouse=True)
def _reset_calls() -> None:
    CALLS.clear()


def make(tmp_path: Path, text: str = PIPELINE) -> Path:
    path = tmp_path / "pipe.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def run(tmp_path: Path, overrides: list[str] = (), **kwargs):
    pipeline = load_pipeline(make(tmp_path, kwargs.pop("text", PIPELINE)), overrides, stage_kinds=KINDS)
    return run_pipeline(pipeline, tmp_path / "run", data_dir=tmp_path, **kwargs)


def test_runs_in_order_and_writes_metrics(tmp_path: Path) -> None:
    result = run(tmp_path)
    assert CALLS == ["first", "second", "both"]
    assert (tmp_path / "run/stages/both/out.txt").read_text() == "abcdcd"
    metrics = json.loads((tmp_path / "run/metrics.json").read_text())
    assert metrics == {"first.chars": 2, "second.chars": 4, "both.chars": 6}
    assert [o.status for o in result.outcomes] == ["ran", "ran", "ran"]
    assert (tmp_path / "run/run.log").read_text().count("running") == 3
    assert "3 stage(s) ran, 0 reused" in result.report()


def test_unchanged_stages_are_reused(tmp_path: Path) -> None:
    run(tmp_path)
    CALLS.clear()
    result = run(tmp_path)
    assert CALLS == []
    assert [o.status for o in result.outcomes] == ["reused"] * 3
    assert result.metrics["both.chars"] == 6


def test_changed_config_reruns_stage_and_downstream_only(tmp_path: Path) -> None:
    run(tmp_path)
    CALLS.clear()
    result = run(tmp_path, ["stages.second.repeat=3"])
    assert CALLS == ["second", "both"]
    assert result.metrics["both.chars"] == 8


def test_force_reruns_everything(tmp_path: Path) -> None:
    run(tmp_path)
    CALLS.clear()
    run(tmp_path, force=True)
    assert CALLS == ["first", "second", "both"]


def test_until_stops_after_stage(tmp_path: Path) -> None:
    result = run(tmp_path, until="second")
    assert CALLS == ["first", "second"]
    assert [o.name for o in result.outcomes] == ["first", "second"]
    with pytest.raises(ConfigError, match="no such stage"):
        run(tmp_path, until="third")


def test_changed_input_file_reruns(tmp_path: Path) -> None:
    source = tmp_path / "input.txt"
    source.write_text("one")
    overrides = [f"stages.first.source={source}"]
    run(tmp_path, overrides)
    CALLS.clear()
    source.write_text("three")
    run(tmp_path, overrides)
    assert CALLS[0] == "first"


def test_missing_input_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(NlpRnnError, match="nope.txt: input file not found"):
        run(tmp_path, [f"stages.first.source={tmp_path / 'nope.txt'}"])


def test_failed_stage_leaves_no_trusted_output(tmp_path: Path) -> None:
    run(tmp_path)
    with pytest.raises(NlpRnnError, match="on purpose"):
        run(tmp_path, ["stages.both.fail=true"])
    # The old output of "both" is untouched and no temporary folder is left behind.
    assert (tmp_path / "run/stages/both/out.txt").read_text() == "abcdcd"
    assert sorted(p.name for p in (tmp_path / "run/stages").iterdir()) == ["both", "first", "second"]
    CALLS.clear()
    # A later successful run with the original settings reuses the old, complete output.
    run(tmp_path)
    assert CALLS == []


def test_failed_new_stage_leaves_nothing(tmp_path: Path) -> None:
    with pytest.raises(NlpRnnError):
        run(tmp_path, ["stages.both.fail=true"])
    assert not (tmp_path / "run/stages/both").exists()
    assert not (tmp_path / "run/metrics.json").exists()


def test_model_folder_merges_exports(tmp_path: Path) -> None:
    run(tmp_path, ["stages.first.export=true", "stages.second.export=true"])
    assert sorted(p.name for p in (tmp_path / "run/model").iterdir()) == ["first.txt", "second.txt"]


@pytest.mark.parametrize(
    ("override", "message"),
    [
        (
            "stages.first.txt=x",
            r"--set stages.first.txt=x: unknown key 'stages.first.txt'; did you mean 'text'",
        ),
        ("stages.first.kind=nope", r"unknown kind 'nope'; known kinds: join, write"),
        ("stages.both.inputs=[later]", r"reads stage 'later', which is not defined"),
        ("seed=-1", r"--set seed=-1: seed: .*greater than or equal to 0"),
        (
            "stages.first.repeat=0",
            r"--set stages.first.repeat=0: stages.first.repeat: .*greater than or equal to 1",
        ),
    ],
)
def test_config_errors(tmp_path: Path, override: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_pipeline(make(tmp_path), [override], stage_kinds=KINDS)


def test_error_in_file_names_its_line(tmp_path: Path) -> None:
    text = PIPELINE.replace("    repeat: 2\n", "    repaet: 2\n")
    with pytest.raises(
        ConfigError, match=r"pipe.yaml:10: unknown key 'stages.second.repaet'; did you mean 'repeat'"
    ):
        load_pipeline(make(tmp_path, text), stage_kinds=KINDS)


def test_stage_order_matters(tmp_path: Path) -> None:
    text = (
        PIPELINE.replace("  first:\n    kind: write\n    text: ab\n", "")
        + "  first:\n    kind: write\n    text: ab\n"
    )
    with pytest.raises(ConfigError, match="comes later"):
        load_pipeline(make(tmp_path, text), stage_kinds=KINDS)


def test_data_dir_substitution(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data/in.txt").write_text("x")
    text = PIPELINE.replace("text: ab", "text: ab\n    source: ${data_dir}/in.txt")
    pipeline = load_pipeline(make(tmp_path, text), data_dir=tmp_path / "data", stage_kinds=KINDS)
    assert pipeline.stages["first"].config.source == str((tmp_path / "data/in.txt").resolve())
