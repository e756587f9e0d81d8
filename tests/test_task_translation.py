"""The translation task: SentencePiece subwords, encoding, collation, evaluation, a tiny Seq2Seq
trained with the Trainer, the predictor (batching, empty and unknown input, long lines, files)
and the model folder."""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from nlp_rnn.api import load_model
from nlp_rnn.errors import NlpRnnError
from nlp_rnn.models.low_precision import int8_available
from nlp_rnn.models.search import max_output_lengths
from nlp_rnn.models.seq2seq import Seq2SeqConfig
from nlp_rnn.tasks import WEIGHTS_FILE, load_weights_file
from nlp_rnn.tasks.translation import (
    BOS_ID,
    EOS_ID,
    PAD_ID,
    UNK_ID,
    Collate,
    ResampledPairs,
    SubwordModels,
    TranslationPredictor,
    build_seq2seq,
    encode_pairs,
    encode_resampled_pairs,
    evaluate_batches,
    train_subwords,
    write_model_files,
)
from nlp_rnn.training.config import TrainerConfig
from nlp_rnn.training.trainer import Trainer

needs_int8 = pytest.mark.skipif(not int8_available(), reason="needs PyTorch's x86 quantized engine")
needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU")

DEMO = Path(__file__).resolve().parent.parent / "corpora" / "demo"
SOURCES = (DEMO / "translate.train.xx").read_text(encoding="utf-8").splitlines()
TARGETS = (DEMO / "translate.train.en").read_text(encoding="utf-8").splitlines()
DEV_SOURCES = (DEMO / "translate.dev.xx").read_text(encoding="utf-8").splitlines()
DEV_TARGETS = (DEMO / "translate.dev.en").read_text(encoding="utf-8").splitlines()
TINY = Seq2SeqConfig(
    embedding_dim=16,
    cell="gru",
    encoder_hidden=16,
    encoder_layers=1,
    decoder_hidden=24,
    decoder_layers=1,
    dropout=0.1,
    embedding_dropout=0.0,
)
SAMPLES = DEV_SOURCES[:12]


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def subwords() -> SubwordModels:
    return train_subwords(SOURCES, TARGETS, vocab_size=120)


@pytest.fixture(scope="module")
def predictor(subwords: SubwordModels, tmp_path_factory: pytest.TempPathFactory) -> TranslationPredictor:
    """A tiny model trained for a few dozen steps with the project's Trainer."""
    torch.set_num_threads(1)
    train = encode_pairs(SOURCES, TARGETS, subwords, max_length=40)
    dev = encode_pairs(DEV_SOURCES[:50], DEV_TARGETS[:50], subwords)
    torch.manual_seed(0)
    model = build_seq2seq(TINY, subwords)
    config = TrainerConfig(
        lr=0.01,
        batch_size=32,
        max_steps=40,
        eval_every_epoch=False,
        device="cpu",
        tensorboard=False,
        plot=False,
    )
    folder = tmp_path_factory.mktemp("translation_train")
    result = Trainer(config, folder).fit(
        model,
        train,
        dev,
        collate=Collate(),
        evaluate=evaluate_batches,
        add_files=lambda path: write_model_files(path, model, subwords, "xx", "en"),
    )
    assert result.best_dir is not None and result.best_metrics is not None
    assert {"loss", "nll", "ppl"} <= set(result.best_metrics)
    load_weights_file(model, result.best_dir / WEIGHTS_FILE)
    return TranslationPredictor(model, subwords, "xx", "en")


# --------------------------------------------------------------------------- subwords and encoding


def test_subword_training_is_deterministic_streams_and_writes_no_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    first = train_subwords(iter(SOURCES), iter(TARGETS), vocab_size=120)
    second = train_subwords(iter(SOURCES), iter(TARGETS), vocab_size=120)
    assert first.joint and first.source == second.source
    assert list(tmp_path.iterdir()) == []
    separate = train_subwords(iter(SOURCES), iter(TARGETS), vocab_size=60, joint=False)
    assert not separate.joint and separate.source != separate.target
    assert separate.source.vocab_size <= 60 and separate.target.vocab_size <= 60


def test_special_ids_are_fixed_and_unknown_characters_map_to_unk(subwords: SubwordModels) -> None:
    ids = subwords.source.encode_ids("le dama gran kanta ☃ .")
    assert UNK_ID in ids and not {PAD_ID, BOS_ID, EOS_ID} & set(ids)
    assert (PAD_ID, UNK_ID, BOS_ID, EOS_ID) == (0, 1, 2, 3)
    assert (
        subwords.source.decode_ids(subwords.source.encode_ids("le dama gran kanta ."))
        == "le dama gran kanta ."
    )


