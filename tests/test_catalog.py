"""Tests for nlp_rnn.data.catalog: data folder resolution, catalog names, local paths, Hub sources."""

from __future__ import annotations

import shutil
from pathlib import Path

import datasets
import pytest

from nlp_rnn.data import catalog
from nlp_rnn.data.catalog import (
    CATALOG,
    default_data_dir,
    infer_format,
    list_corpora,
    load_corpus,
    parse_hub_source,
)
from nlp_rnn.errors import ConfigError, InputError

REPO_ROOT = Path(catalog.__file__).resolve().parents[2]


# --------------------------------------------------------------------------- data folder


def test_data_dir_from_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("NLP_RNN_DATA", str(tmp_path))
    assert default_data_dir() == tmp_path


def test_data_dir_relative_to_working_directory(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("NLP_RNN_DATA", raising=False)
    (tmp_path / "shared" / "corpora").mkdir(parents=True)
    (tmp_path / "project").mkdir()
    monkeypatch.chdir(tmp_path / "project")
    assert default_data_dir().resolve() == (tmp_path / "shared" / "corpora").resolve()


def test_data_dir_falls_back_to_repository_root(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("NLP_RNN_DATA", raising=False)
    monkeypatch.chdir(tmp_path)
    assert default_data_dir() == REPO_ROOT.parent / "shared" / "corpora"


def test_missing_data_dir_says_how_to_set_it(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="NLP_RNN_DATA"):
        load_corpus("sst2", data_dir=tmp_path / "nowhere")


# --------------------------------------------------------------------------- catalog entries


@pytest.fixture
def mini_corpora(fixtures_dir: Path, tmp_path: Path) -> Path:
    """A data folder laid out like the shared one, filled with the tiny fixtures."""
    root = tmp_path / "corpora"
    layout = {
        "sst2/stsa.binary.train": "sst_sample.txt",
        "sst2/stsa.binary.dev": "sst_sample.txt",
        "sentence_classification/rt-polarity.pos": "reviews_latin1.pos",
        "sentence_classification/rt-polarity.neg": "reviews_latin1.neg",
        "sentence_classification/TREC.train": "trec_sample.txt",
        "multi30k/val.de.gz": "parallel.de",
        "multi30k/val.en.gz": "parallel.en",
        "wikipedia_en/enwiki-2014-AA.txt.gz": "wiki_sample.txt",
        "wikipedia_en/enwiki-2014-AB.txt.gz": "wiki_sample.txt",
    }
    import gzip

    for target, source in layout.items():
        path = root / target
        path.parent.mkdir(parents=True, exist_ok=True)
        data = (fixtures_dir / source).read_bytes()
        path.write_bytes(gzip.compress(data) if target.endswith(".gz") else data)
    return root


def test_catalog_names_and_splits() -> None:
    assert list_corpora() == sorted(CATALOG)
    expected = {
        "sst2": ["train", "dev"],
        "sst2_phrases": ["train", "dev"],
        "imdb": ["train"],
        "imdb_unsup": ["train"],
        "mr": ["train"],
        "cr": ["train"],
        "subj": ["train"],
        "trec": ["train", "test"],
        "ud_english_ewt": ["train", "dev"],
        "multi30k": ["train", "dev"],
        "gigaword": ["train", "dev"],
        "wikipedia_en": ["train"],
    }
    assert {name: list(entry.splits) for name, entry in CATALOG.items()} == expected


def test_catalog_corpus_from_a_data_dir(mini_corpora: Path, hf_cache: Path) -> None:
    dataset = load_corpus("sst2", "dev", data_dir=mini_corpora, cache_dir=hf_cache)
    assert dataset.column_names == ["text", "label"] and len(dataset) == 3
    assert str(dataset.split) == "dev"


def test_catalog_uses_the_entry_encoding(mini_corpora: Path, hf_cache: Path) -> None:
    dataset = load_corpus("mr", data_dir=mini_corpora, cache_dir=hf_cache)
    assert dataset[0] == {"text": "un film très émouvant .", "label": "pos"}
    trec = load_corpus("trec", data_dir=mini_corpora, cache_dir=hf_cache)
    assert trec[2]["text"].endswith("sisterðcity founder ?")


def test_catalog_parameters(mini_corpora: Path, hf_cache: Path) -> None:
    dataset = load_corpus("multi30k", "dev", data_dir=mini_corpora, cache_dir=hf_cache)
    assert dataset[0] == {"src": "Ein Hund läuft .", "tgt": "A dog runs ."}
    swapped = load_corpus(
        "multi30k", "dev", data_dir=mini_corpora, cache_dir=hf_cache, src_lang="en", tgt_lang="de"
    )
    assert swapped[0] == {"src": "A dog runs .", "tgt": "Ein Hund läuft ."}
    with pytest.raises(ConfigError, match="src_lang must be one of cs, de, en, fr"):
        load_corpus("multi30k", "dev", data_dir=mini_corpora, src_lang="xx")


def test_catalog_globs_all_shards(mini_corpora: Path, hf_cache: Path) -> None:
    dataset = load_corpus("wikipedia_en", data_dir=mini_corpora, cache_dir=hf_cache)
    assert len(dataset) == 8


def test_catalog_missing_file_is_named(mini_corpora: Path) -> None:
    with pytest.raises(InputError, match="file not found") as caught:
        load_corpus("multi30k", "train", data_dir=mini_corpora)
    assert caught.value.path.endswith("train.de.gz")


def test_unknown_name_lists_known_corpora() -> None:
    with pytest.raises(InputError) as caught:
        load_corpus("sst3")
    message = str(caught.value)
    assert message.startswith("sst3: ")
    for name in ("sst2", "ud_english_ewt", "multi30k", "wikipedia_en"):
        assert name in message


def test_unknown_split_lists_splits(mini_corpora: Path) -> None:
    with pytest.raises(ConfigError, match="sst2 has no split 'test'; its splits: train, dev"):
        load_corpus("sst2", "test", data_dir=mini_corpora)


def test_unknown_option_is_rejected(mini_corpora: Path) -> None:
    with pytest.raises(ConfigError, match="unknown option.*strip_htm\\b"):
        load_corpus("sst2", data_dir=mini_corpora, strip_htm=True)


def test_format_does_not_apply_to_catalog_names() -> None:
    with pytest.raises(ConfigError, match="format does not apply"):
        load_corpus("sst2", format="tsv")


def test_unknown_format() -> None:
    with pytest.raises(ConfigError, match="unknown format 'csv'"):
        load_corpus("whatever", format="csv")


# --------------------------------------------------------------------------- local paths


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("sample.conllu", "conllu"),
        ("imdb_sample.jsonl", "jsonl"),
        ("phrases.tsv", "tsv"),
        ("wiki_sample.txt", "wikiextractor"),
        ("sst_sample.txt", "lines"),
    ],
)
def test_infer_format(fixtures_dir: Path, name: str, expected: str) -> None:
    assert infer_format(fixtures_dir / name) == expected


