"""Tests for nlp_rnn.text.tokenizers: every kind, save/load, pickling, round trips."""

from __future__ import annotations

import json
import pickle
import random
import re
from collections import Counter

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nlp_rnn.errors import InputError, NlpRnnError
from nlp_rnn.text.tokenizers import (
    DEFAULT_PATTERN,
    SENTENCEPIECE_MODEL_FILE,
    TOKENIZER_FILE,
    TOKENIZER_KINDS,
    CharTokenizer,
    RegexTokenizer,
    SentencePieceTokenizer,
    SpacyTokenizer,
    WhitespaceTokenizer,
    build_tokenizer,
    guess_detokenize,
    load_tokenizer,
    resolve_tokenizer,
)

# Text without surrogates (which cannot be encoded) for the property tests.
TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=60)
RULE_KINDS = ["whitespace", "regex", "char", "spacy"]

WORDS = (
    "the a cat dog sat on mat and ran to house big small red blue green quick brown fox "
    "jumps over lazy river tree bird sings morning evening people walk street city old new"
).split()


def _synthetic_corpus(n: int = 400, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    sentences = [" ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 12))) for _ in range(n)]
    # A few capitals, digits and punctuation so that the model has seen them.
    return sentences + ["Hello, World! 123 456.", "It's 7 o'clock; isn't it?"] * 5


@pytest.fixture(scope="module")
def sp_unigram() -> SentencePieceTokenizer:
    return SentencePieceTokenizer.train(_synthetic_corpus(), vocab_size=80)


@pytest.fixture(scope="module")
def sp_bytes() -> SentencePieceTokenizer:
    # Byte fallback adds 256 byte pieces, hence the larger vocabulary.
    return SentencePieceTokenizer.train(
        _synthetic_corpus(), vocab_size=320, model_type="bpe", byte_fallback=True
    )


@pytest.fixture(scope="module")
def spacy_en() -> SpacyTokenizer:
    return SpacyTokenizer("en")


# --- regex -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("I don't know.", ["I", "do", "n't", "know", "."]),
        ("We can't, WON'T go", ["We", "ca", "n't", ",", "WO", "N'T", "go"]),
        ("John's they're I'll we've", ["John", "'s", "they", "'re", "I", "'ll", "we", "'ve"]),
        ("It costs $1,000.50 (3.14%)", ["It", "costs", "$", "1,000.50", "(", "3.14", "%", ")"]),
        ("the 1990s and 3rd e-mail", ["the", "1990s", "and", "3rd", "e", "-", "mail"]),
        ("'quoted' words", ["'", "quoted", "'", "words"]),
        ("naïve café Zürich", ["naïve", "café", "Zürich"]),
        ("it’s curly", ["it", "’s", "curly"]),
        ("  \t\n ", []),
    ],
)
def test_regex_default_pattern(text: str, expected: list[str]) -> None:
    assert RegexTokenizer().tokenize(text) == expected


def test_regex_lowercase_and_custom_pattern() -> None:
    assert RegexTokenizer(lowercase=True).tokenize("Don't SHOUT") == ["do", "n't", "shout"]
    assert RegexTokenizer(pattern=r"\S+").tokenize("a-b c") == ["a-b", "c"]


def test_regex_rejects_capturing_groups_and_bad_patterns() -> None:
    with pytest.raises(NlpRnnError, match="capturing groups"):
        RegexTokenizer(pattern=r"(\w)+")
    with pytest.raises(NlpRnnError, match="invalid tokenizer pattern"):
        RegexTokenizer(pattern="[")


# Characters that exercise every branch of the default pattern: clitics, numbers, spaces.
TRICKY = st.text(alphabet="aAnNtTsSlLrevVdDmM'’.,019_- \t\n\u00a0é", max_size=40)


@given(st.one_of(TEXT, TRICKY))
def test_regex_fast_form_equals_the_plain_pattern(text: str) -> None:
    # The tokenizer compiles the default pattern in a faster, equivalent form.
    assert RegexTokenizer().tokenize(text) == re.findall(DEFAULT_PATTERN, text)


