"""Scheduled sampling for the attention encoder-decoder and the pointer-generator: the schedules,
their validation, the mixed decoder inputs (BOS and padding kept, eval mode untouched), p = 0 as
today's training, the one-shot and step-wise paths, copy ids never fed, the stages' wiring, and a
resumed run that ends with the uninterrupted run's weights."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pydantic
import pytest
import test_stage_train_summarizer
import test_stage_train_translator
import torch
import torch.nn.functional as F
from training_helpers import state_dicts_equal

import nlp_rnn.models.seq2seq as seq2seq_module
from nlp_rnn.errors import ConfigError
from nlp_rnn.models.pointer_generator import PointerGenerator, PointerGeneratorConfig
from nlp_rnn.models.seq2seq import ScheduledSamplingConfig, Seq2Seq, Seq2SeqConfig, choose_tokens, mix_inputs
from nlp_rnn.pipeline import load_pipeline, run_pipeline
from nlp_rnn.tasks.translation import Collate, EncodedPairs, ScheduledSampling, evaluate_batches
from nlp_rnn.training.checkpoint import read_json
from nlp_rnn.training.config import TrainerConfig
from nlp_rnn.training.trainer import Callback, Trainer, TrainerState

PAD, UNK, BOS, EOS = 0, 1, 2, 3
VOCAB = 13
PIPELINES = Path(__file__).resolve().parent.parent / "pipelines"
# Luong general without input feeding runs one shot; Bahdanau and input feeding run step by step.
PATHS = {
    "one-shot": ("general", False),
    "bahdanau-feeding": ("bahdanau", True),
    "luong-feeding": ("dot", True),
}


pytestmark = pytest.mark.usefixtures("one_thread")


def make_model(seed: int = 0, dropout: float = 0.0, **overrides) -> Seq2Seq:
    """A tiny GRU model, one shot unless ``overrides`` say otherwise."""
    torch.manual_seed(seed)
    settings = {
        "embedding_dim": 6, "cell": "gru", "encoder_hidden": 5, "encoder_layers": 1, "decoder_hidden": 10,
        "decoder_layers": 1, "dropout": dropout, "embedding_dropout": dropout, "label_smoothing": 0.1,
        "attention": "general", "input_feeding": False, **overrides,
    }  # fmt: skip
    return Seq2Seq(
        Seq2SeqConfig(**settings), source_vocab_size=11, target_vocab_size=VOCAB, bos_id=BOS, eos_id=EOS
    )


def make_batch() -> dict[str, torch.Tensor]:
    """Three pairs, right-padded; target lengths 3, 5 and 1 (+ EOS)."""
    tokens = torch.tensor([[4, 5, 6, 0, 0], [7, 8, 9, 10, 11], [12, 0, 0, 0, 0]])  # B x 5
    lengths = torch.tensor([3, 5, 1])
    tgt_in = torch.cat([torch.full((3, 1), BOS), tokens], dim=1)  # B x 6
    tgt_out = torch.cat([tokens, torch.zeros(3, 1, dtype=torch.long)], dim=1)
    tgt_out[torch.arange(3), lengths] = EOS
    src = torch.tensor([[4, 5, 6, 7], [8, 9, 0, 0], [10, 0, 0, 0]])
    return {"src": src, "src_lengths": torch.tensor([4, 2, 1]), "tgt_in": tgt_in, "tgt_out": tgt_out}


def plain_loss(model: Seq2Seq, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """The training loss as computed before scheduled sampling: teacher forcing on the gold inputs."""
    state = model.encode(batch["src"], batch["src_lengths"])
    logits = model.teacher_forced_logits(state, batch["tgt_in"])
    targets = batch["tgt_out"]
    loss = F.cross_entropy(
        logits.flatten(0, 1), targets.flatten(), ignore_index=PAD, label_smoothing=0.1, reduction="sum"
    )
    return loss / (targets != PAD).sum()


def expected_mix(tgt_in: torch.Tensor, predicted: torch.Tensor) -> torch.Tensor:
    """p = 1 by hand: every real position after BOS reads the prediction made one position earlier."""
    mixed = tgt_in.clone()
    for b in range(tgt_in.size(0)):
        for t in range(1, tgt_in.size(1)):
            if tgt_in[b, t] != PAD:
                mixed[b, t] = predicted[b, t - 1]
    return mixed


def count_decoder_calls(model: Seq2Seq) -> list[int]:
    calls = [0]
    model.decoder.register_forward_hook(lambda *_: calls.__setitem__(0, calls[0] + 1))
    return calls


# --- the schedules and their settings --------------------------------------------------------------


def test_default_is_off_at_every_step():
    for schedule in ({}, {"schedule": "linear", "end_step": 10}, {"schedule": "inverse_sigmoid", "k": 5}):
        config = ScheduledSamplingConfig(**schedule)
        assert [config.probability_at(step) for step in (0, 5, 10, 10**9)] == [0.0] * 4
    assert Seq2SeqConfig().scheduled_sampling == ScheduledSamplingConfig()


def test_constant_starts_at_start_step():
    config = ScheduledSamplingConfig(probability=0.3, start_step=5)
    assert [config.probability_at(step) for step in (0, 4, 5, 10**6)] == [0.0, 0.0, 0.3, 0.3]


def test_linear_rises_from_start_to_end_step_then_stays():
    config = ScheduledSamplingConfig(probability=0.5, schedule="linear", start_step=10, end_step=110)
    values = [config.probability_at(step) for step in (0, 9, 10, 35, 60, 110, 111, 10**6)]
    assert values == [0.0, 0.0, 0.0, 0.125, 0.25, 0.5, 0.5, 0.5]


def test_inverse_sigmoid_is_bengios_curve_turned_around_monotone_and_capped():
    k = 10.0
    config = ScheduledSamplingConfig(probability=1.0, schedule="inverse_sigmoid", k=k)
    assert config.probability_at(0) == pytest.approx(1 / (k + 1))
    for step in (3, 17, 40):  # 1 - Bengio's teacher-forcing probability k / (k + exp(i / k))
        assert config.probability_at(step) == pytest.approx(1 - k / (k + math.exp(step / k)))
    assert config.probability_at(round(k * math.log(k))) == pytest.approx(0.5, abs=0.01)
    values = [config.probability_at(step) for step in range(0, 200)]
    assert all(a < b for a, b in zip(values, values[1:], strict=False))
    assert config.probability_at(10**9) == 1.0  # no overflow far out
    capped = ScheduledSamplingConfig(probability=0.25, schedule="inverse_sigmoid", k=k, start_step=7)
    assert capped.probability_at(6) == 0.0 and capped.probability_at(7) == pytest.approx(1 / (k + 1))
    assert max(capped.probability_at(step) for step in range(1000)) == 0.25


@pytest.mark.parametrize(
    "settings, message",
    [
        ({"probability": 1.5}, "less than or equal to 1"),
        ({"probability": -0.1}, "greater than or equal to 0"),
        ({"schedule": "linear"}, "needs end_step > start_step"),
        ({"schedule": "linear", "start_step": 10, "end_step": 10}, "needs end_step > start_step"),
        ({"end_step": 100}, "end_step applies to the linear schedule only"),
        ({"schedule": "inverse_sigmoid", "k": 0.5}, "greater than or equal to 1"),
        ({"sampling": "beam"}, "'argmax' or 'sample'"),
        ({"schedule": "exponential"}, "'constant', 'linear' or 'inverse_sigmoid'"),
        ({"probabilty": 0.1}, "extra"),
    ],
)
def test_bad_settings_are_errors(settings, message):
    with pytest.raises(pydantic.ValidationError, match=message):
        ScheduledSamplingConfig(**settings)
    with pytest.raises(pydantic.ValidationError, match=message):
        PointerGeneratorConfig(scheduled_sampling=settings)


def test_every_setting_is_described():
    assert all(field.description for field in ScheduledSamplingConfig.model_fields.values())


# --- the mixed inputs ------------------------------------------------------------------------------


def test_mix_inputs_by_hand():
    tgt_in = torch.tensor([[BOS, 5, 6, PAD], [BOS, 7, PAD, PAD]])
    predicted = torch.tensor([[10, 11, 12, 13], [20, 21, 22, 23]])
    assert mix_inputs(tgt_in, predicted, 1.0, PAD).tolist() == [[BOS, 10, 11, PAD], [BOS, 20, PAD, PAD]]
    assert torch.equal(mix_inputs(tgt_in, predicted, 0.0, PAD), tgt_in)


def test_mix_inputs_keeps_bos_and_padding_and_replaces_about_p():
    torch.manual_seed(0)
    lengths = torch.randint(1, 40, (200,))
    real = torch.arange(40) < lengths.unsqueeze(1)  # B x T, BOS included
    tgt_in = torch.where(real, torch.randint(4, 100, (200, 40)), PAD)
    tgt_in[:, 0] = BOS
    predicted = torch.randint(100, 200, (200, 40))  # ids never in tgt_in: every replacement shows
    mixed = mix_inputs(tgt_in, predicted, 0.3, PAD)
    replaced = mixed != tgt_in
    assert not replaced[:, 0].any() and not replaced[~real].any()
    assert (mixed[:, 0] == BOS).all() and (mixed[~real] == PAD).all()
    share = replaced[:, 1:].sum() / real[:, 1:].sum()
    assert 0.28 < float(share) < 0.32
    assert torch.equal(mixed[replaced], torch.cat([tgt_in[:, :1], predicted[:, :-1]], dim=1)[replaced])


def test_choose_tokens_argmax_and_sample():
    probabilities = F.softmax(torch.tensor([[[0.0, 3.0, 1.0], [2.0, 0.0, 0.0]]]), dim=-1)  # 1 x 2 x 3
    assert choose_tokens(probabilities, "argmax").tolist() == [[1, 0]]
    one_hot = torch.eye(3)[[2, 0, 1]].view(1, 3, 3)
    assert choose_tokens(one_hot, "sample").tolist() == [[2, 0, 1]]
    torch.manual_seed(0)
    draws = choose_tokens(probabilities[0, 0].expand(20_000, 3), "sample")  # 20000
    frequencies = torch.bincount(draws, minlength=3) / 20_000
    torch.testing.assert_close(frequencies, probabilities[0, 0], atol=0.015, rtol=0)


@pytest.mark.parametrize("path", list(PATHS))
def test_p1_feeds_every_real_position_after_bos_the_first_pass_prediction(path):
    attention, feeding = PATHS[path]
    model = make_model(attention=attention, input_feeding=feeding).train()
    batch = make_batch()
    state = model.encode(batch["src"], batch["src_lengths"])
    predicted = model.teacher_forced_logits(state, batch["tgt_in"]).argmax(-1)  # no dropout: as pass 1
    model.sampling_probability = 1.0
    mixed = model.scheduled_inputs(state, batch["tgt_in"])
    assert torch.equal(mixed, expected_mix(batch["tgt_in"], predicted))
    assert (mixed[:, 0] == BOS).all() and mixed[0, 4:].tolist() == [PAD, PAD] and mixed[2, 2:].eq(PAD).all()
    # Pass 2 is the ordinary teacher-forced loss on the mixed inputs, against the unchanged targets.
    loss = model(batch)["loss"]
    torch.testing.assert_close(loss, plain_loss(model, {**batch, "tgt_in": mixed}), rtol=0, atol=0)
    loss.backward()
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad)


@pytest.mark.parametrize("path", list(PATHS))
def test_p0_is_todays_loss_and_gradients_with_no_extra_pass(path):
    attention, feeding = PATHS[path]
    losses, grads, calls, rng = [], [], [], []
    for compute in (plain_loss, lambda model, batch: model(batch)["loss"]):
        model = make_model(attention=attention, input_feeding=feeding, dropout=0.3).train()
        decoder_calls = count_decoder_calls(model)
        torch.manual_seed(5)  # the same dropout masks
        loss = compute(model, make_batch())
        loss.backward()
        losses.append(loss)
        grads.append({name: p.grad for name, p in model.named_parameters()})
        calls.append(decoder_calls[0])
        rng.append(torch.get_rng_state())
    assert torch.equal(losses[0], losses[1]) and state_dicts_equal(grads[0], grads[1])
    assert calls[0] == calls[1] and torch.equal(rng[0], rng[1])  # no first pass, no random draws


def test_p_above_0_runs_one_more_decoder_pass_and_eval_never_mixes():
    model = make_model(dropout=0.3).train()
    calls = count_decoder_calls(model)
    model.sampling_probability = 0.5
    model(make_batch())
    assert calls[0] == 2  # one shot: one decoder call per pass
    model.sampling_probability = 1.0
    model.eval()
    batch = make_batch()
    state = model.encode(batch["src"], batch["src_lengths"])
    assert model.scheduled_inputs(state, batch["tgt_in"]) is batch["tgt_in"]
    rng = torch.get_rng_state()
    with torch.no_grad():
        assert torch.equal(model(batch)["loss"], plain_loss(model, batch))
    assert torch.equal(torch.get_rng_state(), rng)  # nothing was drawn


def test_sampling_draws_from_the_softmax_reproducibly():
    model = make_model(scheduled_sampling={"probability": 1.0, "sampling": "sample"}).train()
    model.sampling_probability = 1.0
    batch = make_batch()
    state = model.encode(batch["src"], batch["src_lengths"])
    mixed = []
    for seed in (1, 1, 2):
        torch.manual_seed(seed)
        mixed.append(model.scheduled_inputs(state, batch["tgt_in"]))
    assert torch.equal(mixed[0], mixed[1])
    real = (batch["tgt_in"] != PAD) & (torch.arange(6) > 0)
    padding = batch["tgt_in"] == PAD
    assert (mixed[0][padding] == PAD).all() and (mixed[0][:, 0] == BOS).all()
    torch.manual_seed(3)
    many = torch.stack([model.scheduled_inputs(state, batch["tgt_in"]) for _ in range(50)])
    assert (many[:, real].unique(dim=0).size(0)) > 1  # not the argmax every time


# --- the pointer-generator -------------------------------------------------------------------------

PG_VOCAB = 10  # ids 4..9 ordinary words; 10.. are copy ids


def make_pointer_generator(attention: str, feeding: bool, copy: bool = True) -> PointerGenerator:
    torch.manual_seed(0)
    config = PointerGeneratorConfig(
        embedding_dim=8, cell="gru", encoder_hidden=6, encoder_layers=1, decoder_hidden=12,
        decoder_layers=1, attention=attention, input_feeding=feeding, dropout=0.0, embedding_dropout=0.0,
        copy_source=copy,
    )  # fmt: skip
    return PointerGenerator(config, vocab_size=PG_VOCAB, bos_id=BOS, eos_id=EOS, unk_id=UNK)


def pointer_batch() -> dict[str, torch.Tensor]:
    """Two articles, the first with copy ids 10 and 11; inputs in plain ids, targets extended."""
    src_ext = torch.tensor([[4, 10, 5, 11, 10], [6, 7, 8, 0, 0]])
    return {
        "src": torch.where(src_ext < PG_VOCAB, src_ext, UNK),
        "src_ext": src_ext,
        "src_lengths": torch.tensor([5, 3]),
        "tgt_in": torch.tensor([[BOS, UNK, 5, UNK, 4], [BOS, 7, UNK, 0, 0]]),
        "tgt_out": torch.tensor([[10, 5, 11, 4, EOS], [7, 1, EOS, 0, 0]]),
    }


@pytest.mark.parametrize("path", ["one-shot", "bahdanau-feeding"])
@pytest.mark.parametrize("copy", [True, False], ids=["copy", "no-copy"])
def test_pointer_generator_predicts_from_the_mixture_and_never_feeds_copy_ids(path, copy):
    attention, feeding = PATHS[path]
    model = make_pointer_generator(attention, feeding, copy).train()
    if copy:
        model.switch.bias.data.fill_(-30.0)  # p_gen ~ 0: the mixture is the copy distribution
    batch = pointer_batch()
    # Pass 1's choices, from search's step-by-step distribution over the extended vocabulary.
    state = model.encode(batch["src"], batch["src_lengths"], batch["src_ext"])
    steps, step_state = [], state
    for t in range(batch["tgt_in"].size(1)):
        log_probs, step_state, _ = model.decode_step(batch["tgt_in"][:, t], step_state)  # B x V'
        steps.append(log_probs.argmax(-1))
    chosen = torch.stack(steps, dim=1)  # B x T, extended ids
    if copy:
        assert (chosen >= PG_VOCAB).any()  # copy ids were chosen, so the mapping below is exercised
    model.sampling_probability = 1.0
    mixed = model.scheduled_inputs(state, batch["tgt_in"])
    assert torch.equal(mixed, expected_mix(batch["tgt_in"], torch.where(chosen < PG_VOCAB, chosen, UNK)))
    assert (mixed < PG_VOCAB).all()
    out = model(batch)
    assert torch.isfinite(out["loss"])
    out["loss"].backward()


def test_pointer_generator_runs_no_first_pass_at_p0_and_never_mixes_in_eval():
    model = make_pointer_generator("general", False).train()
    calls = count_decoder_calls(model)
    before = model(pointer_batch())["loss"]
    assert calls[0] == 1
    model.sampling_probability = 1.0
    model.eval()
    with torch.no_grad():
        assert torch.equal(model(pointer_batch())["loss"], before) and calls[0] == 2


# --- the stages and resuming ---------------------------------------------------------------------


def count_mixing(monkeypatch) -> list[float]:
    """Record the probability of every mixing (the model calls the module's mix_inputs)."""
    seen: list[float] = []
    original = seq2seq_module.mix_inputs

    def recording(tgt_in, predicted, probability, pad_id):
        seen.append(probability)
        return original(tgt_in, predicted, probability, pad_id)

    monkeypatch.setattr(seq2seq_module, "mix_inputs", recording)
    return seen


def test_translator_stage_mixes_and_rejects_bad_settings(tmp_path, monkeypatch):
    path = tmp_path / "pipeline.yaml"
    path.write_text(test_stage_train_translator.PIPELINE, encoding="utf-8")
    key = "stages.translate.model.scheduled_sampling"
    with pytest.raises(ConfigError, match=rf"{key}.probability: .*less than or equal to 1"):
        load_pipeline(path, [f"{key}.probability=1.5"])
    with pytest.raises(ConfigError, match=f"{key}: .*needs end_step > start_step"):
        load_pipeline(path, [f"{key}.schedule=linear", f"{key}.start_step=5", f"{key}.end_step=5"])
    seen = count_mixing(monkeypatch)
    overrides = [
        f"{key}.schedule=linear", f"{key}.probability=0.4", f"{key}.end_step=3",
        "stages.translate.trainer.max_epochs=1", "stages.translate.decoding.greedy=false",
        "stages.translate.attention_plots=0",
    ]  # fmt: skip
    run_pipeline(load_pipeline(path, overrides), tmp_path / "run")
    assert seen[:4] == [pytest.approx(p) for p in (0.4 / 3, 0.8 / 3, 0.4, 0.4)]  # step 0: p = 0, no pass


def test_summarizer_stage_mixes(tmp_path, monkeypatch):
    path = tmp_path / "pipeline.yaml"
    path.write_text(test_stage_train_summarizer.pipeline(tmp_path), encoding="utf-8")
    seen = count_mixing(monkeypatch)
    overrides = [
        "stages.summarize.model.scheduled_sampling.probability=0.25", "stages.summarize.trainer.max_epochs=1",
        "stages.summarize.decoding.greedy=false", "stages.summarize.bootstrap_samples=0",
    ]  # fmt: skip
    run_pipeline(load_pipeline(path, overrides), tmp_path / "run")
    assert seen and set(seen) == {0.25}


def test_readme_example_loads():
    key = "stages.translate.model.scheduled_sampling"
    pipeline = load_pipeline(
        PIPELINES / "translate_multi30k_deen_cpu.yaml",
        [
            f"{key}.schedule=linear",
            f"{key}.probability=0.25",
            f"{key}.start_step=200",
            f"{key}.end_step=1000",
        ],
    )
    config = pipeline.stages["translate"].config.model.scheduled_sampling
    assert [config.probability_at(step) for step in (199, 600, 1000)] == [0.0, 0.125, 0.25]


def encoded_pairs(count: int, seed: int) -> EncodedPairs:
    rng = np.random.default_rng(seed)
    sources = [rng.integers(4, 11, rng.integers(2, 7)) for _ in range(count)]
    targets = [np.sort(source)[::-1].copy() for source in sources]  # learnable: sort descending

    def flat(arrays):
        offsets = np.concatenate([[0], np.cumsum([len(a) for a in arrays])]).astype(np.int64)
        return offsets, np.concatenate(arrays).astype(np.int64)

    return EncodedPairs(flat(sources), flat(targets))


class Probabilities(Callback):
    """The probability the model holds at the start of each step (after ScheduledSampling set it)."""

    def __init__(self, model: Seq2Seq) -> None:
        self.model = model
        self.seen: dict[int, float] = {}

    def on_step_begin(self, state: TrainerState) -> None:
        self.seen[state.step] = self.model.sampling_probability


class CrashAfterCheckpoint(Callback):
    def __init__(self, step: int) -> None:
        self.step = step

    def on_checkpoint(self, kind, path, state: TrainerState) -> None:
        if kind == "last" and state.step == self.step:
            raise RuntimeError("simulated crash")


def test_a_crashed_run_resumes_to_the_uninterrupted_weights(tmp_path):
    train, dev = encoded_pairs(20, 0), encoded_pairs(6, 1)
    settings = {
        "probability": 0.6,
        "schedule": "linear",
        "start_step": 2,
        "end_step": 9,
        "sampling": "sample",
    }
    config = TrainerConfig(
        device="cpu", tensorboard=False, plot=False, lr=0.01, batch_size=4, max_epochs=3, checkpoint_every=3,
        eval_every_steps=4,
    )  # fmt: skip

    def fit(folder: Path, seed: int = 0, crash: int | None = None, sampling: dict = settings):
        model = make_model(seed, dropout=0.2, scheduled_sampling=sampling)
        probabilities = Probabilities(model)
        callbacks = [
            ScheduledSampling(model),
            probabilities,
            *([CrashAfterCheckpoint(crash)] if crash else []),
        ]
        result = Trainer(config, folder).fit(
            model, train, dev, collate=Collate(), evaluate=evaluate_batches, callbacks=callbacks, resume=True
        )
        return model, probabilities.seen, result.steps

    full, seen, steps = fit(tmp_path / "full")
    schedule = ScheduledSamplingConfig(**settings)
    assert steps == 15 and seen == {step: schedule.probability_at(step) for step in range(steps)}
    with pytest.raises(RuntimeError, match="simulated crash"):
        fit(tmp_path / "crashed", crash=6)
    assert read_json(tmp_path / "crashed" / "last" / "trainer_state.json")["position"] > 0  # mid-epoch
    resumed, seen_after, _ = fit(tmp_path / "crashed", seed=9)  # other initial weights: all from last/
    assert seen_after == {step: seen[step] for step in range(6, steps)}  # right from the first step
    assert state_dicts_equal(resumed.state_dict(), full.state_dict())
    plain, _, _ = fit(tmp_path / "plain", sampling={})
    assert not state_dicts_equal(plain.state_dict(), full.state_dict())  # the mixing changed training
