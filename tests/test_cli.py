"""End-to-end tests of the `nlp-rnn` command line (click's CliRunner) on the demo corpora."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from nlp_rnn.cli import main

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "pipelines" / "demo.yaml"


def invoke(*args: str):
    return CliRunner().invoke(main, [str(arg) for arg in args], catch_exceptions=False)


def test_run_demo_then_reuse(tmp_path: Path) -> None:
    first = invoke("run", DEMO, "--run-dir", tmp_path)
    assert first.exit_code == 0, first.output
    assert "13 stage(s) ran, 0 reused" in first.output
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["sentiment_data.train.rows"] == 400
    assert metrics["pos_tagger.dev.upos_accuracy"] > 0.8  # 121 dev words of the demo treebank
    assert (tmp_path / "model" / "tagger" / "config.json").is_file()
    assert metrics["translator.dev.bleu"] > 50  # the demo language is a word-for-word code
    assert (tmp_path / "model" / "translator" / "config.json").is_file()
    assert (tmp_path / "run.log").is_file() and (tmp_path / "pipeline.yaml").is_file()

    second = invoke("run", DEMO, "--run-dir", tmp_path, "--set", "stages.sentiment_vocab.min_freq=30")
    assert second.exit_code == 0, second.output
    assert "2 stage(s) ran, 11 reused" in second.output  # the vocabulary and the classifier that reads it
    assert (
        json.loads((tmp_path / "metrics.json").read_text())["sentiment_vocab.size"]
        < metrics["sentiment_vocab.size"]
    )


def test_until_and_force(tmp_path: Path) -> None:
    result = invoke("run", DEMO, "--run-dir", tmp_path, "--until", "sentiment_tokens")
    assert "2 stage(s) ran, 0 reused" in result.output
    result = invoke("run", DEMO, "--run-dir", tmp_path, "--until", "sentiment_tokens", "--force")
    assert "2 stage(s) ran, 0 reused" in result.output


def test_user_errors_are_one_line_and_non_zero(tmp_path: Path) -> None:
    result = invoke("run", DEMO, "--run-dir", tmp_path, "--set", "stages.sentiment_vocab.min_frq=2")
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        "error: --set stages.sentiment_vocab.min_frq=2: unknown key 'stages.sentiment_vocab.min_frq'; "
        "did you mean 'min_freq'?"
    ]
    result = invoke("run", tmp_path / "missing.yaml")
    assert result.exit_code != 0 and "config file not found" in result.output
    assert not (tmp_path / "metrics.json").exists()


def test_console_script_runs_from_another_directory(tmp_path: Path) -> None:
    """The installed entry point works outside the checkout; --help stays fast and import-light."""
    script = Path(sys.executable).with_name("nlp-rnn")
    env = {**os.environ, "NLP_RNN_DATA": str(tmp_path)}
    result = subprocess.run(
        [script, "--help"], cwd=tmp_path, env=env, capture_output=True, text=True, check=True
    )
    for command in ("run", "corpus", "tokenize", "vocab", "w2v", "tag", "evaluate"):
        assert command in result.stdout
    probe = "import sys, nlp_rnn.cli; print('torch' in sys.modules, 'datasets' in sys.modules)"
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert loaded.stdout.split() == ["False", "False"]


def test_python_dash_m_runs_the_same_command_line(tmp_path: Path) -> None:
    """``python -m nlp_rnn`` is the command line where no console script is installed."""
    missing = subprocess.run(
        [sys.executable, "-m", "nlp_rnn", "tag", "--model", "none", "--input", "in.txt", "--output", "out"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert missing.returncode != 0 and missing.stderr.startswith("error: ")
    assert "Traceback" not in missing.stderr and not (tmp_path / "out").exists()
    usage = subprocess.run(
        [sys.executable, "-m", "nlp_rnn", "--help"], capture_output=True, text=True, check=True
    )
    assert usage.stdout.startswith("Usage: nlp-rnn ")