@given(st.lists(st.one_of(TEXT, TRICKY), max_size=8))
def test_regex_batch_count_equals_line_by_line(texts: list[str]) -> None:
    # count_into tokenizes the joined batch at once: it must equal the line-by-line result.
    for tokenizer in (RegexTokenizer(), RegexTokenizer(lowercase=True), WhitespaceTokenizer()):
        counter: Counter[str] = Counter()
        total = tokenizer.count_into(counter, texts)
        expected = Counter(token for text in texts for token in tokenizer.tokenize(text))
        assert counter == expected
        assert total == sum(expected.values())


def test_guess_detokenize() -> None:
    tokens = RegexTokenizer().tokenize("I don't know, (really) it's $5.")
    assert guess_detokenize(tokens) == "I don't know, (really) it's $5."
    assert guess_detokenize([]) == ""


# --- whitespace and char: exact round trips -----------------------------------------------


@given(TEXT)
def test_whitespace_round_trip_on_normalized_text(text: str) -> None:
    tokenizer = WhitespaceTokenizer()
    assert tokenizer.detokenize(tokenizer.tokenize(text)) == " ".join(text.split())


@given(TEXT)
def test_char_round_trip(text: str) -> None:
    tokenizer = CharTokenizer()
    tokens = tokenizer.tokenize(text)
    assert len(tokens) == len(text)
    assert tokenizer.detokenize(tokens) == text


@given(TEXT.filter(lambda text: "▁" not in text))
def test_char_round_trip_with_space_token(text: str) -> None:
    tokenizer = CharTokenizer(space_token="▁")
    tokens = tokenizer.tokenize(text)
    assert " " not in tokens
    assert tokenizer.detokenize(tokens) == text


def test_lowercase_applies_to_every_rule_kind() -> None:
    for kind in RULE_KINDS:
        tokens = build_tokenizer(kind, lowercase=True).tokenize("ABC Def")
        assert "".join(tokens).replace(" ", "") == "abcdef", kind


# --- spaCy --------------------------------------------------------------------------------


def test_spacy_tokenize_and_batch() -> None:
    tokenizer = SpacyTokenizer("en")
    texts = ["Hello, world!  It's   U.S. policy.", "", "  padded  "]
    assert tokenizer.tokenize(texts[0]) == ["Hello", ",", "world", "!", "It", "'s", "U.S.", "policy", "."]
    assert tokenizer.tokenize_batch(texts) == [tokenizer.tokenize(text) for text in texts]
    assert tokenizer.tokenize_batch(texts)[1:] == [[], ["padded"]]


def test_spacy_count_into_matches_tokenize(spacy_en) -> None:
    texts = ["Hello, world!  It's  U.S. policy.", "", "world world ."]
    counter: Counter[str] = Counter({"world": 1})
    assert spacy_en.count_into(counter, texts) == 12
    assert counter == Counter(t for text in texts for t in spacy_en.tokenize(text)) + Counter({"world": 1})
    assert spacy_en.count_into(counter, []) == 0


def test_spacy_memory_stays_bounded() -> None:
    # Past max_strings known strings the pipeline is rebuilt; tokens must not change.
    tokenizer = SpacyTokenizer("en")
    reference = SpacyTokenizer("en")
    tokenizer.max_strings = len(tokenizer._nlp.vocab.strings) + 50
    texts = [" ".join(f"word{i}x{j}" for j in range(20)) + "." for i in range(3)]
    for text in texts:
        assert tokenizer.tokenize(text) == reference.tokenize(text)
        assert len(tokenizer._nlp.vocab.strings) <= tokenizer.max_strings
    assert tokenizer.tokenize_batch(texts) == reference.tokenize_batch(texts)
    counter: Counter[str] = Counter()
    tokenizer.count_into(counter, texts)
    assert counter == Counter(t for text in texts for t in reference.tokenize(text))
    assert len(tokenizer._nlp.vocab.strings) <= tokenizer.max_strings


def test_spacy_other_languages_need_no_model() -> None:
    assert SpacyTokenizer("fr").tokenize("L'homme") == ["L'", "homme"]
    assert SpacyTokenizer("de").tokenize("Das ist z.B. gut.") == ["Das", "ist", "z.B.", "gut", "."]
    with pytest.raises(NlpRnnError, match="spaCy has no language"):
        SpacyTokenizer("xx-not-a-language")


