"""Bidirectional language modelling as a task: cut texts into chunks, evaluate perplexity for the
Trainer, save and load a model folder, and score raw text.

The model (:class:`~nlp_rnn.models.bidirectional_lm.BidirectionalLM`) exists to pretrain a
classifier's encoder: a ``train_classifier`` stage's ``init_from`` accepts its model folder.

A model folder (written by :meth:`BidirectionalLMPredictor.save`)::

    config.json         task, architecture, sizes, chunk length, versions
    vocab.json          the input vocabulary (its first ``output_words`` ids are the predicted words)
    tokenizer/          the tokenizer that produced the training tokens
    model.safetensors   the weights
    metrics.json        the held-out perplexities of these weights (when known)
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from nlp_rnn import __version__
from nlp_rnn.data.batching import inference_batches
from nlp_rnn.errors import NlpRnnError
from nlp_rnn.fileio import chunked
from nlp_rnn.models.bidirectional_lm import BidirectionalLM, BidirectionalLMConfig
from nlp_rnn.tasks import (
    MODEL_CONFIG_FILE,
    WEIGHTS_FILE,
    config_fields,
    load_weights_file,
    read_task_config,
    require_files,
    save_weights,
    write_json,
)
from nlp_rnn.tasks.classification import EncodedExamples, collate, encode_examples
from nlp_rnn.text.tokenizers import Tokenizer, load_tokenizer
from nlp_rnn.text.vocab import Vocab

TASK = "bidirectional_lm"
FORMAT_VERSION = 1
VOCAB_FILE = "vocab.json"
TOKENIZER_DIR = "tokenizer"


def chunks(token_lists: Iterable[Sequence[str]], length: int) -> Iterator[Sequence[str]]:
    """Each text cut into consecutive pieces of at most ``length`` tokens; pieces of one token
    (nothing to predict) are left out."""
    if length < 2:
        raise ValueError(f"chunk length must be at least 2, got {length}")
    for tokens in token_lists:
        for start in range(0, len(tokens), length):
            piece = tokens[start : start + length]
            if len(piece) >= 2:
                yield piece


def encode_chunks(
    token_lists: Iterable[Sequence[str]], vocab: Vocab, length: int, source: str = "data"
) -> EncodedExamples:
    """The chunks of :func:`chunks` as token ids (unlabelled examples, ``collate``-ready)."""
    return encode_examples(chunks(token_lists, length), vocab, skip_empty=True, source=source)


def evaluate_perplexity(model: nn.Module, batches: Iterable[Mapping[str, torch.Tensor]]) -> dict[str, float]:
    """The Trainer's evaluate function: perplexity per predicted word, of both directions together
    (``ppl``: the exponential of the mean NLL), of each (``ppl_forward``, ``ppl_backward``), the
    mean NLL (``loss``) and the predictions per direction (``tokens``)."""
    nll, tokens = summed_nll(model, batches)
    return perplexity_scores(nll, tokens)


def summed_nll(model: nn.Module, batches: Iterable[Mapping[str, torch.Tensor]]) -> tuple[torch.Tensor, int]:
    """The summed NLL of each direction (2, float64) over ``batches``, and the predictions per direction."""
    nll = torch.zeros(2, dtype=torch.float64)
    tokens = 0
    for batch in batches:
        output = model(batch)
        nll += output["nll"].double().cpu()
        tokens += int(output["tokens"])
    return nll, tokens


def perplexity_scores(nll: torch.Tensor, tokens: int) -> dict[str, float]:
    """:func:`evaluate_perplexity`'s metrics from summed NLLs (2) and predictions per direction."""
    if tokens == 0:
        raise NlpRnnError("nothing to evaluate: no text of two or more tokens")
    mean = float(nll.sum()) / (2 * tokens)
    forward, backward = (float(value) / tokens for value in nll)
    return {
        "ppl": math.exp(mean),
        "ppl_forward": math.exp(forward),
        "ppl_backward": math.exp(backward),
        "loss": mean,
        "tokens": float(tokens),
    }