def test_infer_format_sees_through_gzip(tmp_path: Path) -> None:
    (tmp_path / "x.conllu.gz").write_bytes(b"")
    assert infer_format(tmp_path / "x.conllu.gz") == "conllu"


def test_local_file_with_inferred_format(fixtures_dir: Path, hf_cache: Path) -> None:
    dataset = load_corpus(str(fixtures_dir / "sample.conllu"), cache_dir=hf_cache)
    assert dataset.column_names == ["sent_id", "text", "tokens", "upos", "xpos", "conllu"]
    lines = load_corpus(str(fixtures_dir / "sst_sample.txt"), cache_dir=hf_cache)
    assert lines.column_names == ["text"]


def test_local_file_with_format_override(fixtures_dir: Path, hf_cache: Path) -> None:
    dataset = load_corpus(str(fixtures_dir / "sst_sample.txt"), format="label_text", cache_dir=hf_cache)
    assert dataset["label"] == ["1", "0", "1"]


def test_local_directory_of_label_files(fixtures_dir: Path, tmp_path: Path, hf_cache: Path) -> None:
    for name in ("reviews_latin1.pos", "reviews_latin1.neg"):
        shutil.copy(fixtures_dir / name, tmp_path / name)
    dataset = load_corpus(str(tmp_path), format="label_files", encoding="latin-1", cache_dir=hf_cache)
    assert sorted(dataset["label"]) == ["neg", "pos", "pos"]