def test_encoding_drops_long_and_empty_pairs(subwords: SubwordModels) -> None:
    long = " ".join(["kat"] * 30)
    encoded = encode_pairs(
        ["le kat .", "", long, "un omo ."], ["the cat .", "x", "cat", ""], subwords, max_length=20
    )
    assert len(encoded) == 1 and encoded.too_long == 1 and encoded.empty == 2
    source, target = encoded[0]
    assert source.tolist() == subwords.source.encode_ids("le kat .")
    assert target.tolist() == subwords.target.encode_ids("the cat .")
    assert encoded.lengths == [len(target) + 1]
    with pytest.raises(NlpRnnError, match="targets ran out first"):
        encode_pairs(["a", "b"], ["a"], subwords)


def test_resampled_pairs_split_the_same_pairs_otherwise_each_epoch(subwords: SubwordModels) -> None:
    sources, targets = [*SOURCES[:60], "", " ".join(["kat"] * 60)], [*TARGETS[:60], "x", "cat"]
    best = encode_pairs(sources, targets, subwords, max_length=40)
    pairs = encode_resampled_pairs(sources, targets, subwords, max_length=40, samples=2, alpha=0.1, seed=3)
    assert isinstance(pairs, ResampledPairs) and len(pairs.segmentations) == 3
    assert len(pairs) == len(best) == 60 and (pairs.too_long, pairs.empty) == (1, 1)
    assert pairs.lengths == best.lengths and pairs.target_tokens == best.target_tokens
    assert [pairs[i][1].tolist() for i in range(60)] == [best[i][1].tolist() for i in range(60)]  # epoch 0
    decode = subwords.target.decode_ids
    for epoch in (1, 2):
        pairs.set_epoch(epoch)
        sampled = [pairs[i] for i in range(60)]
        # Other splits of the same texts: the same sentences when decoded, different ids in places.
        assert [decode(t.tolist()) for _, t in sampled] == [decode(best[i][1].tolist()) for i in range(60)]
        changed = sum(s.tolist() != best[i][0].tolist() for i, (s, _) in enumerate(sampled))
        assert changed >= 5
    pairs.set_epoch(3)  # 3 mod 3: the best segmentation again
    assert all(pairs[i][0].tolist() == best[i][0].tolist() for i in range(60))
    again = encode_resampled_pairs(sources, targets, subwords, max_length=40, samples=2, alpha=0.1, seed=3)
    other = encode_resampled_pairs(sources, targets, subwords, max_length=40, samples=2, alpha=0.1, seed=4)
    ids = [
        np.concatenate([p.source_ids, p.target_ids]) for p in (pairs.segmentations[1], again.segmentations[1])
    ]
    assert np.array_equal(*ids)  # the seed decides the samples
    assert not np.array_equal(
        ids[0], np.concatenate([other.segmentations[1].source_ids, other.segmentations[1].target_ids])
    )


def test_collate_frames_targets_and_pads_with_zero(subwords: SubwordModels) -> None:
    encoded = encode_pairs(
        ["le kat gran vide un omo .", "le kat ."], ["the cat .", "the big cat sees a man ."], subwords
    )
    (src0, tgt0), (src1, tgt1) = encoded[0], encoded[1]
    batch = Collate()([encoded[0], encoded[1]])
    steps = max(len(tgt0), len(tgt1)) + 1
    assert batch["src"].shape == (2, max(len(src0), len(src1))) and batch["tgt_in"].shape == (2, steps)
    assert batch["src_lengths"].tolist() == [len(src0), len(src1)]
    assert batch["src"][1, len(src1) :].eq(PAD_ID).all()
    assert batch["tgt_in"][0].tolist() == [BOS_ID, *tgt0.tolist()] + [PAD_ID] * (steps - len(tgt0) - 1)
    assert batch["tgt_out"][0].tolist() == [*tgt0.tolist(), EOS_ID] + [PAD_ID] * (steps - len(tgt0) - 1)
    assert batch["tgt_out"][1].tolist() == [*tgt1.tolist(), EOS_ID]


def test_evaluate_weights_the_loss_by_target_tokens(subwords: SubwordModels) -> None:
    torch.manual_seed(0)
    model = build_seq2seq(TINY, subwords).eval()
    encoded = encode_pairs(DEV_SOURCES[:6], DEV_TARGETS[:6], subwords)
    batches = [Collate()([encoded[i] for i in range(5)]), Collate()([encoded[5]])]
    with torch.no_grad():
        metrics = evaluate_batches(model, batches)
        outputs = [model(batch) for batch in batches]
    tokens = sum(int(out["tokens"]) for out in outputs)
    expected = sum(float(out["loss"]) * int(out["tokens"]) for out in outputs) / tokens
    assert metrics["loss"] == pytest.approx(expected, rel=1e-5)
    assert metrics["ppl"] == pytest.approx(math.exp(metrics["nll"]), rel=1e-9)
    assert metrics["nll"] < metrics["loss"]  # label smoothing adds to the plain cross-entropy


