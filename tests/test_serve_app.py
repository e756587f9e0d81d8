"""The HTTP application (``nlp_rnn.serve.app``): every endpoint answers what the library answers for
the same input, and mistakes get the status and message they should."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
import torch
from fastapi.testclient import TestClient
from test_task_bidirectional_lm import predictor as bidirectional_lm_predictor
from test_task_classification import make_model_folder
from test_task_forecasting import predictor as forecasting_predictor
from test_task_forecasting import series
from test_task_language_modeling import SMALL, TEXTS
from test_task_summarization import tiny_predictor as summarization_predictor
from test_task_translation import SOURCES, TARGETS, TINY

from nlp_rnn.api import load_model
from nlp_rnn.models.language_model import LanguageModelConfig, RNNLanguageModel
from nlp_rnn.serve.app import Limits, build_app
from nlp_rnn.tasks.language_modeling import LanguageModelPredictor
from nlp_rnn.tasks.summarization import DecodingOptions
from nlp_rnn.tasks.translation import TranslationPredictor, build_seq2seq, train_subwords
from nlp_rnn.text.codec import CodecSettings, train_codec
from nlp_rnn.text.sentences import split_sentences

pytestmark = pytest.mark.usefixtures("one_thread")

SERIES_CSV = "year,c0\n" + "".join(
    f"{year},{float(value)!r}\n"
    for year, value in zip(series().frame.index, series().column("c0"), strict=True)
)


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory, tiny_tagger: Path) -> dict[str, Path]:
    """A model folder of every task (untrained but for the tagger: the API's plumbing is tested)."""
    root = tmp_path_factory.mktemp("served")
    torch.manual_seed(0)
    subwords = train_subwords(SOURCES, TARGETS, vocab_size=120)
    translator = TranslationPredictor(build_seq2seq(TINY, subwords), subwords, "xx", "en")
    codec = train_codec(iter(TEXTS), CodecSettings(level="char"))
    lm = RNNLanguageModel(LanguageModelConfig(**SMALL, conditioning="init"), codec.vocab_size, num_labels=2)
    return {
        "sentiment": make_model_folder(root / "sentiment"),
        "sentiment2": make_model_folder(root / "sentiment2", labels=("a", "b", "c")),
        "tagger": tiny_tagger,
        "translator": translator.save(root / "translator"),
        "headlines": summarization_predictor().save(root / "headlines"),
        "lm": LanguageModelPredictor(lm.eval(), codec, "documents", ["neg", "pos"]).save(root / "lm"),
        "bilm": bidirectional_lm_predictor().save(root / "bilm"),
        "forecaster": forecasting_predictor(series()).save(root / "forecaster"),
    }


@pytest.fixture(scope="module")
def client(folders: dict[str, Path]) -> TestClient:
    specs = [f"{name}={folder}" for name, folder in folders.items()]
    return TestClient(build_app(specs, limits=Limits(max_texts=8, max_chars=5_000)))


def post(client: TestClient, endpoint: str, status: int = 200, **body) -> dict:
    response = client.post(endpoint, json=body)
    assert response.status_code == status, response.text
    return response.json()


def test_health_models_and_the_demo_page(client: TestClient, folders: dict[str, Path]) -> None:
    assert client.get("/health").json() == {"status": "ok", "models": len(folders)}
    models = {info["name"]: info for info in client.get("/models").json()}
    assert list(models) == list(folders)
    assert models["sentiment"]["task"] == "classification" and models["sentiment"]["labels"] == ["neg", "pos"]
    assert models["sentiment"]["metrics"] == {"accuracy": 0.5}
    assert models["translator"]["source_lang"] == "xx" and models["translator"]["target_lang"] == "en"
    assert "NOUN" in models["tagger"]["upos"] and models["lm"]["labels"] == ["neg", "pos"]
    assert models["forecaster"]["target"] == "c0"
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "<title>nlp-rnn</title>" in page.text and 'fetch("models")' in page.text


def test_classify_gives_the_predictors_probabilities(client: TestClient, folders: dict[str, Path]) -> None:
    texts = ["the movie is good", "not good .", "bad"]
    answer = post(client, "/classify", model="sentiment", texts=texts)
    expected = load_model(folders["sentiment"]).predict_proba(texts)
    assert answer["model"] == "sentiment"
    assert [r["label"] for r in answer["results"]] == [["neg", "pos"][i] for i in expected.argmax(1)]
    found = np.array([[r["probabilities"][label] for label in ("neg", "pos")] for r in answer["results"]])
    np.testing.assert_allclose(found, expected, rtol=1e-6)
    bare = post(client, "/classify", model="sentiment", texts=texts, probabilities=False)
    assert all(r["probabilities"] is None for r in bare["results"])


def test_tag_raw_text_and_pre_tokenized_sentences(client: TestClient, folders: dict[str, Path]) -> None:
    tagger = load_model(folders["tagger"])
    texts = ["I book a table. It was good!", "", "Stop"]
    answer = post(client, "/tag", texts=texts)
    assert [len(r["sentences"]) for r in answer["results"]] == [2, 0, 1]
    words = [s.words for s in split_sentences(texts[0])]
    expected = tagger.tag(words)
    for found, want in zip(answer["results"][0]["sentences"], expected, strict=True):
        assert (found["tokens"], found["upos"], found["xpos"]) == (want.tokens, want.upos, want.xpos)
    sentences = [["I", "book", "a", "table"], ["a", "word", "never", "seen", "zzyzx"] * 30]  # longer than any
    answer = post(client, "/tag", sentences=sentences)
    assert [r["sentences"][0]["upos"] for r in answer["results"]] == [t.upos for t in tagger.tag(sentences)]
    assert len(answer["results"][1]["sentences"][0]["upos"]) == 150
    both = post(client, "/tag", 400, texts=["a"], sentences=[["a"]])
    assert "either texts" in both["detail"]
    assert "either texts" in post(client, "/tag", 400)["detail"]


def test_translate_matches_the_predictor_with_n_best_and_attention(
    client: TestClient, folders: dict[str, Path]
) -> None:
    texts = ["ein hund läuft .", "", "zwei katzen"]
    answer = post(client, "/translate", texts=texts, beam=3, n_best=2, attention=True)
    predictor = load_model(folders["translator"])
    expected = predictor.translate(texts, beam_size=3, n_best=2)
    assert (answer["source_lang"], answer["target_lang"]) == ("xx", "en")
    assert [r["translation"] for r in answer["results"]] == [t.text for t in expected]
    assert answer["results"][1] == {"translation": "", "candidates": [], "attention": None}
    first = answer["results"][0]
    assert [c["text"] for c in first["candidates"]] == [c.text for c in expected[0].candidates]
    attention = first["attention"]
    assert len(attention["weights"]) == len(attention["output"]) == len(expected[0].candidates[0].ids) + 1
    assert all(len(row) == len(attention["source"]) for row in attention["weights"])
    assert np.allclose([sum(row) for row in attention["weights"]], 1.0, atol=1e-3)
    assert (
        "n_best 4 is above beam 3" in post(client, "/translate", 400, texts=["a"], beam=3, n_best=4)["detail"]
    )


def test_summarize_matches_the_predictor(client: TestClient, folders: dict[str, Path]) -> None:
    articles = ["police arrest zorba in athens on monday", "", "rain in athens"]
    answer = post(client, "/summarize", texts=articles, beam=2, max_length=6)
    expected = load_model(folders["headlines"]).summarize(
        articles, DecodingOptions(beam_size=2, max_length=6)
    )
    assert [r["summary"] for r in answer["results"]] == [s.text for s in expected]
    assert [r["copied"] for r in answer["results"]] == [s.copied for s in expected]
    assert answer["results"][1]["summary"] == ""


def test_generate_repeats_from_a_seed_and_names_a_wrong_label(client: TestClient) -> None:
    body = {"prompt": "the ", "label": "pos", "max_tokens": 12, "num": 3, "seed": 7, "temperature": 0.9}
    first, second = post(client, "/generate", **body), post(client, "/generate", **body)
    assert first == second and first["seed"] == 7 and len(first["results"]) == 3
    assert all(r["text"].startswith("the ") for r in first["results"])
    unseeded = post(client, "/generate", label="neg", max_tokens=5)
    assert isinstance(unseeded["seed"], int)
    assert "unknown label 'meh'" in post(client, "/generate", 400, label="meh")["detail"]


def test_perplexity_of_both_kinds_of_language_model(client: TestClient, folders: dict[str, Path]) -> None:
    texts = ["the film is good .", "the film is bad"]
    bidirectional = post(client, "/perplexity", model="bilm", texts=texts)["scores"]
    assert bidirectional == pytest.approx(load_model(folders["bilm"]).perplexity(texts))
    conditioned = post(client, "/perplexity", model="lm", texts=texts, label="pos")["scores"]
    assert conditioned == pytest.approx(load_model(folders["lm"]).perplexity(texts, "pos").to_dict())
    assert (
        "takes no label" in post(client, "/perplexity", 400, model="bilm", texts=texts, label="pos")["detail"]
    )


def test_forecast_reads_posted_csv_like_a_file(
    client: TestClient, folders: dict[str, Path], tmp_path: Path
) -> None:
    answer = post(client, "/forecast", csv=SERIES_CSV, horizon=3)
    (tmp_path / "s.csv").write_text(SERIES_CSV, encoding="utf-8")
    target, rows = load_model(folders["forecaster"]).forecast_csv(tmp_path / "s.csv", 3)
    assert answer["target"] == target == "c0"
    assert [(r["time"], r["value"]) for r in answer["forecasts"]] == [(t, pytest.approx(v)) for t, v in rows]
    assert [r["time"] for r in answer["forecasts"]] == ["2060", "2061", "2062"]
    short = post(client, "/forecast", 400, csv="year,c0\n2000,1.0\n2001,2.0\n", horizon=1)["detail"]
    assert short.startswith("csv") and "rows" in short and "nlp_rnn_serve_" not in short


def test_which_model_answers(client: TestClient) -> None:
    several = post(client, "/classify", 400, texts=["good"])["detail"]
    assert "several models" in several and "sentiment, sentiment2" in several
    unknown = client.post("/classify", json={"model": "nope", "texts": ["good"]})
    assert unknown.status_code == 404 and "tagger (tagging)" in unknown.json()["detail"]
    wrong = post(client, "/classify", 400, model="tagger", texts=["good"])["detail"]
    assert wrong == "tagger is a tagger; this endpoint needs a classifier"


def test_bad_requests_are_refused_with_reasons(client: TestClient) -> None:
    empty = post(client, "/classify", 400, model="sentiment", texts=["good", "   "])["detail"]
    assert "text 1 is empty" in empty
    assert post(client, "/classify", 413, model="sentiment", texts=["a"] * 9)["detail"].startswith("9 texts")
    big = post(client, "/translate", 413, texts=["x" * 3_000, "y" * 2_001])["detail"]
    assert big == "5001 characters in one request; this server takes at most 5000"
    many = post(client, "/tag", 413, sentences=[["a"]] * 9)["detail"]
    assert many == "9 sentences in one request; this server takes at most 8"
    typo = post(client, "/translate", 422, texts=["a"], beem=3)
    assert typo["detail"][0]["loc"] == ["body", "beem"]
    assert post(client, "/classify", 422, model="sentiment", texts=[])["detail"][0]["loc"] == [
        "body",
        "texts",
    ]
    assert post(client, "/translate", 422, texts=["a"], beam=0)["detail"][0]["loc"] == ["body", "beam"]


def test_concurrent_requests_get_the_answers_of_sequential_ones(client: TestClient) -> None:
    bodies = [{"texts": [f"ein hund {'läuft ' * k}."], "beam": 2} for k in range(6)]
    sequential = [post(client, "/translate", **body) for body in bodies]
    found: list[dict | None] = [None] * len(bodies)

    def send(k: int) -> None:
        found[k] = client.post("/translate", json=bodies[k]).json()

    threads = [threading.Thread(target=send, args=(k,)) for k in range(len(bodies))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert found == sequential


def test_an_answer_does_not_depend_on_the_rest_of_the_request(client: TestClient) -> None:
    texts = ["the movie is good", "not good . the movie is bad , not good", "bad"]
    together = post(client, "/classify", model="sentiment", texts=texts)["results"]
    alone = [post(client, "/classify", model="sentiment", texts=[text])["results"][0] for text in texts]
    assert [r["label"] for r in together] == [r["label"] for r in alone]
    for mine, theirs in zip(together, alone, strict=True):
        assert mine["probabilities"] == pytest.approx(theirs["probabilities"], abs=1e-6)
    sentences = [["I", "book", "a", "table"], ["It", "was", "a", "good", "book", "for", "two", "."]]
    together = post(client, "/tag", sentences=sentences)["results"]
    alone = [post(client, "/tag", sentences=[sentence])["results"][0] for sentence in sentences]
    assert together == alone


def test_other_origins_are_let_in_only_when_named(folders: dict[str, Path], client: TestClient) -> None:
    preflight = {"Origin": "https://app.example", "Access-Control-Request-Method": "POST"}
    assert "access-control-allow-origin" not in client.options("/classify", headers=preflight).headers
    named = TestClient(build_app([f"s={folders['sentiment']}"], cors_origins=["https://app.example"]))
    allowed = named.options("/classify", headers=preflight)
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == "https://app.example"
    other = named.options("/classify", headers={**preflight, "Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in other.headers
