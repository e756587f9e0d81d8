"""The train_language_model stage end to end on small corpora (stream and conditioned documents),
the ``generate`` and ``lm-perplexity`` commands, and the errors for bad settings and input."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from click.testing import CliRunner

from nlp_rnn.cli import main
from nlp_rnn.errors import ConfigError
from nlp_rnn.pipeline import load_pipeline, run_pipeline

SUBJECTS = ["the cat", "a dog", "the bird", "my friend", "the old man"]
VERBS = ["sat on", "looked at", "ran to", "slept near"]
OBJECTS = ["the mat.", "a tree.", "the house.", "the river."]
FAST = "trainer: {lr: 0.01, max_epochs: 6, plot: false, tensorboard: false, log_every: 20}"
TINY = "model: {embedding_dim: 16, hidden_size: 32, dropout: 0.0, embedding_dropout: 0.0}"


def sentences(count: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    return [f"{rng.choice(SUBJECTS)} {rng.choice(VERBS)} {rng.choice(OBJECTS)}" for _ in range(count)]


def run(tmp_path: Path, text: str):  # -> RunResult
    path = tmp_path / "pipeline.yaml"
    path.write_text(text, encoding="utf-8")
    return run_pipeline(load_pipeline(path), tmp_path / "run")


def stream_pipeline(folder: Path, extra: str = "", trainer: str = FAST) -> str:
    (folder / "train.txt").write_text("\n".join(sentences(150, 1)) + "\n", encoding="utf-8")
    (folder / "dev.txt").write_text("\n".join(sentences(30, 2)) + "\n", encoding="utf-8")
    return f"""
name: lm_test
seed: 3
stages:
  data:
    kind: corpus
    splits: {{train: {folder / "train.txt"}, dev: {folder / "dev.txt"}}}
  lm:
    kind: train_language_model
    input: data
    streams: 8
    bptt: 32
    eval_streams: 4
    tokens: {{level: char}}
    {TINY}
    {trainer}
    kn: {{orders: [2, 4]}}
    generation: {{max_tokens: 40, seed: 1}}
    samples: [{{prompt: "the "}}]
    {extra}
"""


@pytest.fixture(scope="module")
def stream_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("lm_stream")
    run(folder, stream_pipeline(folder))
    return folder / "run"


def test_metrics_and_outputs_of_a_stream_run(stream_run: Path) -> None:
    metrics = json.loads((stream_run / "metrics.json").read_text())
    for key in ("rnn_ppl", "rnn_bpc", "kn_ppl", "kn_bpc", "kn2_ppl", "kn4_bpc", "tokens", "characters"):
        assert f"lm.dev.{key}" in metrics
    assert metrics["lm.dev.rnn_ppl"] < metrics["lm.dev.kn2_ppl"]  # a bigram is no match for the LSTM
    assert metrics["lm.dev.kn_order"] == 4 and metrics["lm.dev.kn_ppl"] == metrics["lm.dev.kn4_ppl"]
    assert metrics["lm.dev.tokens"] == metrics["lm.dev.characters"]  # characters: one id each
    assert metrics["lm.train.tokens_per_second"] > 0 and metrics["lm.train_seconds"] > 0
    stage = stream_run / "stages" / "lm"
    report = json.loads((stage / "report.json").read_text())
    assert [r["order"] for r in report["kneser_ney"]] == [2, 4]
    assert report["kneser_ney"][0]["tokens"] == metrics["lm.dev.tokens"]  # the same targets as the RNN
    assert report["samples"][0]["text"].startswith("the ")
    saved = json.loads((stream_run / "model" / "metrics.json").read_text())
    assert saved["dev.rnn_ppl"] == metrics["lm.dev.rnn_ppl"]
    assert len((stage / "heldout.txt").read_text().splitlines()) == 30


def test_lm_perplexity_reproduces_the_held_out_number(stream_run: Path) -> None:
    metrics = json.loads((stream_run / "metrics.json").read_text())
    heldout = stream_run / "stages" / "lm" / "heldout.txt"
    result = CliRunner().invoke(
        main, ["lm-perplexity", "--model", str(stream_run / "model"), "--input", str(heldout), "--json"]
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert (
        round(report["ppl"], 4) == metrics["lm.dev.rnn_ppl"]
        and round(report["bpc"], 4) == metrics["lm.dev.rnn_bpc"]
    )
    assert report["documents"] == 30 and report["tokens"] == metrics["lm.dev.tokens"]


def test_generate_command(stream_run: Path) -> None:
    model = str(stream_run / "model")
    args = [
        "generate",
        "--model",
        model,
        "--prompt",
        "the c",
        "--max-tokens",
        "30",
        "--seed",
        "5",
        "--num",
        "2",
    ]
    first, second = CliRunner().invoke(main, args), CliRunner().invoke(main, args)
    assert first.exit_code == 0, first.output
    lines = [line for line in first.stdout.splitlines() if line]
    assert len(lines) == 2 and all(line.startswith("the c") for line in lines)
    assert first.stdout == second.stdout  # the same seed, the same texts
    greedy = CliRunner().invoke(main, ["generate", "--model", model, "--temperature", "0", "--json"])
    record = json.loads(greedy.stdout.splitlines()[0])
    assert record["prompt"] == "" and record["tokens"] >= 1
    top1 = CliRunner().invoke(main, ["generate", "--model", model, "--top-k", "1", "--json", "--seed", "9"])
    assert json.loads(top1.stdout.splitlines()[0])["text"] == record["text"]


def test_generate_errors(stream_run: Path, tmp_path: Path) -> None:
    model = str(stream_run / "model")
    labelled = CliRunner().invoke(main, ["generate", "--model", model, "--label", "pos"])
    assert labelled.exit_code == 1 and "not conditioned on labels" in labelled.output
    other = tmp_path / "classifier"
    other.mkdir()
    (other / "config.json").write_text('{"task": "classification"}', encoding="utf-8")
    wrong = CliRunner().invoke(main, ["generate", "--model", str(other)])
    assert wrong.exit_code == 1 and "a classification model, not a language model" in wrong.output
    missing = CliRunner().invoke(
        main, ["lm-perplexity", "--model", model, "--input", str(tmp_path / "none.txt")]
    )
    assert missing.exit_code == 1 and "none.txt" in missing.output
    bad = tmp_path / "bad.txt"
    bad.write_text("no tab here\n", encoding="utf-8")
    unlabelled = CliRunner().invoke(
        main, ["lm-perplexity", "--model", model, "--input", str(bad), "--labelled"]
    )
    assert unlabelled.exit_code == 1 and "not conditioned on labels" in unlabelled.output


def test_a_conditioned_documents_run(tmp_path: Path) -> None:
    rng = random.Random(0)
    good, bad = ["great", "good", "fine", "lovely"], ["awful", "bad", "poor", "dull"]
    rows = [
        f"{label} the film was {rng.choice(words)} and {rng.choice(words)} ."
        for label, words in [("pos", good), ("neg", bad)] * 60
    ]
    (tmp_path / "reviews.txt").write_text("\n".join(rows) + "\n", encoding="utf-8")
    run(
        tmp_path,
        f"""
