"""The ``train_summarizer`` stage end to end on a synthetic headline corpus whose headlines need
copying (names the vocabulary lacks), the model folder, ``nlp-rnn summarize`` and its bad input."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from click.testing import CliRunner

from nlp_rnn.api import load_model
from nlp_rnn.cli import main
from nlp_rnn.models.low_precision import int8_available
from nlp_rnn.pipeline import load_pipeline, run_pipeline

VERBS = ["visits", "meets", "praises", "criticizes", "leaves", "joins"]
PLACES = ["athens", "paris", "tokyo", "lima", "oslo", "cairo"]
FILLER = ["on monday", "on tuesday", "late on friday", "this week"]


def name(rng: random.Random) -> str:
    """A made-up name: each is rare, so most fall outside a small vocabulary."""
    return "".join(rng.choice("bcdfgklmnprstvz") + rng.choice("aeiou") for _ in range(3))


def write_corpus(folder: Path, pairs: int, seed: int, stem: str) -> tuple[Path, Path]:
    """Articles 'FILLER , NAME VERB PLACE , officials said .' with headlines 'NAME VERB PLACE'."""
    rng = random.Random(seed)
    articles, titles = [], []
    for _ in range(pairs):
        who, verb, where = name(rng), rng.choice(VERBS), rng.choice(PLACES)
        articles.append(f"{rng.choice(FILLER)} , {who} {verb} {where} , officials said .")
        titles.append(f"{who} {verb} {where}")
    src, tgt = folder / f"{stem}.article.txt", folder / f"{stem}.title.txt"
    src.write_text("\n".join(articles) + "\n", encoding="utf-8")
    tgt.write_text("\n".join(titles) + "\n", encoding="utf-8")
    return src, tgt


def pipeline(folder: Path) -> str:
    train = write_corpus(folder, 800, 0, "train")
    dev = write_corpus(folder, 60, 1, "dev")
    return f"""
name: summarizer_test
seed: 3
stages:
  data:
    kind: corpus
    format: parallel
    splits: {{train: {train[0]}, dev: {dev[0]}}}
    targets: {{train: {train[1]}, dev: {dev[1]}}}
  summarize:
    kind: train_summarizer
    input: data
    vocab_size: 40
    max_source_length: 12
    model: {{embedding_dim: 24, cell: gru, encoder_hidden: 32, encoder_layers: 1, decoder_hidden: 48,
             decoder_layers: 1, attention: general, input_feeding: false, tie_embeddings: true,
             dropout: 0.0, embedding_dropout: 0.0, copy_source: true}}
    trainer: {{lr: 0.01, max_tokens: 1200, max_epochs: 8, tensorboard: false, plot: false}}
    decoding: {{beam_size: 3, max_length: 8, no_repeat_ngram_size: 2}}
    lead_baselines: [3, 6]
    bootstrap_samples: 100
    samples: ["on monday , zorbaxi visits oslo , officials said ."]
"""


@pytest.fixture(scope="module")
def summarizer(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("summarizer")
    path = folder / "pipeline.yaml"
    path.write_text(pipeline(folder), encoding="utf-8")
    run_pipeline(load_pipeline(path), folder / "run")
    return folder / "run"


def test_copying_model_learns_the_headlines_and_beats_the_lead(summarizer: Path) -> None:
    metrics = json.loads((summarizer / "metrics.json").read_text())
    for key in ("rouge1", "rouge2", "rougeL", "rouge1_greedy", "lead3.rouge1", "lead6.rouge1", "ppl"):
        assert f"summarize.dev.{key}" in metrics
    # Every headline word is in the article, names only by copying: near-perfect summaries.
    assert metrics["summarize.dev.rouge1"] > 90
    assert metrics["summarize.dev.rouge1_over_best_lead"] > 20
    evaluation = summarizer / "stages" / "summarize" / "evaluation"
    report = json.loads((evaluation / "report.json").read_text())
    assert report["beam"]["copied_words"] > 30  # most dev names are outside the 40-word vocabulary
    assert report["beam"]["rouge1_low"] <= report["beam"]["rouge1"] <= report["beam"]["rouge1_high"]
    assert len((evaluation / "dev.beam.txt").read_text(encoding="utf-8").splitlines()) == 60
    samples = (summarizer / "stages" / "summarize" / "samples.txt").read_text(encoding="utf-8")
    assert samples.split("\t")[1].strip() == "zorbaxi visits oslo"


def test_model_folder_loads_through_the_api(summarizer: Path) -> None:
    predictor = load_model(summarizer / "model")
    assert predictor.task == "summarization"
    [summary] = predictor.summarize(["this week , kamodu joins lima , officials said ."])
    assert summary.text == "kamodu joins lima"


def test_summarize_command_and_bad_input(summarizer: Path, tmp_path: Path) -> None:
    source, out = tmp_path / "in.txt", tmp_path / "out.txt"
    long = "on monday , " + "tavo " * 300 + "visits paris ."
    source.write_text(
        f"late on friday , pelura leaves cairo , officials said .\n\n{long}\n", encoding="utf-8"
    )
    runner = CliRunner()
    args = ["summarize", "--model", str(summarizer / "model"), "--input", str(source), "--output", str(out)]
    result = runner.invoke(main, [*args, "--beam", "2"])
    assert result.exit_code == 0, result.output
    lines = out.read_text(encoding="utf-8").split("\n")
    assert lines[0] == "pelura leaves cairo" and lines[1] == "" and len(lines) == 4
    assert "1 empty line(s)" in result.output and "were cut to it" in result.output
    # min above max, a missing file, a folder of another task: clear errors, no output written.
    bad = runner.invoke(main, [*args[:-1], str(tmp_path / "x.txt"), "--min-length", "9", "--max-length", "3"])
    assert bad.exit_code != 0 and "--min-length 9 is above --max-length 3" in bad.output
    assert not (tmp_path / "x.txt").exists()
    other = tmp_path / "translator"
    other.mkdir()
    (other / "config.json").write_text(
        json.dumps({"task": "translation", "format_version": 1}), encoding="utf-8"
    )
    bad = runner.invoke(
        main, ["summarize", "--model", str(other), "--input", str(source), "--output", str(tmp_path / "y")]
    )
    assert bad.exit_code != 0 and "a translation model, not a summarizer" in bad.output
    assert "nlp-rnn translate" in bad.output and not (tmp_path / "y").exists()


@pytest.mark.skipif(not int8_available(), reason="needs PyTorch's x86 quantized engine")
def test_summarize_command_in_int8(summarizer: Path, tmp_path: Path) -> None:
    source, out = tmp_path / "in.txt", tmp_path / "out.txt"
    source.write_text("late on friday , pelura leaves cairo , officials said .\n\n", encoding="utf-8")
    args = ["summarize", "--model", str(summarizer / "model"), "--input", str(source), "--output", str(out)]
    result = CliRunner().invoke(main, [*args, "--beam", "2", "--precision", "int8"])
    assert result.exit_code == 0, result.output
    assert out.read_text(encoding="utf-8").split("\n") == ["pelura leaves cairo", "", ""]
    out.unlink()
    on_a_gpu = CliRunner().invoke(main, [*args, "--precision", "int8", "--device", "cuda"])
    assert on_a_gpu.exit_code != 0 and "int8 runs on the CPU only" in on_a_gpu.output
    assert not out.exists()
