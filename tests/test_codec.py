"""Language model codecs: characters, words and SentencePiece subwords share the four special ids
and round-trip through a model folder."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from nlp_rnn.text.codec import BOS_ID, EOS_ID, PAD_ID, UNK_ID, CodecSettings, load_codec, train_codec

TEXTS = ["the cat sat on the mat.", "the dog sat on the log.", "a cat and a dog met."] * 8


def test_codecs_map_text_to_ids_and_back(tmp_path: Path) -> None:
    chars = train_codec(iter(TEXTS), CodecSettings(level="char", min_freq=2))
    ids = chars.encode(["the cat!"])[0]
    assert ids.dtype == np.int64 and ids[-1] == UNK_ID and chars.decode(ids) == "the cat\ufffd"
    words = train_codec(iter(TEXTS), CodecSettings(level="word", lowercase=True))
    assert words.decode(words.encode(["The cat sat."])[0]) == "the cat sat."
    pieces = train_codec(iter(TEXTS * 5), CodecSettings(level="sentencepiece", vocab_size=40))
    assert pieces.tokenizer._processor.id_to_piece([PAD_ID, UNK_ID, BOS_ID, EOS_ID]) == [
        "<pad>",
        "<unk>",
        "<s>",
        "</s>",
    ]
    assert pieces.decode(pieces.encode(["the dog sat."])[0]) == "the dog sat."
    for codec in (chars, words, pieces):
        codec.save(tmp_path / codec.level)
        again = load_codec(tmp_path / codec.level, codec.level)
        assert [a.tolist() for a in again.encode(TEXTS[:3])] == [a.tolist() for a in codec.encode(TEXTS[:3])]
