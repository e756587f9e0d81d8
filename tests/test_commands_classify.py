"""``nlp-rnn classify`` and ``nlp-rnn evaluate-classifier`` through click, on tiny model folders."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner
from test_task_classification import make_model_folder

from nlp_rnn.cli import main

DEMO_DEV = Path(__file__).resolve().parent.parent / "corpora" / "demo" / "sentiment.dev.txt"


def invoke(*args: object):
    return CliRunner().invoke(main, [str(arg) for arg in args], catch_exceptions=False)


def test_classify_writes_one_label_per_line(tmp_path: Path) -> None:
    model = make_model_folder(tmp_path / "model")
    texts = tmp_path / "in.txt"
    texts.write_text("the movie is good .\nbad\nnot good at all , the movie\n", encoding="utf-8")
    out = tmp_path / "labels.txt"
    result = invoke("classify", "--model", model, "--input", texts, "--output", out, "--batch-size", 2)
    assert result.exit_code == 0, result.output
    labels = out.read_text().splitlines()
    assert len(labels) == 3 and set(labels) <= {"neg", "pos"}
    assert "3 lines classified" in result.output

    result = invoke("classify", "--model", model, "--input", texts, "--output", out, "--probs")
    rows = [line.split("\t") for line in out.read_text().splitlines()]
    assert [row[0] for row in rows] == labels
    for _label, neg, pos in rows:
        assert neg.startswith("neg=") and pos.startswith("pos=")
        assert abs(float(neg[4:]) + float(pos[4:]) - 1) < 1e-3


def test_classify_in_bf16(tmp_path: Path) -> None:
    model = make_model_folder(tmp_path / "model")
    texts = tmp_path / "in.txt"
    texts.write_text("the movie is good .\nbad\n", encoding="utf-8")
    out = tmp_path / "labels.txt"
    args = ("classify", "--model", model, "--input", texts, "--output", out)
    result = invoke(*args, "--precision", "bf16", "--probs")
    assert result.exit_code == 0, result.output
    assert len(out.read_text().splitlines()) == 2
    out.unlink()
    wrong = CliRunner().invoke(main, [str(arg) for arg in (*args, "--precision", "fp16")])
    assert wrong.exit_code != 0 and "'fp16' is not one of 'fp32', 'bf16'" in wrong.output
    assert not out.exists()


def test_empty_line_is_an_error_naming_it_and_leaves_no_output(tmp_path: Path) -> None:
    model = make_model_folder(tmp_path / "model")
    texts = tmp_path / "in.txt"
    texts.write_text("good\n  \nbad\n", encoding="utf-8")
    out = tmp_path / "labels.txt"
    result = invoke("classify", "--model", model, "--input", texts, "--output", out)
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        f"error: {texts}:2: empty line; give one text per line (every line gets a label)"
    ]
    assert not out.exists() and list(tmp_path.glob(".labels.txt*")) == []


def test_broken_model_folder_is_one_line(tmp_path: Path) -> None:
    model = make_model_folder(tmp_path / "model")
    weights = model / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:50])
    texts = tmp_path / "in.txt"
    texts.write_text("good\n", encoding="utf-8")
    result = invoke("classify", "--model", model, "--input", texts, "--output", tmp_path / "out.txt")
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "cannot read the weights" in lines[0]


def test_evaluate_classifier_prints_scores_and_writes_a_report(tmp_path: Path) -> None:
    model = make_model_folder(tmp_path / "model", labels=("0", "1"))
    out = tmp_path / "eval"
    result = invoke(
        "evaluate-classifier", "--model", model, "--data", DEMO_DEV, "--format", "label_text",
        "--output-dir", out, "--mistakes", 3,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "accuracy" in result.output and "macro-F1" in result.output
    assert "of 100 examples" in result.output
    assert {p.name for p in out.iterdir()} == {"report.json", "confusion.png", "mistakes.tsv"}


def test_evaluate_classifier_refuses_unknown_labels(tmp_path: Path) -> None:
    model = make_model_folder(tmp_path / "model", labels=("neg", "pos"))
    result = invoke("evaluate-classifier", "--model", model, "--data", DEMO_DEV, "--format", "label_text")
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1
    assert "row 0: label '0' is not one of the model's labels (neg, pos)" in lines[0]
