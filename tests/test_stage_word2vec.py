"""Tests for the word2vec pipeline stage and pipelines/word2vec_wiki.yaml."""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

import numpy as np
import pytest

from nlp_rnn.embeddings.vectors_io import MODEL_INFO_FILE, MODEL_TEXT_FILE, load_model_vectors, load_vectors
from nlp_rnn.errors import ConfigError, InputError
from nlp_rnn.pipeline import load_pipeline, run_pipeline
from nlp_rnn.stages.corpus import CorpusStage
from nlp_rnn.stages.word2vec import CORPUS_FILE, EVALUATION_FILE, Word2VecStage

KINDS = {"word2vec": Word2VecStage, "corpus": CorpusStage}
REPO = Path(__file__).resolve().parents[1]


def write_corpus(path: Path, lines: int, seed: int) -> Path:
    rng = random.Random(seed)
    topics = [
        ["Cat", "dog", "mouse", "horse"],
        ["red", "green", "blue", "pink"],
        ["one", "two", "three", "four"],
    ]
    with open(path, "w", encoding="utf-8") as handle:
        for _ in range(lines):
            handle.write(" ".join(rng.choices(rng.choice(topics), k=7)) + ", and so on.\n")
    return path


PIPELINE = """\
name: w2v_toy
seed: 4
stages:
  vectors:
    kind: word2vec
    corpora:
      - source: {first}
      - source: {second}
        max_rows: 50
    dim: 12
    window: 3
    epochs: 2
    min_count: 2
    workers: 1
    coverage:
      - name: dev
        source: {dev}
        split: train
"""


@pytest.fixture
def toy_pipeline(tmp_path: Path) -> Path:
    first = write_corpus(tmp_path / "first.txt", 200, seed=1)
    second = write_corpus(tmp_path / "second.txt", 200, seed=2)
    dev = tmp_path / "dev.txt"
    dev.write_text("the cat and a zebra .\n", encoding="utf-8")
    path = tmp_path / "pipeline.yaml"
    path.write_text(PIPELINE.format(first=first, second=second, dev=dev), encoding="utf-8")
    return path


def test_stage_trains_evaluates_and_exports(toy_pipeline: Path, tmp_path: Path) -> None:
    pipeline = load_pipeline(toy_pipeline, stage_kinds=KINDS)
    result = run_pipeline(pipeline, tmp_path / "run", data_dir=tmp_path)
    metrics = result.outcomes[0].metrics
    for key in ("analogy_accuracy", "ws353_spearman", "simlex_spearman", "vocab_size", "train_seconds"):
        assert key in metrics
    assert metrics["words_per_second"] > 0
    assert metrics["vocab_size"] == 17  # 12 topic words + , and so on .
    assert metrics["dev.tokens"] == 6 and metrics["dev.token_coverage"] == 0.5  # cat, and, .

    stage_dir = tmp_path / "run" / "stages" / "vectors"
    corpus = (stage_dir / CORPUS_FILE).read_text(encoding="utf-8").splitlines()
    assert len(corpus) == 250  # 200 lines + the first 50 of the second corpus
    assert corpus[0].endswith(", and so on .") and corpus[0] == corpus[0].lower()  # regex, lowercased
    assert not list(stage_dir.glob(".part*")) and not (stage_dir / ".cache").exists()
    assert json.loads((stage_dir / EVALUATION_FILE).read_text())["coverage"]["dev"]["tokens"] == 6

    model_dir = tmp_path / "run" / "model"
    kv = load_model_vectors(model_dir)
    text = load_vectors(model_dir / MODEL_TEXT_FILE)
    assert text.index_to_key == kv.index_to_key
    np.testing.assert_array_equal(text.vectors, kv.vectors)
    info = json.loads((model_dir / MODEL_INFO_FILE).read_text())
    assert info["seed"] == 4 and info["settings"]["dim"] == 12 and info["tokenizer"]["kind"] == "regex"

    again = run_pipeline(load_pipeline(toy_pipeline, stage_kinds=KINDS), tmp_path / "run", data_dir=tmp_path)
    assert again.outcomes[0].status == "reused"


def test_same_seed_same_vectors(toy_pipeline: Path, tmp_path: Path) -> None:
    runs = []
    for name in ("a", "b"):
        run_pipeline(load_pipeline(toy_pipeline, stage_kinds=KINDS), tmp_path / name, data_dir=tmp_path)
        runs.append(load_model_vectors(tmp_path / name / "model"))
    np.testing.assert_array_equal(runs[0].vectors, runs[1].vectors)