# --------------------------------------------------------------------------- the predictor


def test_the_trained_model_beats_its_untrained_self(predictor: TranslationPredictor, subwords) -> None:
    dev = encode_pairs(DEV_SOURCES[:50], DEV_TARGETS[:50], subwords)
    batches = [Collate()([dev[i] for i in range(50)])]
    torch.manual_seed(0)
    untrained = build_seq2seq(TINY, subwords).eval()
    with torch.no_grad():
        assert (
            evaluate_batches(predictor.model, batches)["nll"]
            < evaluate_batches(untrained, batches)["nll"] - 1
        )


def test_save_load_translates_identically(predictor: TranslationPredictor, tmp_path: Path) -> None:
    folder = predictor.save(tmp_path / "model", metrics={"ppl": 3.0})
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    assert config["task"] == "translation" and config["format_version"] == 1
    assert (config["source_lang"], config["target_lang"]) == ("xx", "en") and config["joint_vocabulary"]
    assert (folder / "tokenizer" / "sentencepiece.model").is_file()
    loaded = load_model(folder)
    assert isinstance(loaded, TranslationPredictor) and loaded.model.config == TINY
    for beam in (1, 3):
        before = [t.text for t in predictor.translate(SAMPLES, beam_size=beam)]
        assert [t.text for t in loaded.translate(SAMPLES, beam_size=beam)] == before
    assert any(before)


def test_separate_models_save_and_load(tmp_path: Path) -> None:
    subwords = train_subwords(SOURCES[:300], TARGETS[:300], vocab_size=60, joint=False)
    predictor = TranslationPredictor(build_seq2seq(TINY, subwords), subwords, "xx", "en")
    folder = predictor.save(tmp_path / "model")
    assert (folder / "source_tokenizer").is_dir() and (folder / "target_tokenizer").is_dir()
    loaded = TranslationPredictor.load(folder)
    assert not loaded.subwords.joint
    assert [t.text for t in loaded.translate(SAMPLES[:3], beam_size=2)] == [
        t.text for t in predictor.translate(SAMPLES[:3], beam_size=2)
    ]


def test_a_folder_of_another_task_or_without_weights_is_an_error(
    predictor: TranslationPredictor, tmp_path: Path
) -> None:
    folder = predictor.save(tmp_path / "model")
    (folder / WEIGHTS_FILE).unlink()
    with pytest.raises(NlpRnnError, match="lacks model.safetensors"):
        TranslationPredictor.load(folder)
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    (folder / "config.json").write_text(json.dumps({**config, "task": "tagging"}), encoding="utf-8")
    with pytest.raises(NlpRnnError, match="reads translation models"):
        TranslationPredictor.load(folder)


def test_output_does_not_depend_on_the_batch(predictor: TranslationPredictor) -> None:
    together = predictor.translate(SAMPLES, beam_size=3, batch_size=5)
    alone = [predictor.translate([sentence], beam_size=3)[0] for sentence in SAMPLES]
    assert [t.candidates[0].ids for t in together] == [t.candidates[0].ids for t in alone]
    greedy_together = predictor.translate(SAMPLES, beam_size=1)
    greedy_alone = [predictor.translate([sentence], beam_size=1)[0] for sentence in SAMPLES]
    assert [t.text for t in greedy_together] == [t.text for t in greedy_alone]


def test_empty_lines_give_empty_outputs_in_place(predictor: TranslationPredictor) -> None:
    inputs = ["", SAMPLES[0], "   ", SAMPLES[1], ""]
    outputs = predictor.translate(inputs, beam_size=2)
    assert [t.source for t in outputs] == inputs
    assert [t.text for t in outputs][::2] == ["", "", ""] and all(t.text for t in outputs[1::2])
    assert outputs[1].text == predictor.translate([SAMPLES[0]], beam_size=2)[0].text
    assert predictor.translate([]) == []


