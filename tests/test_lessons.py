"""The Keras lessons of scripts/lessons: each runs, prints its numbers and teaches what it claims."""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import io
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import torch

ROOT = Path(__file__).resolve().parent.parent
LESSONS = ROOT / "scripts" / "lessons"
SCRIPTS = sorted(LESSONS.glob("[0-9][0-9]_*.py"))

if str(LESSONS) not in sys.path:  # the lessons import their shared helpers as `_common`
    sys.path.insert(0, str(LESSONS))


def load(number: int) -> ModuleType:
    """The lesson script ``NN_*.py`` as a module."""
    (path,) = LESSONS.glob(f"{number:02d}_*.py")
    spec = importlib.util.spec_from_file_location(f"lesson_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@functools.cache
def run(number: int, seed: int = 0) -> tuple[dict[str, Any], str]:
    """What lesson ``number``'s ``main(seed)`` returns and prints (each lesson runs once per seed)."""
    output = io.StringIO()
    with contextlib.redirect_stdout(output):
        result = load(number).main(seed=seed)
    return result, output.getvalue()


def test_lessons_are_numbered_in_order_and_documented() -> None:
    assert [path.name[:2] for path in SCRIPTS] == [f"{n:02d}" for n in range(1, 11)]
    for readme in ("README.md", "README.ko.md"):
        text = (LESSONS / readme).read_text(encoding="utf-8")
        for path in SCRIPTS:
            assert f"python scripts/lessons/{path.name}" in text, (readme, path.name)


def test_01_hello_rnn_shapes_and_equation() -> None:
    result, printed = run(1)
    assert result["input_shape"] == (3, 5, 4)
    assert result["outputs_shape"] == (3, 5, 2)
    assert result["state_shape"] == (3, 2)
    assert result["last_only_shape"] == (3, 2)
    assert result["states_shape"] == (1, 3, 2)
    assert result["last_equals_state"] and result["return_sequences_off_equals_state"]
    assert result["by_hand_error"] < 1e-6 and result["reference_error"] < 1e-6
    assert result["first_step"] == result["hello_outputs"][0]  # h_1 = tanh(W[:, 0] + b)
    assert str(result["hello_outputs"][0]) in printed


def test_02_hihello_learns_the_next_character_exactly() -> None:
    result, printed = run(2)
    assert result["final"] == "ihello"
    assert result["predictions"][0] != "ihello"  # it had to learn it
    assert len(result["predictions"]) == result["epochs"] < load(2).MAX_EPOCHS
    assert result["logits_shape"] == (1, 6, 5)
    assert "prediction 'ihello'" in printed


def test_03_embedding_equals_one_hot_times_weights() -> None:
    result, _ = run(3)
    assert result["one_hot_shape"] == (2, 4, 8)
    assert result["embedding_shape"] == (2, 4, 3)
    assert result["values_equal"]
    assert result["grad_error"] < 1e-6
    assert result["unused_rows"] == [6, 7] and result["unused_rows_zero_grad"]
    assert result["repeated_id_grad_is_sum"]
    assert result["frozen_is_one_hot"] and not result["frozen_trainable"]


def test_04_parameter_counts_against_the_keras_formula() -> None:
    counts = run(4)[0]["counts"]
    expected = {  # name: (kernel, nlp-rnn count, Keras count)
        "SimpleRNN(64)": ((100, 64), 10_624, 100 * 64 + 64 * 64 + 64),
        "LSTM(64)": ((100, 256), 42_496, 4 * (100 * 64 + 64 * 64 + 64)),
        "GRU(64)": ((100, 192), 31_872, 3 * (100 * 64 + 64 * 64 + 2 * 64)),
        "Bidirectional(SimpleRNN(64))": ((100, 64), 2 * 10_624, 2 * 10_560),
        "Bidirectional(LSTM(64))": ((100, 256), 2 * 42_496, 2 * 42_240),
    }
    for name, (kernel, ours, keras) in expected.items():
        assert counts[name]["kernel"] == kernel, name
        assert counts[name]["nlp_rnn"] == ours, name
        assert counts[name]["keras"] == keras, name
    assert counts["LSTM(64)"]["recurrent_kernel"] == (64, 256)
    assert run(4)[0]["bidirectional_shape"] == (1, 5, 128)
    assert run(4)[0]["bidirectional_sum_shape"] == (1, 5, 64)


def test_05_sentiment_classifier_and_mask_zero() -> None:
    result, _ = run(5)
    assert result["vocab_size"] == 44
    assert result["dev_accuracy"] >= 0.9
    assert result["dev_accuracy"] > result["majority_baseline"] + 0.3
    masked, unmasked = result["masked_probabilities"], result["unmasked_probabilities"]
    assert result["masked_equal"] and len(set(result["masked_labels"])) == 1
    assert min(abs(m - u) for m, u in zip(masked, unmasked, strict=True)) > 1e-4  # padding read: changes
    assert len(set(unmasked)) == len(unmasked)


def test_06_stacked_rnn_and_time_distributed_dropout() -> None:
    result, _ = run(6)
    assert result["layer_output_shapes"] == [(4, 7, 32), (4, 7, 16), (4, 7, 8)]
    assert result["sequence_shape"] == (4, 7, 8)
    assert result["state_shapes"] == [((1, 4, size), (1, 4, size)) for size in (32, 16, 8)]
    assert result["eval_same"] and not result["train_same"]
    assert 0.35 < result["dropped_share"] < 0.65
    assert result["kept_scaled"] and result["padding_zero"]


def test_07_tagger_beats_the_majority_baseline() -> None:
    result, _ = run(7)
    assert result["logits_shape"][2] == 9  # 9 UPOS tags, one distribution per word
    assert result["majority_baseline"] < 0.25
    assert result["dev_accuracy"] >= 0.9
    assert result["example_tags"] == result["example_gold"]
    books = {
        tag
        for word, tag in zip(result["example_tokens"], result["example_tags"], strict=True)
        if word == "book"
    }
    assert books == {"VERB", "NOUN"}


def test_08_seq2seq_answers_exactly_with_attention() -> None:
    result, printed = run(8)
    assert result["first_tgt_in"][0] == 2  # BOS
    real = [i for i in result["first_tgt_out"] if i != 0]
    assert real[-1] == 3 and result["first_tgt_in"][1 : len(real)] == real[:-1]  # shifted by one
    assert result["all_exact"]
    assert result["beam_best"] == list(reversed(result["question"]))
    attention = torch.tensor(result["attention"])  # (answer + EOS) x question
    assert attention.shape == (len(result["question"]) + 1, len(result["question"]))
    torch.testing.assert_close(attention.sum(dim=1), torch.ones(len(attention)))
    mirrored = list(reversed(range(len(result["question"]))))
    assert attention[:-1].argmax(dim=1).tolist() == mirrored  # word i of the answer reads word n-1-i
    assert "exact answers 40/40" in printed


def test_09_weighted_sequence_loss() -> None:
    result, _ = run(9)
    loss = result["sequence_loss"]
    assert result["real_mean"] == pytest.approx(loss, abs=1e-6)
    assert result["ignore_index"] == pytest.approx(loss, abs=1e-6)
    assert result["noisy_sequence_loss"] == loss and result["padding_invariant"]
    assert result["noisy_ignore_index"] == pytest.approx(loss, abs=1e-6)
    assert abs(result["plain_mean"] - loss) > 1e-3
    assert result["padding_grad_zero"]
    assert abs(sum(result["per_sequence"]) / 2 - loss) > 1e-3  # per-sequence means weigh rows equally
    assert result["seq2seq_error"] < 1e-6


def test_10_four_shapes() -> None:
    result, _ = run(10)
    assert result["shapes"] == {
        "many-to-one": ((3, 5), (3, 2)),
        "one-to-many": ((10, 10), (10, 4, 10)),
        "many-to-many": ((3, 5), (3, 5, 4)),
        "encoder-decoder": ((3, 5), (3, 8, 12)),
    }
    assert result["one_to_many"] == [[(d + k) % 10 for k in range(1, 5)] for d in range(10)]


@pytest.mark.parametrize("number", [1, 9])
def test_lesson_runs_as_a_command_with_its_seed(number: int) -> None:
    (script,) = LESSONS.glob(f"{number:02d}_*.py")
    env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    command = [sys.executable, str(script.relative_to(ROOT)), "--seed", "3"]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=True)
    assert done.stdout == run(number, seed=3)[1]  # deterministic, and --seed reaches main
    assert done.stdout != run(number)[1]
