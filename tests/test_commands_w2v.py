"""Tests for the ``w2v`` command group (eval, neighbors, analogy, plot, convert)."""

from __future__ import annotations

import json
from pathlib import Path

import click
import numpy as np
import pytest
from click.testing import CliRunner
from gensim.models import KeyedVectors

from nlp_rnn.commands.w2v import w2v
from nlp_rnn.embeddings.vectors_io import load_vectors, save_model_vectors, save_vectors
from nlp_rnn.errors import InputError, NlpRnnError


@click.group()
def root() -> None:
    """A stand-in for the main CLI."""


root.add_command(w2v)


@pytest.fixture(scope="module")
def vectors_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Planted vectors: capitals and countries differ by one offset; animals cluster."""
    words = {
        "athens": [1, 0, 0, 0, 0],
        "greece": [1, 0, 1, 0, 0],
        "paris": [0, 1, 0, 0, 0],
        "france": [0, 1, 1, 0, 0],
        "rome": [0, 0, 0, 1, 0],
        "italy": [0, 0, 1, 1, 0],
        "cat": [0, 0, 0, 0, 1],
        "dog": [0.1, 0, 0, 0, 1],
        "cow": [0, 0.1, 0, 0, 1],
    }
    kv = KeyedVectors(vector_size=5, count=0)
    kv.add_vectors(list(words), np.array(list(words.values()), dtype=np.float32))
    folder = tmp_path_factory.mktemp("vectors")
    return save_vectors(kv, folder / "planted.txt")


def invoke(*args: str) -> click.testing.Result:
    return CliRunner().invoke(root, ["w2v", *args], catch_exceptions=True)


def test_neighbors(vectors_file: Path) -> None:
    result = invoke("neighbors", "CAT", "--vectors", str(vectors_file), "-n", "2")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "cat:" and {lines[1].split()[-1], lines[2].split()[-1]} == {"dog", "cow"}


def test_analogy(vectors_file: Path) -> None:
    result = invoke("analogy", "athens", "greece", "paris", "-m", str(vectors_file), "-n", "1")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0] == "athens : greece :: paris : ?"
    assert result.output.splitlines()[1].split()[-1] == "france"


def test_unknown_word_is_a_user_error(vectors_file: Path) -> None:
    result = invoke("neighbors", "unicorn", "--vectors", str(vectors_file))
    assert isinstance(result.exception, NlpRnnError)
    assert "'unicorn' has no vector" in str(result.exception)


def test_bad_vectors_file_is_a_user_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.txt"
    bad.write_text("2 3\ncat 1 2 3\ndog 1 2\n", encoding="utf-8")
    result = invoke("neighbors", "cat", "--vectors", str(bad))
    assert isinstance(result.exception, InputError) and result.exception.line == 3


def test_eval_json_and_text(vectors_file: Path, tmp_path: Path) -> None:
    dev = tmp_path / "dev.txt"
    dev.write_text("The cat and the dog .\n", encoding="utf-8")
    args = ("eval", "--vectors", str(vectors_file), "--coverage", f"{dev}:train:text")
    result = invoke(*args, "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["vocab_size"] == 9 and data["dim"] == 5
    assert set(data) >= {"analogy", "ws353", "simlex", "coverage"}
    assert data["coverage"]["dev.txt_train"]["tokens"] == 6
    assert data["coverage"]["dev.txt_train"]["tokens_found"] == 2
    text = invoke(*args)
    assert text.exit_code == 0, text.output
    assert (
        "WordSim353: Spearman" in text.output and "coverage dev.txt_train: 33.3% of 6 tokens" in text.output
    )


def test_plot(vectors_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "plot.png"
    result = invoke("plot", "cat", "dog", "paris", "unicorn", "-m", str(vectors_file), "-o", str(out))
    assert result.exit_code == 0, result.output
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "no vector for: unicorn" in result.output
    words = tmp_path / "words.txt"
    words.write_text("cat dog\nrome italy\n", encoding="utf-8")
    tsne = tmp_path / "tsne.png"
    result = invoke(
        "plot",
        "--words-file",
        str(words),
        "-m",
        str(vectors_file),
        "--method",
        "tsne",
        "-n",
        "1",
        "-o",
        str(tsne),
    )
    assert result.exit_code == 0, result.output
    assert tsne.is_file() and "tsne" in result.output


def test_convert(vectors_file: Path, tmp_path: Path) -> None:
    binary = tmp_path / "v.bin"
    result = invoke("convert", str(vectors_file), str(binary), "--to", "word2vec-binary")
    assert result.exit_code == 0, result.output
    glove = tmp_path / "v.glove.txt.gz"
    result = invoke("convert", str(binary), str(glove), "--to", "glove", "--limit", "3")
    assert result.exit_code == 0, result.output
    assert load_vectors(glove).index_to_key == ["athens", "greece", "paris"]
    np.testing.assert_array_equal(load_vectors(binary).vectors, load_vectors(vectors_file).vectors)


def test_model_folder_as_vectors(vectors_file: Path, tmp_path: Path) -> None:
    save_model_vectors(load_vectors(vectors_file), tmp_path / "model", {"tokenizer": {"kind": "whitespace"}})
    result = invoke("neighbors", "rome", "--vectors", str(tmp_path / "model"), "-n", "1")
    assert result.exit_code == 0, result.output
    out = tmp_path / "from_model.txt"
    assert invoke("convert", str(tmp_path / "model"), str(out)).exit_code == 0
    assert load_vectors(out).index_to_key == load_vectors(vectors_file).index_to_key


@pytest.mark.parametrize("method", ["pca", "tsne"])
def test_projection_keeps_clusters_apart(method: str) -> None:
    """Three well-separated clusters in 20-D stay separated in the 2-D map."""
    from nlp_rnn.embeddings.plot import project

    rng = np.random.default_rng(0)
    points = np.vstack([rng.normal(centre, 0.1, size=(15, 20)) for centre in (0.0, 3.0, 6.0)])
    mapped = project(points, method, seed=0)  # 45 x 2
    assert mapped.shape == (45, 2) and np.isfinite(mapped).all()
    labels = np.repeat([0, 1, 2], 15)
    centres = np.array([mapped[labels == k].mean(axis=0) for k in range(3)])
    spread = max(np.linalg.norm(mapped[labels == k] - centres[k], axis=1).mean() for k in range(3))
    gap = min(np.linalg.norm(centres[a] - centres[b]) for a in range(3) for b in range(a + 1, 3))
    assert gap > 3 * spread
    np.testing.assert_array_equal(project(points, method, seed=0), mapped)  # deterministic
