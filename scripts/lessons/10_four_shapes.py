"""Lesson 10: the four shapes of RNN problems, one tiny runnable example each.

* many-to-one (sentiment): a sequence in, one answer out. Keras: ``LSTM(h)`` then ``Dense``.
* one-to-many (captioning, generation): one vector in, a sequence out. Keras:
  ``RepeatVector(T)``, ``LSTM(h, return_sequences=True)``, ``TimeDistributed(Dense)``.
* many-to-many (tagging): one answer per input step. Keras: ``LSTM(h, return_sequences=True)``
  then ``TimeDistributed(Dense)``.
* encoder-decoder (translation, chatbots): a sequence in, a sequence of another length out.

    python scripts/lessons/10_four_shapes.py
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from _common import format_table, heading, run_lesson, shape, train
from torch import Tensor, nn

from nlp_rnn.embeddings.embedding_layer import random_embedding
from nlp_rnn.models.classifier import ClassifierConfig, RNNClassifier
from nlp_rnn.models.encoder import RNNEncoder
from nlp_rnn.models.search import greedy_search
from nlp_rnn.models.seq2seq import Seq2Seq, Seq2SeqConfig
from nlp_rnn.models.tagger import RNNTagger, TaggerConfig
from nlp_rnn.training.seeding import seed_everything

VOCAB, BATCH, STEPS = 12, 3, 5
KERAS = {
    "many-to-one": "LSTM(h) + Dense",
    "one-to-many": "RepeatVector(T) + LSTM(h, return_sequences=True) + TimeDistributed(Dense)",
    "many-to-many": "Bidirectional(LSTM(h, return_sequences=True)) + TimeDistributed(Dense)",
    "encoder-decoder": "encoder GRU(return_state=True) -> decoder GRU(initial_state=...) + Dense",
}
DIGITS, COUNT = 10, 4  # one-to-many: from one digit, count the next four (3 -> 4 5 6 7)


class OneToMany(nn.Module):
    """One vector (B x D) -> repeated over T steps -> LSTM -> a linear layer per step: B x T x V."""

    def __init__(self, input_size: int, hidden_size: int, vocab_size: int, steps: int) -> None:
        super().__init__()
        self.steps = steps
        self.encoder = RNNEncoder(input_size, hidden_size, cell="lstm")
        self.output = nn.Linear(hidden_size, vocab_size)

    def forward(self, batch: dict[str, Tensor]) -> dict[str, Tensor]:
        repeated = batch["vector"].unsqueeze(1).expand(-1, self.steps, -1)  # B x T x D: RepeatVector(T)
        logits = self.output(self.encoder(repeated).sequence)  # B x T x V
        output = {"logits": logits}
        if "targets" in batch:
            output["loss"] = F.cross_entropy(logits.flatten(0, 1), batch["targets"].flatten())
        return output


def one_to_many(seed: int) -> tuple[Tensor, Tensor, list[list[int]], int]:
    """Train :class:`OneToMany` to count on from a one-hot digit; its input, logits, outputs, epochs."""
    starts = torch.arange(DIGITS)  # 10 examples, one per digit
    targets = (starts.unsqueeze(1) + torch.arange(1, COUNT + 1)) % DIGITS  # 10 x 4
    batch = {"vector": F.one_hot(starts, DIGITS).float(), "targets": targets}  # 10 x 10, 10 x 4
    model = OneToMany(DIGITS, 32, DIGITS, COUNT)

    def exact(epoch: int) -> bool:
        with torch.no_grad():
            return torch.equal(model(batch)["logits"].argmax(-1), targets)

    epochs = train(model, [batch], 300, lr=0.02, after_epoch=exact)
    with torch.no_grad():
        logits = model(batch)["logits"]  # 10 x 4 x 10
    return batch["vector"], logits, logits.argmax(-1).tolist(), epochs


def main(seed: int = 0) -> dict[str, Any]:
    seed_everything(seed)
    ids = torch.randint(1, VOCAB, (BATCH, STEPS))  # 3 x 5 token ids, no padding
    lengths = torch.full((BATCH,), STEPS)
    shapes: dict[str, tuple[tuple[int, ...], tuple[int, ...]]] = {}

    heading("many-to-one: RNNClassifier (lesson 5)")
    config = ClassifierConfig(hidden_size=8, bidirectional=False, pooling="last")
    classifier = RNNClassifier(random_embedding(VOCAB, 8, seed=seed), 2, config).eval()
    with torch.no_grad():
        logits = classifier({"ids": ids, "lengths": lengths})["logits"]  # 3 x 2
    shapes["many-to-one"] = (shape(ids), shape(logits))
    print(f"ids {shape(ids)} -> logits {shape(logits)}: one answer per sequence")

    heading("one-to-many: RepeatVector + LSTM + a linear layer per step")
    vector, generated_logits, generated, epochs = one_to_many(seed)
    shapes["one-to-many"] = (shape(vector), shape(generated_logits))
    print(f"vector {shape(vector)} -> logits {shape(generated_logits)}: a sequence from one input")
    print(f"trained to count on from a one-hot digit, exact after {epochs} epochs:")
    for start in (0, 3, 8):
        print(f"  {start} -> {generated[start]}")

    heading("many-to-many: RNNTagger (lesson 7)")
    tagger_config = TaggerConfig(word_dim=8, char_filters=0, hidden_size=8, num_layers=1)
    tagger = RNNTagger(
        tagger_config, pretrained=None, num_words=VOCAB, num_chars=1, num_upos=4, num_xpos=0
    ).eval()
    with torch.no_grad():
        tags = tagger({"words": ids, "lengths": lengths})["upos_logits"]  # 3 x 5 x 4
    shapes["many-to-many"] = (shape(ids), shape(tags))
    print(f"words {shape(ids)} -> tag logits {shape(tags)}: one answer per input step")

    heading("encoder-decoder: Seq2Seq (lesson 8)")
    seq2seq_config = Seq2SeqConfig(
        embedding_dim=8,
        cell="gru",
        encoder_hidden=8,
        encoder_layers=1,
        decoder_hidden=8,
        decoder_layers=1,
        dropout=0.0,
        embedding_dropout=0.0,
    )
    seq2seq = Seq2Seq(
        seq2seq_config, source_vocab_size=VOCAB, target_vocab_size=VOCAB, bos_id=2, eos_id=3
    ).eval()
    tgt_in = torch.cat([torch.full((BATCH, 1), 2), torch.randint(4, VOCAB, (BATCH, 7))], dim=1)  # BOS + 7
    with torch.no_grad():
        decoder_logits = seq2seq.teacher_forced_logits(seq2seq.encode(ids, lengths), tgt_in)  # 3 x 8 x V
    searched = greedy_search(seq2seq, ids, lengths, max_len_a=0, max_len_b=3)
    shapes["encoder-decoder"] = (shape(ids), shape(decoder_logits))
    print(f"src {shape(ids)}, tgt_in {shape(tgt_in)} -> logits {shape(decoder_logits)}")
    print("the target has its own length: 8 steps from a 5-token source")
    print(
        f"greedy search capped at 3 tokens (max_len_a=0, max_len_b=3): output lengths "
        f"{[len(h.tokens) for h in searched]}, set by EOS or the cap, not by the source"
    )

    heading("summary")
    rows = [[kind, inputs, outputs, KERAS[kind]] for kind, (inputs, outputs) in shapes.items()]
    print(format_table(rows, ["shape", "input", "output", "Keras"]))
    return {
        "shapes": shapes,
        "one_to_many": generated,
        "one_to_many_epochs": epochs,
        "search_lengths": [len(h.tokens) for h in searched],
    }


if __name__ == "__main__":
    run_lesson(main, __doc__)