def test_local_directory_with_mixed_formats(fixtures_dir: Path, tmp_path: Path) -> None:
    shutil.copy(fixtures_dir / "sample.conllu", tmp_path)
    shutil.copy(fixtures_dir / "phrases.tsv", tmp_path)
    with pytest.raises(ConfigError, match="mixes formats"):
        load_corpus(str(tmp_path))


def test_local_parallel_needs_target(fixtures_dir: Path, hf_cache: Path) -> None:
    source = str(fixtures_dir / "parallel.de")
    with pytest.raises(ConfigError, match="target"):
        load_corpus(source, format="parallel")
    dataset = load_corpus(
        source, format="parallel", target=str(fixtures_dir / "parallel.en"), cache_dir=hf_cache
    )
    assert dataset[1] == {"src": "Zwei Männer .", "tgt": "Two men ."}


def test_columns_option_renames(fixtures_dir: Path, hf_cache: Path) -> None:
    tsv = load_corpus(str(fixtures_dir / "phrases.tsv"), columns={"label": "y"}, cache_dir=hf_cache)
    assert tsv.column_names == ["sentence", "y"]
    lines = load_corpus(
        str(fixtures_dir / "sst_sample.txt"), columns={"text": "sentence"}, cache_dir=hf_cache
    )
    assert lines.column_names == ["sentence"]
    with pytest.raises(ConfigError, match="missing column"):
        load_corpus(str(fixtures_dir / "sst_sample.txt"), columns={"nope": "x"}, cache_dir=hf_cache)


def test_skip_invalid_through_load_corpus(fixtures_dir: Path, hf_cache: Path) -> None:
    from nlp_rnn.data.readers import read_stats

    dataset = load_corpus(str(fixtures_dir / "bad_id.conllu"), skip_invalid=True, cache_dir=hf_cache)
    assert len(dataset) == 2 and read_stats(dataset).skipped == 1


# --------------------------------------------------------------------------- Hugging Face Hub


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("hf:stanfordnlp/sst2", ("stanfordnlp/sst2", None)),
        ("hf:universal_dependencies:en_ewt", ("universal_dependencies", "en_ewt")),
        ("hf:wikimedia/wikipedia:20231101.en", ("wikimedia/wikipedia", "20231101.en")),
    ],
)
def test_parse_hub_source(source: str, expected: tuple) -> None:
    assert parse_hub_source(source) == expected