def test_reads_a_pretokenized_stage(tmp_path: Path, fixtures_dir: Path) -> None:
    path = tmp_path / "pipeline.yaml"
    path.write_text(
        f"""\
name: from_stage
stages:
  ewt:
    kind: corpus
    splits: {{train: {fixtures_dir / "sample.conllu"}}}
  vectors:
    kind: word2vec
    corpora: [{{stage: ewt, column: tokens}}]
    min_count: 1
    workers: 1
    epochs: 1
""",
        encoding="utf-8",
    )
    pipeline = load_pipeline(path, stage_kinds=KINDS)
    assert pipeline.stages["vectors"].upstream() == ["ewt"]
    run_pipeline(pipeline, tmp_path / "run", data_dir=tmp_path)
    corpus = (tmp_path / "run" / "stages" / "vectors" / CORPUS_FILE).read_text(encoding="utf-8")
    assert corpus.splitlines()[0].split()[:3] == ["do", "n't", "know"]  # the treebank's words
    assert {"Mary", "We"} <= set(corpus.split())  # used as they are: not re-tokenized or lowercased


def test_empty_corpus_is_an_input_error(tmp_path: Path) -> None:
    empty = tmp_path / "empty.txt"
    empty.write_text("\n\n", encoding="utf-8")
    path = tmp_path / "pipeline.yaml"
    path.write_text(f"name: e\nstages:\n  v:\n    kind: word2vec\n    corpora: [{{source: {empty}}}]\n")
    with pytest.raises(InputError, match="the corpus is empty|empty"):
        run_pipeline(load_pipeline(path, stage_kinds=KINDS), tmp_path / "run", data_dir=tmp_path)
    assert not (tmp_path / "run" / "stages" / "v").exists()  # a failed stage leaves nothing behind


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("stages.word2vec.dims=300", "unknown key 'stages.word2vec.dims'; did you mean 'dim'"),
        ("stages.word2vec.algorithm=glove", "algorithm"),
        ("stages.word2vec.tokenizer.kind=char", "word-level tokenizers"),
        ("stages.word2vec.corpora=[{source: a, stage: b}]", "exactly one of source and stage"),
    ],
)
def test_config_errors(override: str, message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_pipeline(REPO / "pipelines" / "word2vec_wiki.yaml", [override], stage_kinds=KINDS)


def test_wiki_pipeline_file_is_valid_and_commented(tmp_path: Path) -> None:
    source = REPO / "pipelines" / "word2vec_wiki.yaml"
    pipeline = load_pipeline(source, stage_kinds=KINDS, data_dir=tmp_path)
    config = pipeline.stages["word2vec"].config
    assert [part.source for part in config.corpora] == ["wikipedia_en", "imdb_unsup"]
    assert config.analogy_restrict == 30000
    # Every key carries a comment, on its line or in the comment block just above it.
    lines = source.read_text(encoding="utf-8").splitlines()
    for number, line in enumerate(lines):
        if re.match(r"^\s*(- )?[A-Za-z_]+:", line):
            above = lines[number - 1].strip() if number else ""
            assert "#" in line or above.startswith("#"), f"line {number + 1} has no comment: {line}"
    # One --set switches the vectors to another dimension; the stage keeps everything else.
    bigger = load_pipeline(source, ["stages.word2vec.dim=300"], stage_kinds=KINDS, data_dir=tmp_path)
    assert bigger.stages["word2vec"].config.dim == 300


@pytest.mark.slow
def test_wiki_pipeline_on_a_slice(corpora_dir: Path, tmp_path: Path) -> None:
    """The real pipeline on the first 20,000 Wikipedia paragraphs: runs end to end, sane numbers."""
    overrides = [
        "stages.word2vec.corpora=[{source: wikipedia_en, max_rows: 20000}]",
        "stages.word2vec.epochs=1",
    ]
    pipeline = load_pipeline(REPO / "pipelines" / "word2vec_wiki.yaml", overrides, stage_kinds=KINDS)
    result = run_pipeline(pipeline, tmp_path / "run", data_dir=corpora_dir)
    metrics = result.outcomes[0].metrics
    assert metrics["vocab_size"] > 5000 and metrics["corpus_tokens"] > 500_000
    assert 0 < metrics["sst2_dev.token_coverage"] <= 1
