"""A tiny task for the trainer's tests: does a sequence of token ids contain the id 3?

An LSTM with dropout learns it in a few epochs on the CPU in well under a second. The dropout is
there on purpose: resuming a run exactly then requires restoring the random number generators.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence

from nlp_rnn.data.batching import pad_sequences

VOCAB_SIZE = 10  # 0 is padding; examples use ids 2..9
TARGET_ID = 3


class TinyClassifier(nn.Module):
    """Embedding -> dropout -> LSTM -> final state -> dropout -> linear, over padded ids."""

    def __init__(self, hidden: int = 16, dropout: float = 0.2, seed: int = 0) -> None:
        super().__init__()
        generator_state = torch.get_rng_state()
        torch.manual_seed(seed)  # the same initial weights whatever the caller's RNG state
        self.embedding = nn.Embedding(VOCAB_SIZE, 8, padding_idx=0)
        self.lstm = nn.LSTM(8, hidden, batch_first=True)
        self.dropout = nn.Dropout(dropout)
        self.output = nn.Linear(hidden, 2)
        torch.set_rng_state(generator_state)

    def forward(self, batch: dict[str, Tensor]) -> dict[str, Tensor]:
        embedded = self.dropout(self.embedding(batch["ids"]))  # B x T x 8
        packed = pack_padded_sequence(
            embedded, batch["lengths"].cpu(), batch_first=True, enforce_sorted=False
        )
        _, (final, _) = self.lstm(packed)  # final: 1 x B x H
        logits = self.output(self.dropout(final[-1]))  # B x 2
        output = {"logits": logits}
        if "labels" in batch:
            output["loss"] = F.cross_entropy(logits, batch["labels"])
        return output


def make_examples(count: int, seed: int, min_length: int = 3, max_length: int = 12) -> list[dict[str, Any]]:
    """Random id sequences labelled 1 when they contain :data:`TARGET_ID`."""
    rng = random.Random(seed)
    examples = []
    for _ in range(count):
        ids = [rng.randrange(2, VOCAB_SIZE) for _ in range(rng.randint(min_length, max_length))]
        examples.append({"ids": ids, "label": int(TARGET_ID in ids)})
    return examples


def lengths_of(examples: list[dict[str, Any]]) -> list[int]:
    return [len(example["ids"]) for example in examples]


def collate(examples: list[dict[str, Any]]) -> dict[str, Tensor]:
    ids, lengths = pad_sequences([example["ids"] for example in examples])  # B x T, B
    labels = torch.tensor([example["label"] for example in examples])  # B
    return {"ids": ids, "lengths": lengths, "labels": labels}


def accuracy(model: nn.Module, batches: Iterable[dict[str, Tensor]]) -> dict[str, float]:
    """Dev accuracy and mean loss over examples."""
    correct, total, loss_sum = 0, 0, 0.0
    for batch in batches:
        output = model(batch)
        correct += int((output["logits"].argmax(-1) == batch["labels"]).sum())
        total += len(batch["labels"])
        loss_sum += float(output["loss"]) * len(batch["labels"])
    return {"accuracy": correct / total, "loss": loss_sum / total}


def state_dicts_equal(first: dict[str, Tensor], second: dict[str, Tensor]) -> bool:
    """Bitwise equality of every tensor, and the same names."""
    return first.keys() == second.keys() and all(torch.equal(first[k], second[k]) for k in first)