@settings(max_examples=50, suppress_health_check=[HealthCheck.too_slow])
@given(text=TEXT)
def test_spacy_round_trip_with_spaces(spacy_en, text: str) -> None:
    tokens, spaces = spacy_en.tokenize_with_spaces(text)
    assert spacy_en.detokenize(tokens, spaces) == text


def test_spacy_detokenize_without_spaces_guesses(spacy_en) -> None:
    tokenizer = spacy_en
    assert tokenizer.detokenize(tokenizer.tokenize("I can't go, sorry.")) == "I can't go, sorry."
    with pytest.raises(ValueError):
        tokenizer.detokenize(["a", "b"], [True])


# --- SentencePiece ------------------------------------------------------------------------


def test_sentencepiece_train_encode_decode(sp_unigram: SentencePieceTokenizer) -> None:
    assert sp_unigram.vocab_size == 80
    text = "the quick brown fox jumps over the lazy dog"
    pieces = sp_unigram.tokenize(text)
    assert pieces[0].startswith("▁")
    assert sp_unigram.detokenize(pieces) == text
    ids = sp_unigram.encode_ids(text)
    assert len(ids) == len(pieces)
    assert sp_unigram.decode_ids(ids) == text
    assert sp_unigram.tokenize_batch([text, "cat"]) == [pieces, sp_unigram.tokenize("cat")]


@settings(max_examples=60)
@given(text=TEXT)
def test_sentencepiece_round_trip_with_byte_fallback(sp_bytes, text: str) -> None:
    # Byte fallback covers every character, so decoding restores the normalized text.
    assert sp_bytes.detokenize(sp_bytes.tokenize(text)) == sp_bytes.normalize(text)


@given(words=st.lists(st.sampled_from(WORDS), max_size=10))
def test_sentencepiece_round_trip_on_plain_text(sp_bytes, sp_unigram, words: list[str]) -> None:
    text = " ".join(words)
    for tokenizer in (sp_bytes, sp_unigram):
        assert tokenizer.detokenize(tokenizer.tokenize(text)) == text


def test_sentencepiece_train_from_file_with_lowercase(tmp_path) -> None:
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("\n".join(_synthetic_corpus()).upper() + "\n", encoding="utf-8")
    tokenizer = SentencePieceTokenizer.train(corpus, vocab_size=60, model_type="bpe", lowercase=True)
    assert tokenizer.options()["model_type"] == "bpe"
    assert "".join(tokenizer.tokenize("THE CAT")).replace("▁", " ").strip() == "the cat"


def test_sentencepiece_errors(tmp_path) -> None:
    with pytest.raises(NlpRnnError, match="model_type"):
        SentencePieceTokenizer.train(["a b"], model_type="wordpiece")
    with pytest.raises(NlpRnnError, match="training failed"):
        SentencePieceTokenizer.train(["a b c"], vocab_size=5000)
    with pytest.raises(NlpRnnError, match="needs a trained model"):
        build_tokenizer("sentencepiece")
    with pytest.raises(InputError, match="not found"):
        SentencePieceTokenizer(tmp_path / "missing.model")
    with pytest.raises(NlpRnnError, match="cannot load"):
        SentencePieceTokenizer(b"not a model")


# --- save, load, pickle, build ------------------------------------------------------------


def _all_tokenizers(sp: SentencePieceTokenizer) -> list:
    return [
        WhitespaceTokenizer(lowercase=True),
        RegexTokenizer(pattern=r"\w+|\S", lowercase=True),
        CharTokenizer(space_token="_"),
        SpacyTokenizer("de"),
        sp,
    ]


def test_save_load_every_kind(tmp_path, sp_unigram: SentencePieceTokenizer) -> None:
    text = "Ein Hund and the cat's mat, 42."
    for index, tokenizer in enumerate(_all_tokenizers(sp_unigram)):
        directory = tmp_path / f"tok{index}"
        tokenizer.save(directory)
        config = json.loads((directory / TOKENIZER_FILE).read_text())
        assert config["kind"] == tokenizer.kind
        loaded = load_tokenizer(directory)
        assert loaded == tokenizer
        assert loaded.tokenize(text) == tokenizer.tokenize(text)
    assert (tmp_path / "tok4" / SENTENCEPIECE_MODEL_FILE).is_file()