class BidirectionalLMPredictor:
    """A trained bidirectional language model with its tokenizer and vocabulary.

    ``perplexity(texts)`` scores raw text (cut into the training chunks' length, as in training);
    :func:`nlp_rnn.tasks.classifier_transfer.transfer_from_language_model` starts a classifier
    from :attr:`model`.
    """

    task = TASK

    def __init__(
        self,
        model: BidirectionalLM,
        tokenizer: Tokenizer,
        vocab: Vocab,
        chunk_length: int,
        device: torch.device | str = "cpu",
    ) -> None:
        self.model = model.to(device).eval()
        self.tokenizer = tokenizer
        self.vocab = vocab
        self.chunk_length = chunk_length
        self.device = torch.device(device)

    def perplexity(
        self, texts: Iterable[str], batch_size: int = 128, block: int = 10_000
    ) -> dict[str, float]:
        """``ppl``, ``ppl_forward``, ``ppl_backward``, ``loss`` and ``tokens`` (predictions per
        direction) of the texts, read ``block`` at a time (an iterator of any length is fine);
        texts of fewer than two tokens predict nothing."""
        if isinstance(texts, str):
            raise TypeError("perplexity takes a list of texts, not one string")
        nll, tokens = torch.zeros(2, dtype=torch.float64), 0
        for part in chunked(texts, block):
            examples = encode_chunks(self.tokenizer.tokenize_batch(part), self.vocab, self.chunk_length)
            batches = (
                {key: value.to(self.device) for key, value in collate([examples[i] for i in batch]).items()}
                for batch in inference_batches(examples.lengths, batch_size)
            )
            with torch.inference_mode():
                part_nll, part_tokens = summed_nll(self.model, batches)
            nll, tokens = nll + part_nll, tokens + part_tokens
        return perplexity_scores(nll, tokens)

    def config(self) -> dict[str, Any]:
        """What ``config.json`` records: enough to rebuild the model without the training pipeline."""
        return {
            "task": TASK,
            "format_version": FORMAT_VERSION,
            "nlp_rnn_version": __version__,
            "model": self.model.config.model_dump(mode="json"),
            "vocab_size": len(self.vocab),
            "embedding_dim": self.model.embedding.embedding_dim,
            "chunk_length": self.chunk_length,
        }

    def write_files(self, folder: Path) -> None:
        """Everything of a model folder except the weights (the Trainer's checkpoints get these too)."""
        folder.mkdir(parents=True, exist_ok=True)
        write_json(folder / MODEL_CONFIG_FILE, self.config())
        self.vocab.save(folder / VOCAB_FILE)
        self.tokenizer.save(folder / TOKENIZER_DIR)

    def save(self, folder: str | Path, metrics: Mapping[str, float] | None = None) -> Path:
        """Write a complete model folder (weights included)."""
        folder = Path(folder)
        self.write_files(folder)
        save_weights(self.model, folder, metrics)
        return folder

    @classmethod
    def load(cls, folder: str | Path, device: torch.device | str = "cpu") -> BidirectionalLMPredictor:
        """Load a model folder; missing or broken files raise :class:`NlpRnnError` naming them."""
        folder = Path(folder)
        config = read_task_config(folder, TASK, FORMAT_VERSION)
        with config_fields(folder, "bidirectional LM"):
            architecture = BidirectionalLMConfig.model_validate(config["model"])
            sizes = {key: int(config[key]) for key in ("vocab_size", "embedding_dim", "chunk_length")}
        require_files(folder, VOCAB_FILE, WEIGHTS_FILE, dirs=[TOKENIZER_DIR])
        vocab = Vocab.load(folder / VOCAB_FILE)
        if len(vocab) != sizes["vocab_size"] or vocab.unk_id is None:
            raise NlpRnnError(
                f"{folder}: vocab.json has {len(vocab)} tokens (<unk>: {vocab.unk_id is not None}), "
                f"but config.json says {sizes['vocab_size']}"
            )
        model = BidirectionalLM.from_sizes(
            sizes["vocab_size"], sizes["embedding_dim"], vocab.unk_id, architecture, vocab.pad_id or 0
        )
        load_weights_file(model, folder / WEIGHTS_FILE)
        tokenizer = load_tokenizer(folder / TOKENIZER_DIR)
        return cls(model, tokenizer, vocab, sizes["chunk_length"], device=device)
