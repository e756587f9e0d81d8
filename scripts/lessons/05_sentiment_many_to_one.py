"""Lesson 5: many-to-one sentiment with a frozen one-hot embedding and mask_zero.

Keras::

    model = Sequential([
        Embedding(V, V, embeddings_initializer="identity", trainable=False, mask_zero=True),
        LSTM(16),                                   # return_sequences=False: the last state
        Dense(2, activation="softmax")])

nlp-rnn: ``RNNClassifier(one_hot_embedding(V), 2, ClassifierConfig(cell="lstm", hidden_size=16,
bidirectional=False, pooling="last"))``. Keras' ``mask_zero`` is the batch's ``lengths``: padding
(id 0) comes last and the encoder stops at each sentence's real end.

    python scripts/lessons/05_sentiment_many_to_one.py
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from _common import DEMO_CORPORA, heading, run_lesson, shape, train

from nlp_rnn.data.batching import bucket_batches
from nlp_rnn.embeddings.embedding_layer import one_hot_embedding
from nlp_rnn.models.classifier import ClassifierConfig, RNNClassifier, count_parameters
from nlp_rnn.models.encoder import lengths_from_ids
from nlp_rnn.tasks.classification import EncodedExamples, collate, encode_examples
from nlp_rnn.text.vocab import LABEL_SPECIALS, NO_MARKERS, Vocab
from nlp_rnn.training.seeding import seed_everything

EPOCHS = 10
BATCH_SIZE = 16
PADDED_LENGTHS = (10, 15, 25)


def read_label_text(path: Path) -> tuple[list[list[str]], list[str]]:
    """Token lists and labels of a file of ``LABEL text`` lines."""
    pairs = [line.split(" ", 1) for line in path.read_text(encoding="utf-8").splitlines()]
    return [text.split() for _, text in pairs], [label for label, _ in pairs]


def batches_of(examples: EncodedExamples, shuffle: bool, seed: int) -> list[dict[str, torch.Tensor]]:
    """Length-bucketed, right-padded batches (ids 0 = padding, lengths, labels)."""
    groups = bucket_batches(examples.lengths, batch_size=BATCH_SIZE, shuffle=shuffle, seed=seed)
    return [collate([examples[i] for i in group]) for group in groups]


def accuracy(model: RNNClassifier, batches: list[dict[str, torch.Tensor]]) -> float:
    """The share of correctly classified sentences, in eval mode."""
    model.eval()
    with torch.no_grad():
        right = sum(int((model(b)["logits"].argmax(-1) == b["labels"]).sum()) for b in batches)
    return right / sum(len(b["labels"]) for b in batches)


def padded(ids: list[int], length: int) -> torch.Tensor:
    """One sentence's ids right-padded with 0 to ``length``: 1 x length."""
    return torch.tensor([ids + [0] * (length - len(ids))])


def main(seed: int = 0) -> dict[str, Any]:
    seed_everything(seed)
    train_tokens, train_labels = read_label_text(DEMO_CORPORA / "sentiment.train.txt")
    dev_tokens, dev_labels = read_label_text(DEMO_CORPORA / "sentiment.dev.txt")
    vocab = Vocab.build(train_tokens, specials=NO_MARKERS)  # <pad> = 0, <unk> = 1, then words
    labels = Vocab(sorted(set(train_labels)), specials=LABEL_SPECIALS)
    train_set = encode_examples(train_tokens, vocab, train_labels, labels)
    dev_set = encode_examples(dev_tokens, vocab, dev_labels, labels)
    heading("the data")
    print(f"{len(train_set)} training and {len(dev_set)} dev sentences, labels {labels.itos}")
    print(f"vocabulary: {len(vocab)} ids (0 = <pad>, 1 = <unk>), so one-hot vectors of {len(vocab)} dims")
    print(f"example: {train_labels[0]} {' '.join(train_tokens[0])!r} -> ids {train_set[0][0].tolist()}")

    config = ClassifierConfig(
        cell="lstm",
        hidden_size=16,
        bidirectional=False,
        pooling="last",
        embedding_dropout=0.0,
        output_dropout=0.0,
    )
    model = RNNClassifier(one_hot_embedding(len(vocab)), len(labels), config)
    train_batches = batches_of(train_set, shuffle=True, seed=seed)
    dev_batches = batches_of(dev_set, shuffle=False, seed=seed)
    heading("the model")
    frozen = not model.embedding.weight.requires_grad
    print(f"one-hot embedding {shape(model.embedding.weight)}, frozen: {frozen}")
    print(f"LSTM(16), last state -> Linear(16, 2); trainable parameters: {count_parameters(model, True):,}")
    batch = train_batches[0]
    print(f"a batch: ids {shape(batch['ids'])} -> logits {shape(model(batch)['logits'])} (many-to-one)")

    heading(f"training, {EPOCHS} epochs (Adam, lr 0.01, batches of {BATCH_SIZE})")
    history: list[float] = []

    def report(epoch: int) -> bool:
        history.append(accuracy(model, dev_batches))
        print(f"epoch {epoch:2d}  dev accuracy {history[-1]:.3f}")
        return False

    train(model, train_batches, EPOCHS, lr=0.01, after_epoch=report)
    majority = max(dev_labels.count(label) for label in labels.itos) / len(dev_labels)
    print(f"dev accuracy {history[-1]:.3f}; always answering the most frequent label: {majority:.3f}")

    heading("mask_zero: padding changes nothing for the real tokens")
    sentence = dev_tokens[0]
    ids = vocab.encode(sentence)
    print(f"the first dev sentence {' '.join(sentence)!r} = {ids} ({len(ids)} tokens)")
    print("padded with 0 to T tokens; P = the probability of label '1', then the predicted label:")
    model.eval()
    masked, unmasked, masked_labels, unmasked_labels = [], [], [], []
    with torch.no_grad():
        for length in PADDED_LENGTHS:
            batch_ids = padded(ids, length)  # 1 x T
            with_mask = model({"ids": batch_ids, "lengths": lengths_from_ids(batch_ids)})["logits"]  # 1 x 2
            without = model({"ids": batch_ids, "lengths": torch.tensor([length])})["logits"]  # padding read
            masked.append(with_mask.softmax(-1)[0, 1].item())
            unmasked.append(without.softmax(-1)[0, 1].item())
            masked_labels.append(labels.itos[int(with_mask.argmax())])
            unmasked_labels.append(labels.itos[int(without.argmax())])
            print(
                f"  T={length:2d}  with the mask P={masked[-1]:.6g} -> {masked_labels[-1]}   "
                f"reading the padding as input P={unmasked[-1]:.6g} -> {unmasked_labels[-1]}"
            )
    masked_equal = len(set(masked)) == 1
    print(f"with the mask the three are identical: {masked_equal}; without it they change with T,")
    print("because the zero vectors of the padding still pass through the LSTM (bias and recurrence).")
    return {
        "vocab_size": len(vocab),
        "dev_accuracy": history[-1],
        "dev_history": history,
        "majority_baseline": majority,
        "masked_probabilities": masked,
        "unmasked_probabilities": unmasked,
        "masked_equal": masked_equal,
        "masked_labels": masked_labels,
        "unmasked_labels": unmasked_labels,
    }


if __name__ == "__main__":
    run_lesson(main, __doc__)