def test_unknown_characters_and_a_long_line_stay_within_the_cap(predictor: TranslationPredictor) -> None:
    strange = predictor.translate(["le ☃☃ kat 日本 vide ∮ .", "ßøü"], beam_size=2)
    assert all(isinstance(t.text, str) for t in strange)
    long_line = " ".join(SOURCES[i % 50].rstrip(" .") for i in range(200))
    assert len(long_line.split()) >= 1000
    source_length = len(predictor.subwords.source.encode_ids(long_line))
    (result,) = predictor.translate([long_line], beam_size=1, max_len_a=0.5, max_len_b=5)
    cap = int(max_output_lengths(torch.tensor([source_length]), 0.5, 5)[0])
    assert 0 < len(result.candidates[0].ids) <= cap


def test_n_best_scores_and_attention(predictor: TranslationPredictor) -> None:
    (result,) = predictor.translate([SAMPLES[2]], beam_size=4, n_best=3, return_attention=True)
    assert len(result.candidates) == 3
    scores = [c.score for c in result.candidates]
    assert scores == sorted(scores, reverse=True)
    best = result.candidates[0]
    assert best.attention is not None
    assert best.attention.shape == (len(best.ids) + 1, len(result.source_pieces))
    assert torch.allclose(best.attention.sum(-1), torch.ones(len(best.ids) + 1), atol=1e-5)
    with pytest.raises(NlpRnnError, match="n_best"):
        predictor.translate([SAMPLES[0]], beam_size=1, n_best=2)


def test_the_attention_record_labels_rows_and_columns(predictor: TranslationPredictor) -> None:
    result, empty = predictor.translate([SAMPLES[2], ""], beam_size=2, return_attention=True)
    record = predictor.attention_record(result)
    best = result.candidates[0]
    assert record["source"] == result.source_pieces
    assert record["output"] == predictor.output_pieces(best.ids) and record["output"][-1] == "</s>"
    assert record["weights"] == [[round(w, 4) for w in row] for row in best.attention.tolist()]
    assert predictor.attention_record(empty) == {"source": [], "output": [], "weights": []}
    (without,) = predictor.translate([SAMPLES[2]], beam_size=2)
    with pytest.raises(NlpRnnError, match="return_attention"):
        predictor.attention_record(without)


def test_translate_file_keeps_every_line(predictor: TranslationPredictor, tmp_path: Path) -> None:
    source = tmp_path / "input.txt"
    lines = [SAMPLES[0], "", SAMPLES[1], "☃", SAMPLES[2], ""]
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    target = tmp_path / "output.txt"
    assert predictor.translate_file(source, target, beam_size=2, chunk=4) == len(lines)
    written = target.read_text(encoding="utf-8").split("\n")
    assert written[-1] == "" and len(written) - 1 == len(lines)
    assert written[:-1] == [t.text for t in predictor.translate(lines, beam_size=2)]
    assert written[1] == "" and written[5] == ""
    assert sorted(p.name for p in tmp_path.iterdir()) == ["input.txt", "output.txt"]


@pytest.mark.parametrize("precision", ["bf16", pytest.param("int8", marks=needs_int8)])
def test_low_precision_decoding_agrees_with_fp32_and_leaves_the_model_alone(
    predictor: TranslationPredictor, precision: str
) -> None:
    fp32 = predictor.translate(SAMPLES, beam_size=3)
    low = predictor.translate(SAMPLES, beam_size=3, precision=precision)
    assert predictor.search_model(precision) is predictor.search_model(precision)  # made once
    assert predictor.search_model("fp32") is predictor.model
    assert next(predictor.model.parameters()).dtype == torch.float32
    same = sum(a.text == b.text for a, b in zip(fp32, low, strict=True))
    assert same >= len(SAMPLES) - 2  # rounding may flip a close call, not the whole output
    both = zip(fp32, low, strict=True)
    pairs = [(a.candidates[0].score, b.candidates[0].score) for a, b in both if a.text == b.text]
    assert all(abs(a - b) < 0.05 for a, b in pairs)  # the same output scores alike
    with pytest.raises(NlpRnnError, match="precision"):
        predictor.translate(SAMPLES[:1], precision="fp16")


@needs_int8
def test_int8_output_does_not_depend_on_the_batch(predictor: TranslationPredictor) -> None:
    together = predictor.translate(SAMPLES, beam_size=3, batch_size=5, precision="int8")
    alone = [predictor.translate([sentence], beam_size=3, precision="int8")[0] for sentence in SAMPLES]
    assert [t.candidates[0].ids for t in together] == [t.candidates[0].ids for t in alone]
    scores = zip(together, alone, strict=True)
    assert all(a.candidates[0].score == pytest.approx(b.candidates[0].score, abs=1e-4) for a, b in scores)