name: lm_labels
seed: 3
stages:
  data:
    kind: corpus
    format: label_text
    splits: {{train: {tmp_path / "reviews.txt"}}}
  lm:
    kind: train_language_model
    input: data
    label: label
    dev_split: train
    train_rows: [0, 100]
    dev_rows: [100, 120]
    shuffle_rows: true
    max_chars: 40
    layout: documents
    tokens: {{level: sentencepiece, vocab_size: 40}}
    {TINY}
    trainer: {{lr: 0.02, max_epochs: 8, batch_size: 16, plot: false, tensorboard: false}}
    kn: {{orders: [3]}}
    samples: [{{prompt: "the film was", label: pos}}, {{prompt: "the film was", label: neg}}]
""",
    )
    model = str(tmp_path / "run" / "model")
    heldout = tmp_path / "run" / "stages" / "lm" / "heldout.txt"
    assert all(line.split("\t")[0] in ("pos", "neg") for line in heldout.read_text().splitlines())
    scored = CliRunner().invoke(
        main, ["lm-perplexity", "--model", model, "--input", str(heldout), "--labelled", "--json"]
    )
    assert scored.exit_code == 0, scored.output
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert round(json.loads(scored.output)["ppl"], 4) == metrics["lm.dev.rnn_ppl"]
    assert metrics["lm.dev.rnn_ppl_other_label"] > metrics["lm.dev.rnn_ppl"]  # the label is used
    assert metrics["lm.dev.label_nats_per_document"] > 0
    words = {}
    for label in ("pos", "neg"):
        result = CliRunner().invoke(
            main,
            [
                "generate",
                "--model",
                model,
                "--prompt",
                "the film was",
                "--label",
                label,
                "--num",
                "8",
                "--seed",
                "1",
            ],
        )
        assert result.exit_code == 0, result.output
        words[label] = set(result.stdout.split())
    assert words["pos"] & set(good) and not words["pos"] & set(bad)
    assert words["neg"] & set(bad) and not words["neg"] & set(good)
    unknown = CliRunner().invoke(main, ["generate", "--model", model, "--label", "meh"])
    assert unknown.exit_code == 1 and "unknown label 'meh'; this model knows neg, pos" in unknown.output
    needs = CliRunner().invoke(main, ["generate", "--model", model])
    assert needs.exit_code == 1 and "conditioned on a label" in needs.output


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ("label: label", "use layout: documents"),
        ("dev_split: train\n    train_rows: [0, 10]\n    dev_rows: [5, 20]", "overlap"),
        ("dev_split: train", "need both train_rows and dev_rows"),
        ("trainer: {batch_size: 8}", "trainer batch_size: a stream's batches"),
    ],
)
def test_bad_settings_name_the_problem(tmp_path: Path, extra: str, message: str) -> None:
    trainer = "" if extra.startswith("trainer") else FAST
    with pytest.raises(ConfigError, match=message):
        run(tmp_path, stream_pipeline(tmp_path, extra, trainer))
