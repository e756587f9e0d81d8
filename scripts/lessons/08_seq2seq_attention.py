"""Lesson 8: an encoder-decoder with start and end tokens, padding and attention.

The toy task: answer a sequence of number words with the same words in reverse order
("one four two" -> "two four one"). Keras' chatbot lessons pad questions and answers, put
``<start>`` before the decoder input and ``<end>`` after the decoder target, train with teacher
forcing and then generate word by word::

    encoder_outputs, h = GRU(64, return_sequences=True, return_state=True)(Embedding(V, 32)(src))
    decoder_outputs = GRU(64, return_sequences=True)(Embedding(V, 32)(tgt_in), initial_state=h)
    context = Attention()([decoder_outputs, encoder_outputs])
    logits = Dense(V)(Concatenate()([context, decoder_outputs]))

nlp-rnn: ``Seq2Seq`` (``nlp_rnn.models.seq2seq``) with a ``Seq2SeqConfig``, trained on batches of
``src``, ``src_lengths``, ``tgt_in`` (BOS + answer) and ``tgt_out`` (answer + EOS), decoded with
``greedy_search`` and ``beam_search`` (``nlp_rnn.models.search``).

    python scripts/lessons/08_seq2seq_attention.py
"""

from __future__ import annotations

import random
from typing import Any

import torch
from _common import format_matrix, heading, run_lesson, shape, train

from nlp_rnn.data.batching import pad_sequences
from nlp_rnn.models.search import beam_search, greedy_search
from nlp_rnn.models.seq2seq import Seq2Seq, Seq2SeqConfig
from nlp_rnn.text.vocab import SPECIALS, Vocab
from nlp_rnn.training.seeding import seed_everything

WORDS = ["one", "two", "three", "four", "five", "six", "seven", "eight"]
PAIRS = 40
MAX_EPOCHS = 400
CHECK_EVERY = 10


def make_pairs(seed: int) -> list[tuple[list[str], list[str]]]:
    """``PAIRS`` distinct questions of 2 to 6 number words, each answered by its reverse."""
    rng = random.Random(seed)
    questions: dict[tuple[str, ...], None] = {}
    while len(questions) < PAIRS:
        questions[tuple(rng.choice(WORDS) for _ in range(rng.randint(2, 6)))] = None
    return [(list(q), list(reversed(q))) for q in questions]


def make_batch(pairs: list[tuple[list[str], list[str]]], vocab: Vocab) -> dict[str, torch.Tensor]:
    """Right-padded ``src`` (B x S), ``src_lengths`` (B), ``tgt_in`` and ``tgt_out`` (B x T)."""
    src, src_lengths = pad_sequences([vocab.encode(q) for q, _ in pairs], pad_id=vocab.pad_id)
    tgt_in, _ = pad_sequences([vocab.encode(a, add_bos=True) for _, a in pairs], pad_id=vocab.pad_id)
    tgt_out, _ = pad_sequences([vocab.encode(a, add_eos=True) for _, a in pairs], pad_id=vocab.pad_id)
    return {"src": src, "src_lengths": src_lengths, "tgt_in": tgt_in, "tgt_out": tgt_out}


def main(seed: int = 0) -> dict[str, Any]:
    seed_everything(seed)
    vocab = Vocab(WORDS, specials=SPECIALS)  # <pad> = 0, <unk> = 1, <bos> = 2, <eos> = 3, then words
    pairs = make_pairs(seed)
    batch = make_batch(pairs, vocab)
    heading("the padded batch, with BOS and EOS")
    print(f"vocabulary: {vocab.itos}")
    print(f"src {shape(batch['src'])}, tgt_in {shape(batch['tgt_in'])}, tgt_out {shape(batch['tgt_out'])}")
    for row in range(2):
        for name in ("src", "tgt_in", "tgt_out"):
            ids = batch[name][row]
            tokens = " ".join(vocab.decode(ids, strip_specials=False))
            print(f"  {name:7s} {ids.tolist()}  {tokens}")
    print("tgt_in = BOS + answer (what the decoder reads), tgt_out = answer + EOS (what it must say)")

    config = Seq2SeqConfig(
        embedding_dim=32,
        cell="gru",
        encoder_hidden=32,
        encoder_layers=1,
        bidirectional=True,
        decoder_hidden=64,
        decoder_layers=1,
        attention="general",
        input_feeding=False,
        dropout=0.0,
        embedding_dropout=0.0,
        label_smoothing=0.0,
    )
    model = Seq2Seq(
        config,
        source_vocab_size=len(vocab),
        target_vocab_size=len(vocab),
        bos_id=vocab.bos_id,
        eos_id=vocab.eos_id,
    )
    answers = [answer for _, answer in pairs]

    def decoded() -> list[list[str]]:
        model.eval()  # search changes no module's mode
        return [vocab.decode(h.tokens) for h in greedy_search(model, batch["src"], batch["src_lengths"])]

    def report(epoch: int) -> bool:
        if epoch % CHECK_EVERY:
            return False
        exact = sum(got == want for got, want in zip(decoded(), answers, strict=True))
        with torch.no_grad():
            loss = float(model(batch)["loss"])
        print(f"epoch {epoch:3d}  loss {loss:.4f}  exact answers {exact}/{len(pairs)}")
        return exact == len(pairs)

    heading(f"training on the {len(pairs)} pairs until every greedy answer is exact (Adam, lr 0.01)")
    epochs = train(model, [batch], MAX_EPOCHS, lr=0.01, after_epoch=report)
    greedy = decoded()
    all_exact = greedy == answers

    heading("answers")
    for (question, _), answer in list(zip(pairs, greedy, strict=True))[:3]:
        print(f"  {' '.join(question):32s} -> {' '.join(answer)}")
    example = 0
    (best, second) = beam_search(
        model,
        batch["src"][example : example + 1],
        batch["src_lengths"][example : example + 1],
        beam_size=3,
        n_best=2,
    )[0]
    print(f"beam search (beam 3) on {' '.join(pairs[example][0])!r}, the two best:")
    for hypothesis in (best, second):
        print(f"  {' '.join(vocab.decode(hypothesis.tokens)):32s} log-probability {hypothesis.log_prob:.4f}")

    heading("attention of one example (rows: output words and EOS, columns: source words)")
    question = pairs[example][0]
    (hypothesis,) = greedy_search(
        model,
        batch["src"][example : example + 1],
        batch["src_lengths"][example : example + 1],
        return_attention=True,
    )
    attention = hypothesis.attention  # (output + EOS) x source
    print(format_matrix(attention, [*vocab.decode(hypothesis.tokens), "<eos>"], question))
    print("each row sums to 1: the share of each source word in the context for that output word")
    return {
        "src_shape": shape(batch["src"]),
        "tgt_shape": shape(batch["tgt_in"]),
        "first_tgt_in": batch["tgt_in"][0].tolist(),
        "first_tgt_out": batch["tgt_out"][0].tolist(),
        "epochs": epochs,
        "all_exact": all_exact,
        "beam_best": vocab.decode(best.tokens),
        "beam_log_probs": [best.log_prob, second.log_prob],
        "question": question,
        "attention": attention.tolist(),
    }


if __name__ == "__main__":
    run_lesson(main, __doc__)