@needs_cuda
def test_cuda_decoding_agrees_with_the_cpu_and_does_not_depend_on_the_batch(
    predictor: TranslationPredictor,
) -> None:
    on_gpu = TranslationPredictor(
        copy.deepcopy(predictor.model), predictor.subwords, "xx", "en", device="cuda"
    )
    cpu = predictor.translate(SAMPLES, beam_size=3)
    gpu = on_gpu.translate(SAMPLES, beam_size=3, batch_size=5)
    same = sum(a.text == b.text for a, b in zip(cpu, gpu, strict=True))
    assert same >= len(SAMPLES) - 1  # other kernels may flip a close call, not the whole output
    pairs = [
        (a.candidates[0].score, b.candidates[0].score)
        for a, b in zip(cpu, gpu, strict=True)
        if a.text == b.text
    ]
    assert all(abs(a - b) < 1e-3 for a, b in pairs)
    alone = [on_gpu.translate([sentence], beam_size=3)[0] for sentence in SAMPLES]
    assert [t.candidates[0].ids for t in gpu] == [t.candidates[0].ids for t in alone]
    greedy = on_gpu.translate(SAMPLES, beam_size=1)
    assert [t.text for t in greedy] == [on_gpu.translate([s], beam_size=1)[0].text for s in SAMPLES]
    assert next(predictor.model.parameters()).device.type == "cpu"


# --------------------------------------------------------------------------- ensembles


def perturbed(predictor: TranslationPredictor, seed: int, scale: float = 0.05) -> TranslationPredictor:
    """Another model near the trained one: its weights with a little noise."""
    model = copy.deepcopy(predictor.model)
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.add_(scale * torch.randn(parameter.shape, generator=generator))
    return TranslationPredictor(model, predictor.subwords, predictor.source_lang, predictor.target_lang)


def test_an_ensemble_translates_by_the_mean_distribution(predictor: TranslationPredictor) -> None:
    other = perturbed(predictor, seed=1)
    ensemble = predictor.ensembled([other])
    assert ensemble.members == [other.model] and ensemble.model is predictor.model
    results = ensemble.translate(SAMPLES, beam_size=1, return_attention=True)
    assert any(t.text for t in results)
    first = results[0].candidates[0]
    assert torch.allclose(first.attention.sum(-1), torch.ones(len(first.ids) + 1), atol=1e-5)
    # A greedy output's log-probability is the sum over its steps of log mean_m p_m(token).
    dev = [(np.asarray(predictor.subwords.source.encode_ids(SAMPLES[0])), np.asarray(first.ids))]
    batch = Collate()(dev)
    step_probs = []
    for model in (predictor.model, other.model):
        with torch.no_grad():
            state = model.encode(batch["src"], batch["src_lengths"])
            logits = model.teacher_forced_logits(state, batch["tgt_in"])  # 1 x T x V
        step_probs.append(torch.softmax(logits, -1).gather(-1, batch["tgt_out"].unsqueeze(-1)).squeeze(-1))
    expected = ((step_probs[0] + step_probs[1]) / 2).log().sum().item()
    assert first.log_prob == pytest.approx(expected, abs=1e-4)
    together = ensemble.translate(SAMPLES, beam_size=3, batch_size=5)
    alone = [ensemble.translate([sentence], beam_size=3)[0] for sentence in SAMPLES]
    assert [t.candidates[0].ids for t in together] == [t.candidates[0].ids for t in alone]
    with pytest.raises(NlpRnnError, match="an ensemble has no single model folder"):
        ensemble.save(Path("never-written"))


@needs_int8
def test_an_ensemble_decodes_in_int8(predictor: TranslationPredictor) -> None:
    ensemble = predictor.ensembled([perturbed(predictor, seed=2)])
    fp32 = ensemble.translate(SAMPLES, beam_size=3)
    int8 = ensemble.translate(SAMPLES, beam_size=3, precision="int8")
    assert sum(a.text == b.text for a, b in zip(fp32, int8, strict=True)) >= len(SAMPLES) - 2


def test_ensemble_members_must_share_pair_and_subwords(predictor: TranslationPredictor) -> None:
    other_pair = TranslationPredictor(copy.deepcopy(predictor.model), predictor.subwords, "xx", "de")
    with pytest.raises(NlpRnnError, match="member 2 translates xx -> de, member 1 xx -> en"):
        predictor.ensembled([other_pair])
    subwords = train_subwords(SOURCES[:300], TARGETS[:300], vocab_size=120)
    other_subwords = TranslationPredictor(build_seq2seq(TINY, subwords), subwords, "xx", "en")
    with pytest.raises(NlpRnnError, match="member 2 has other SentencePiece models"):
        predictor.ensembled([other_subwords])
