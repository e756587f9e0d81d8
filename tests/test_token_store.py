"""Token stores: one ids file that is both the stream and, through offsets, the documents."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from nlp_rnn.data.token_store import Documents, write_documents
from nlp_rnn.text.codec import EOS_ID, CodecSettings, train_codec

TEXTS = ["the cat sat on the mat.", "the dog sat on the log."]


def test_a_store_is_a_stream_and_a_list_of_documents(tmp_path: Path) -> None:
    codec = train_codec(iter(TEXTS), CodecSettings(level="char"))
    documents = write_documents(
        tmp_path, "x", codec, zip(["ab", "  ", "c"], [1, 0, 0], strict=True), labelled=True
    )
    a, b, c = (int(codec.encode([t])[0][0]) for t in "abc")
    assert documents.ids.tolist() == [EOS_ID, a, b, EOS_ID, c, EOS_ID]  # the blank text is skipped
    assert documents.ids.dtype == np.uint16 and len(documents) == 2 and documents.targets == 5
    assert documents.document(1).tolist() == [c, EOS_ID] and documents.labels.tolist() == [1, 0]
    assert documents.characters == 3 + 2  # characters plus one newline per document
    assert Documents.open(tmp_path, "x").ids.tolist() == documents.ids.tolist()
