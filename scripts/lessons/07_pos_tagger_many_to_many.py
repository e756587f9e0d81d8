"""Lesson 7: a bidirectional many-to-many POS tagger on the demo CoNLL-U treebank.

Keras::

    model = Sequential([
        Embedding(V, 32, mask_zero=True),
        Bidirectional(LSTM(32, return_sequences=True)),        # one output per word
        TimeDistributed(Dense(num_tags, activation="softmax"))])

nlp-rnn: ``RNNTagger`` (``nlp_rnn.models.tagger``) with ``TaggerConfig(word_dim=32,
char_filters=0, hidden_size=32, num_layers=1)``: word embedding -> bidirectional LSTM -> a linear
layer per word. Its batches (``Collate`` of ``nlp_rnn.tasks.tagging``) are right-padded, the loss
skips the padding (targets -100 there).

    python scripts/lessons/07_pos_tagger_many_to_many.py
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import torch
from _common import DEMO_CORPORA, heading, run_lesson, shape, train

from nlp_rnn.data.batching import bucket_batches
from nlp_rnn.data.conllu import iter_sentences
from nlp_rnn.models.tagger import IGNORE, RNNTagger, TaggerConfig
from nlp_rnn.tasks.tagging import (
    Collate,
    EncodedSentences,
    FormTable,
    TaggingVocabs,
    build_tagger,
    encode_sentences,
    evaluate_batches,
)
from nlp_rnn.text.vocab import LABEL_SPECIALS, NO_MARKERS, SPECIALS, Vocab
from nlp_rnn.training.seeding import seed_everything

EPOCHS = 10
EXAMPLE = "don't book a quiet book."  # a dev sentence: one word, two tags
BATCH_SIZE = 8


def batches_of(
    sentences: EncodedSentences, collate: Collate, shuffle: bool, seed: int
) -> list[dict[str, torch.Tensor]]:
    """Length-bucketed, right-padded tagger batches (``words``, ``chars``, ``lengths``, ``upos``...)."""
    groups = bucket_batches(sentences.lengths, batch_size=BATCH_SIZE, shuffle=shuffle, seed=seed)
    return [collate([sentences[i] for i in group]) for group in groups]


def main(seed: int = 0) -> dict[str, Any]:
    seed_everything(seed)
    train_rows = list(iter_sentences(DEMO_CORPORA / "tagged.train.conllu"))
    dev_rows = list(iter_sentences(DEMO_CORPORA / "tagged.dev.conllu"))
    upos_counts = Counter(tag for row in train_rows for tag in row["upos"])
    vocabs = TaggingVocabs(
        words=Vocab.build([[t.lower() for t in row["tokens"]] for row in train_rows], specials=NO_MARKERS),
        chars=Vocab.build([list("".join(row["tokens"])) for row in train_rows], specials=SPECIALS),
        upos=Vocab(sorted(upos_counts), specials=LABEL_SPECIALS, freqs=upos_counts),
        xpos=None,
        pretrained=None,
    )
    collate = Collate(FormTable(vocabs.chars, max_chars=30))

    def encode(rows: list[dict]) -> EncodedSentences:
        return encode_sentences([r["tokens"] for r in rows], vocabs, collate.table, [r["upos"] for r in rows])

    train_set, dev_set = encode(train_rows), encode(dev_rows)
    heading("the data")
    print(f"{len(train_set)} training sentences ({train_set.tokens} words), {len(dev_set)} dev sentences")
    print(f"{len(vocabs.words)} word ids, {len(vocabs.upos)} UPOS tags: {vocabs.upos.itos}")
    example = train_rows[0]
    print("example: " + " ".join(f"{w}/{t}" for w, t in zip(example["tokens"], example["upos"], strict=True)))

    config = TaggerConfig(
        word_dim=32,
        char_filters=0,
        hidden_size=32,
        num_layers=1,
        embedding_dropout=0.1,
        dropout=0.0,
        output_dropout=0.1,
        word_dropout=0.0,
    )
    model: RNNTagger = build_tagger(config, vocabs, pretrained_dim=0)
    train_batches = batches_of(train_set, collate, shuffle=True, seed=seed)
    dev_batches = batches_of(dev_set, collate, shuffle=False, seed=seed)
    batch = train_batches[0]
    heading("the model")
    with torch.no_grad():
        logits = model(batch)["upos_logits"]
    batch_size, steps = shape(batch["words"])
    print(
        f"words {shape(batch['words'])} -> embedding {(batch_size, steps, config.word_dim)} -> BiLSTM "
        f"{(batch_size, steps, model.encoder.output_size)} -> logits {shape(logits)}"
    )
    print(f"padding targets are {IGNORE}: {int((batch['upos'] == IGNORE).sum())} of this batch's positions")

    heading(f"training, {EPOCHS} epochs (Adam, lr 0.01, batches of {BATCH_SIZE})")
    history: list[float] = []

    def report(epoch: int) -> bool:
        model.eval()
        with torch.no_grad():
            history.append(evaluate_batches(model, dev_batches)["upos_accuracy"])
        print(f"epoch {epoch:2d}  dev UPOS accuracy {history[-1]:.3f}")
        return False

    train(model, train_batches, EPOCHS, lr=0.01, after_epoch=report)
    majority_tag, _ = upos_counts.most_common(1)[0]
    dev_tags = [tag for row in dev_rows for tag in row["upos"]]
    majority = dev_tags.count(majority_tag) / len(dev_tags)
    heading("the result")
    print(f"dev UPOS accuracy {history[-1]:.3f}")
    print(
        f"majority-tag baseline (every word {majority_tag!r}, the most frequent training tag): {majority:.3f}"
    )
    index = next(i for i, row in enumerate(dev_rows) if row["text"] == EXAMPLE)
    sentence = dev_rows[index]
    dev_batch = collate([dev_set[index]])
    model.eval()
    with torch.no_grad():
        predicted = model(dev_batch)["upos_logits"].argmax(-1)[0]  # T
    tags = [vocabs.upos.itos[i] for i in predicted.tolist()]
    print(
        f"{EXAMPLE!r} tagged: " + " ".join(f"{w}/{t}" for w, t in zip(sentence["tokens"], tags, strict=True))
    )
    print("the same word 'book' gets two tags: the context on both sides decides.")
    return {
        "dev_accuracy": history[-1],
        "dev_history": history,
        "majority_tag": majority_tag,
        "majority_baseline": majority,
        "logits_shape": shape(logits),
        "example_tokens": sentence["tokens"],
        "example_tags": tags,
        "example_gold": sentence["upos"],
    }


if __name__ == "__main__":
    run_lesson(main, __doc__)
