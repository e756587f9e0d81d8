"""Lesson 2: a character RNN learns "hihell" -> "ihello" (many-to-many: predict the next character).

Keras::

    model = Sequential([SimpleRNN(8, return_sequences=True, input_shape=(6, 5)),
                        TimeDistributed(Dense(5, activation="softmax"))])
    model.compile(loss="categorical_crossentropy", optimizer=Adam(0.1))
    model.fit(x_one_hot, y_one_hot, epochs=...)

nlp-rnn: ``RNNEncoder(5, 8, cell="rnn")`` and an ``nn.Linear`` applied at every step (a Linear on a
``B x T x H`` tensor *is* ``TimeDistributed(Dense)``); the softmax lives in the cross-entropy.

    python scripts/lessons/02_hihello.py
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from _common import heading, run_lesson, shape, train
from torch import Tensor, nn

from nlp_rnn.models.encoder import RNNEncoder
from nlp_rnn.training.seeding import seed_everything

TEXT = "hihello"
CHARS = sorted(set(TEXT))  # ['e', 'h', 'i', 'l', 'o']
MAX_EPOCHS = 200


class CharRNN(nn.Module):
    """One-hot characters -> Elman RNN -> a linear layer per step: B x T x vocabulary logits."""

    def __init__(self, vocab_size: int, hidden_size: int) -> None:
        super().__init__()
        self.vocab_size = vocab_size
        self.encoder = RNNEncoder(vocab_size, hidden_size, cell="rnn")
        self.output = nn.Linear(hidden_size, vocab_size)

    def forward(self, batch: dict[str, Tensor]) -> dict[str, Tensor]:
        x = F.one_hot(batch["inputs"], self.vocab_size).float()  # B x T x V
        logits = self.output(self.encoder(x).sequence)  # B x T x V
        output = {"logits": logits}
        if "targets" in batch:
            output["loss"] = F.cross_entropy(logits.flatten(0, 1), batch["targets"].flatten())
        return output


def decode(ids: Tensor) -> str:
    """The characters of ids (T)."""
    return "".join(CHARS[i] for i in ids.tolist())


def main(seed: int = 0) -> dict[str, Any]:
    seed_everything(seed)
    ids = torch.tensor([[CHARS.index(char) for char in TEXT]])  # 1 x 7
    batch = {"inputs": ids[:, :-1], "targets": ids[:, 1:]}  # "hihell" -> "ihello", 1 x 6 each
    heading("the data")
    print(f"characters {CHARS} -> ids 0..{len(CHARS) - 1}")
    print(f"input  {decode(batch['inputs'][0])!r} = {batch['inputs'][0].tolist()}")
    print(f"target {decode(batch['targets'][0])!r} = {batch['targets'][0].tolist()} (each next character)")

    model = CharRNN(len(CHARS), hidden_size=8)
    predictions: list[str] = []

    def predict(epoch: int) -> bool:
        model.eval()
        with torch.no_grad():
            output = model(batch)
        predictions.append(decode(output["logits"].argmax(-1)[0]))
        print(f"epoch {epoch:3d}  loss {float(output['loss']):.4f}  prediction {predictions[-1]!r}")
        return predictions[-1] == decode(batch["targets"][0])

    heading("training (Adam, lr 0.1) until the prediction is exact")
    epochs = train(model, [batch], MAX_EPOCHS, lr=0.1, after_epoch=predict)
    with torch.no_grad():
        logits = model(batch)["logits"]  # 1 x 6 x 5
    probabilities = logits.softmax(-1)[0]  # 6 x 5
    heading("the result")
    print(f"logits {shape(logits)}: one score per character at each of the 6 steps")
    print(f"exact after {epochs} epochs: {predictions[-1]!r}")
    confidence = probabilities.max(-1).values  # 6
    print(f"probability of the predicted character per step: {[round(p, 3) for p in confidence.tolist()]}")
    return {
        "epochs": epochs,
        "predictions": predictions,
        "final": predictions[-1],
        "logits_shape": shape(logits),
        "confidence": confidence.tolist(),
    }


if __name__ == "__main__":
    run_lesson(main, __doc__)