def test_hub_source_calls_load_dataset(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    features = datasets.Features(
        {"sentence": datasets.Value("string"), "label": datasets.ClassLabel(names=["negative", "positive"])}
    )

    def fake_load_dataset(name, config=None, *, split=None, cache_dir=None):
        calls.append((name, config, split))
        return datasets.Dataset.from_dict({"sentence": ["good", "bad"], "label": [1, 0]}, features=features)

    monkeypatch.setattr(datasets, "load_dataset", fake_load_dataset)
    dataset = load_corpus("hf:stanfordnlp/sst2", "dev", columns={"sentence": "text"})
    assert calls == [("stanfordnlp/sst2", None, "validation")]
    assert dataset.column_names == ["text", "label"]
    assert dataset["label"] == ["positive", "negative"]  # ClassLabel ids become their names

    load_corpus("hf:universal_dependencies:en_ewt", "train")
    assert calls[-1] == ("universal_dependencies", "en_ewt", "train")


def test_hub_revision_is_passed_on(monkeypatch: pytest.MonkeyPatch) -> None:
    seen = {}

    def fake_load_dataset(name, config=None, **kwargs):
        seen.update(kwargs, name=name, config=config)
        return datasets.Dataset.from_dict({"document": ["a b"], "summary": ["a"]})

    monkeypatch.setattr(datasets, "load_dataset", fake_load_dataset)
    dataset = load_corpus(
        "hf:Harvard/gigaword",
        "dev",
        revision="refs/convert/parquet",
        columns={"document": "src", "summary": "tgt"},
    )
    assert dataset.column_names == ["src", "tgt"]
    assert seen["revision"] == "refs/convert/parquet" and seen["split"] == "validation"


def test_hub_dev_falls_back_to_a_split_named_dev(monkeypatch: pytest.MonkeyPatch) -> None:
    asked = []

    def fake_load_dataset(name, config=None, *, split=None, cache_dir=None):
        asked.append(split)
        if split != "dev":
            raise ValueError(f"Unknown split \"{split}\". Should be one of ['train', 'dev'].")
        return datasets.Dataset.from_dict({"text": ["x"]})

    monkeypatch.setattr(datasets, "load_dataset", fake_load_dataset)
    assert load_corpus("hf:someone/corpus", "dev")["text"] == ["x"]
    assert asked == ["validation", "dev"]


def test_hub_source_rejects_reader_arguments() -> None:
    with pytest.raises(ConfigError, match="do not apply to Hub"):
        load_corpus("hf:stanfordnlp/sst2", encoding="latin-1")
    with pytest.raises(ConfigError, match="unknown option"):
        load_corpus("hf:stanfordnlp/sst2", strip_html=True)


def test_hub_loader_on_a_local_json_directory(tmp_path: Path, hf_cache: Path) -> None:
    folder = tmp_path / "hubby"
    folder.mkdir()
    (folder / "train.jsonl").write_text('{"sentence": "nice", "label": 1}\n{"sentence": "meh", "label": 0}\n')
    (folder / "validation.jsonl").write_text('{"sentence": "ok", "label": 1}\n')
    dev = load_corpus(f"hf:{folder}", "dev", columns={"sentence": "text"}, cache_dir=hf_cache)
    assert dev.column_names == ["text", "label"]
    assert dev[0] == {"text": "ok", "label": "1"}  # integer labels become strings
    assert len(load_corpus(f"hf:{folder}", "train", cache_dir=hf_cache)) == 2


def test_hub_loader_on_a_local_parquet_directory(tmp_path: Path, hf_cache: Path) -> None:
    folder = tmp_path / "parquet"
    folder.mkdir()
    datasets.Dataset.from_dict({"src": ["a b", "c"], "tgt": ["x", "y z"]}).to_parquet(
        folder / "train.parquet"
    )
    dataset = load_corpus(f"hf:{folder}", cache_dir=hf_cache)
    assert dataset["src"] == ["a b", "c"]


# --------------------------------------------------------------------------- real corpora


@pytest.mark.parametrize(
    ("name", "split", "rows"),
    [
        ("sst2", "train", 6_920),
        ("sst2_phrases", "dev", 872),
        ("cr", "train", 3_771),
        ("subj", "train", 10_000),
        ("trec", "test", 500),
        ("ud_english_ewt", "dev", 2_001),
        ("gigaword", "dev", 1_000),
    ],
)
def test_real_catalog_counts(corpora_dir: Path, hf_cache: Path, name: str, split: str, rows: int) -> None:
    assert len(load_corpus(name, split, data_dir=corpora_dir, cache_dir=hf_cache)) == rows


def test_real_multi30k_other_languages(corpora_dir: Path, hf_cache: Path) -> None:
    dataset = load_corpus(
        "multi30k", "dev", data_dir=corpora_dir, cache_dir=hf_cache, src_lang="fr", tgt_lang="cs"
    )
    assert len(dataset) == 1_014


def test_catalog_files_lists_what_a_split_reads(corpora_dir: Path) -> None:
    from nlp_rnn.data.catalog import catalog_files

    files = catalog_files("multi30k", "dev", corpora_dir, src_lang="fr", tgt_lang="en")
    assert [path.name for path in files] == ["val.fr.gz", "val.en.gz"]
    assert len(catalog_files("wikipedia_en", "train", corpora_dir)) == 3
    with pytest.raises(ConfigError, match="has no split 'test'"):
        catalog_files("sst2", "test", corpora_dir)
    with pytest.raises(ConfigError, match="takes no parameter lang"):
        catalog_files("sst2", "train", corpora_dir, lang="en")