def test_pickle_every_kind(sp_unigram: SentencePieceTokenizer) -> None:
    for tokenizer in _all_tokenizers(sp_unigram):
        copy = pickle.loads(pickle.dumps(tokenizer))
        assert copy == tokenizer
        assert copy.tokenize("Hello there, cat.") == tokenizer.tokenize("Hello there, cat.")


def test_spacy_pickles_small() -> None:
    # Pickled by options, not by the spaCy pipeline: cheap to send to workers and to hash.
    assert len(pickle.dumps(SpacyTokenizer("en"))) < 500


def test_build_tokenizer_errors() -> None:
    assert set(TOKENIZER_KINDS) == {"whitespace", "regex", "char", "spacy", "sentencepiece"}
    with pytest.raises(NlpRnnError, match="unknown tokenizer kind 'bpe'"):
        build_tokenizer("bpe")
    with pytest.raises(NlpRnnError, match="unknown option.*lowercse"):
        build_tokenizer("regex", lowercse=True)
    assert build_tokenizer("regex").pattern == DEFAULT_PATTERN


def test_load_tokenizer_errors(tmp_path) -> None:
    with pytest.raises(InputError, match="no tokenizer.json"):
        load_tokenizer(tmp_path)
    (tmp_path / TOKENIZER_FILE).write_text('{"kind": "regex",\n "options": [}')
    with pytest.raises(InputError, match=r"tokenizer.json:2:\d+: invalid JSON"):
        load_tokenizer(tmp_path)
    (tmp_path / TOKENIZER_FILE).write_text('{"kind": "magic"}')
    with pytest.raises(InputError, match="unknown tokenizer kind 'magic'"):
        load_tokenizer(tmp_path)
    (tmp_path / TOKENIZER_FILE).write_text('{"kind": "regex", "options": {"colour": 1}}')
    with pytest.raises(InputError, match="unknown option.*colour"):
        load_tokenizer(tmp_path)
    (tmp_path / TOKENIZER_FILE).write_text('{"kind": "sentencepiece", "options": {}}')
    with pytest.raises(InputError, match="sentencepiece model file not found"):
        load_tokenizer(tmp_path)


def test_resolve_tokenizer(tmp_path) -> None:
    assert isinstance(resolve_tokenizer("char"), CharTokenizer)
    RegexTokenizer(lowercase=False).save(tmp_path)
    assert resolve_tokenizer(str(tmp_path), lowercase=True).tokenize("AB") == ["ab"]
    with pytest.raises(NlpRnnError, match="neither a tokenizer directory"):
        resolve_tokenizer(str(tmp_path / "nowhere"))
    assert resolve_tokenizer("spacy", lang="de").lang == "de"
    with pytest.raises(NlpRnnError, match="cannot change a saved tokenizer"):
        resolve_tokenizer(str(tmp_path), lang="de")


SPACY_TRICKY = st.text(alphabet="aAnNtTsS'’.,:;!?()[]\"-/@#$%&019 \t\u00a0é", max_size=60)


@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(st.lists(st.one_of(TEXT, SPACY_TRICKY), max_size=8))
def test_spacy_chunk_counts_equal_text_by_text(spacy_en, texts: list[str]) -> None:
    # count_into tokenizes each distinct whitespace chunk once: the counts must not change.
    counter: Counter[str] = Counter()
    total = spacy_en.count_into(counter, texts)
    expected = Counter(token for text in texts for token in spacy_en.tokenize(text))
    assert counter == expected
    assert total == sum(expected.values())


def test_spacy_chunk_counts_on_real_text(spacy_en) -> None:
    texts = [
        "Visit https://example.com/a-b?c=d, or e-mail me@example.org (don't!).",
        "The U.S. economy grew 3.5% in 2013; e.g., Dr. Smith's 'well-known' results...",
        "“Quoted” — dashes –, emoticons :-) and hashtags #nlp, $5.00/hr & 10km.",
    ] * 3
    small = SpacyTokenizer("en")
    small.chunks_per_doc = 4  # several joined strings per batch
    for tokenizer in (spacy_en, small, SpacyTokenizer("en", lowercase=True)):
        counter: Counter[str] = Counter()
        total = tokenizer.count_into(counter, texts)
        expected = Counter(token for text in texts for token in tokenizer.tokenize(text))
        assert counter == expected and total == sum(expected.values())
