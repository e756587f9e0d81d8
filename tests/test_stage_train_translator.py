"""The ``train_translator`` stage on the demo parallel corpus (tiny model, few epochs), and the
``nlp-rnn translate`` command on the model it writes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner
from demo_translation import DEMO_PARALLEL_STAGE, TINY_TRANSLATOR_MODEL
from safetensors.torch import load_file, save_file

from nlp_rnn.cli import main
from nlp_rnn.errors import ConfigError
from nlp_rnn.models.low_precision import int8_available
from nlp_rnn.pipeline import load_pipeline, run_pipeline

needs_int8 = pytest.mark.skipif(not int8_available(), reason="needs PyTorch's x86 quantized engine")

PIPELINE = f"""
name: translator_test
seed: 3
stages:{DEMO_PARALLEL_STAGE}  translate:
    kind: train_translator
    input: data
    source_lang: en
    target_lang: xx
    subwords: {{vocab_size: 200}}
    model: {TINY_TRANSLATOR_MODEL}
    trainer: {{lr: 0.01, max_tokens: 1024, max_epochs: 4, tensorboard: false, plot: false}}
    decoding: {{beam_size: 3}}
    attention_plots: 1
    samples: ["the big woman sings ."]
"""


@pytest.fixture(scope="module")
def translator(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("translator")
    path = folder / "pipeline.yaml"
    path.write_text(PIPELINE, encoding="utf-8")
    run_pipeline(load_pipeline(path), folder / "run")
    return folder / "run"


def test_stage_outputs_and_metrics(translator: Path) -> None:
    metrics = json.loads((translator / "metrics.json").read_text())
    for key in ("bleu", "chrf", "ter", "bleu_greedy", "decode_seconds", "ppl"):
        assert f"translate.dev.{key}" in metrics
    assert metrics["translate.dev.bleu"] > 30  # the demo language is a word-for-word code
    evaluation = translator / "stages" / "translate" / "evaluation"
    assert len((evaluation / "dev.beam.txt").read_text(encoding="utf-8").splitlines()) == 200
    report = json.loads((evaluation / "report.json").read_text())
    assert report["beam"]["beam_size"] == 3 and "tok:13a" in report["beam"]["bleu_signature"]
    assert (evaluation / "attention_1.png").stat().st_size > 5_000
    samples = (translator / "stages" / "translate" / "samples.txt").read_text(encoding="utf-8")
    assert samples.startswith("the big woman sings .\t")
    saved = json.loads((translator / "model" / "metrics.json").read_text())
    assert saved["dev.bleu"] == metrics["translate.dev.bleu"]


def test_translate_command(translator: Path, tmp_path: Path) -> None:
    source = tmp_path / "in.en"
    source.write_text(
        "the big woman sings .\n\na small cat runs .\n" + "the man " * 500 + "\n", encoding="utf-8"
    )
    out, attention = tmp_path / "out.xx", tmp_path / "attention.jsonl"
    result = CliRunner().invoke(
        main,
        [
            "translate",
            "--model",
            str(translator / "model"),
            "--input",
            str(source),
            "--output",
            str(out),
            "--beam",
            "2",
            "--source-lang",
            "en",
            "--attention",
            str(attention),
        ],
    )
    assert result.exit_code == 0, result.output
    lines = out.read_text(encoding="utf-8").split("\n")
    assert len(lines) == 5 and lines[1] == "" and lines[4] == ""  # 4 lines, the empty one kept
    records = [json.loads(line) for line in attention.read_text(encoding="utf-8").splitlines()]
    assert len(records) == 4 and records[1] == {"source": [], "output": [], "weights": []}
    first = records[0]
    assert len(first["weights"]) == len(first["output"]) and len(first["weights"][0]) == len(first["source"])
    assert len(lines[3].split()) <= 1.5 * 1000 + 10  # the 1,000-word line within its cap


@pytest.mark.parametrize("precision", ["bf16", pytest.param("int8", marks=needs_int8)])
def test_translate_command_in_low_precision(translator: Path, tmp_path: Path, precision: str) -> None:
    source = tmp_path / "in.en"
    source.write_text("the big woman sings .\n\na small cat runs .\n", encoding="utf-8")
    out = tmp_path / "out.xx"
    args = ["translate", "--model", str(translator / "model"), "--input", str(source), "--output", str(out)]
    result = CliRunner().invoke(main, [*args, "--precision", precision])
    assert result.exit_code == 0, result.output
    lines = out.read_text(encoding="utf-8").split("\n")
    assert len(lines) == 4 and lines[0] and lines[1] == "" and lines[2]
    out.unlink()
    wrong = CliRunner().invoke(main, [*args, "--precision", "fp16"])
    assert wrong.exit_code != 0 and "'fp16' is not one of 'fp32', 'bf16', 'int8'" in wrong.output
    on_a_gpu = CliRunner().invoke(main, [*args, "--precision", "int8", "--device", "cuda"])
    assert on_a_gpu.exit_code != 0 and "int8 runs on the CPU only" in on_a_gpu.output
    assert not out.exists()  # refused before any output


def test_translate_command_errors(translator: Path, tmp_path: Path) -> None:
    source = tmp_path / "in.en"
    source.write_text("the big woman sings .\n", encoding="utf-8")
    model = str(translator / "model")
    wrong = CliRunner().invoke(
        main,
        [
            "translate",
            "--model",
            model,
            "--input",
            str(source),
            "--output",
            str(tmp_path / "o"),
            "--source-lang",
            "de",
        ],
    )
    assert wrong.exit_code != 0 and "translates en -> xx; --source-lang de" in wrong.output
    same = CliRunner().invoke(
        main, ["translate", "--model", model, "--input", str(source), "--output", str(source)]
    )
    assert same.exit_code != 0 and "would overwrite the input" in same.output
    assert source.read_text(encoding="utf-8") == "the big woman sings .\n"


def test_sharing_embeddings_needs_a_joint_vocabulary(tmp_path: Path) -> None:
    path = tmp_path / "pipeline.yaml"
    path.write_text(
        PIPELINE.replace("subwords: {vocab_size: 200}", "subwords: {vocab_size: 200, joint: false}")
    )
    with pytest.raises(ConfigError, match="share_source_target_embeddings needs subwords.joint"):
        load_pipeline(path)


@pytest.mark.parametrize("name", ["translate_multi30k_deen_cpu.yaml", "translate_multi30k_deen.yaml"])
def test_multi30k_pipelines_change_pair_with_two_values(name: str, tmp_path: Path) -> None:
    text = (Path(__file__).resolve().parent.parent / "pipelines" / name).read_text(encoding="utf-8")
    fr = text.replace("src_lang: &source de", "src_lang: &source fr")
    path = tmp_path / name
    path.write_text(fr, encoding="utf-8")
    pipeline = load_pipeline(path)
    assert pipeline.stages["data"].config.options == {"src_lang": "fr", "tgt_lang": "en"}
    assert (
        pipeline.stages["translate"].config.source_lang,
        pipeline.stages["translate"].config.target_lang,
    ) == (
        "fr",
        "en",
    )


def test_translate_command_n_best(translator: Path, tmp_path: Path) -> None:
    source = tmp_path / "in.en"
    source.write_text("the big woman sings .\n\n", encoding="utf-8")
    out = tmp_path / "nbest.txt"
    args = ["translate", "--model", str(translator / "model"), "--input", str(source), "--output", str(out)]
    result = CliRunner().invoke(main, [*args, "--beam", "3", "--n-best", "3"])
    assert result.exit_code == 0, result.output
    lines = out.read_text(encoding="utf-8").splitlines()
    assert [line.split(" ||| ")[0] for line in lines] == ["0", "0", "0", "1"]
    scores = [float(line.split(" ||| ")[2]) for line in lines[:3]]
    assert scores == sorted(scores, reverse=True) and lines[3] == "1 |||  ||| 0"
    too_many = CliRunner().invoke(main, [*args, "--beam", "2", "--n-best", "3"])
    assert too_many.exit_code != 0 and "n_best <= beam_size" in too_many.output


def test_resampled_subwords_train_and_repeat_from_the_seed(tmp_path: Path, caplog) -> None:
    path = tmp_path / "pipeline.yaml"
    path.write_text(PIPELINE, encoding="utf-8")
    overrides = [
        "stages.translate.subwords.sampled_segmentations=2",
        "stages.translate.trainer.max_epochs=2",
        "stages.translate.samples=[]",
        "stages.translate.attention_plots=0",
        "stages.translate.decoding.greedy=false",
    ]
    with caplog.at_level("INFO"):
        first = run_pipeline(load_pipeline(path, overrides), tmp_path / "a").metrics
    assert "2 sampled segmentations each" in caplog.text
    second = run_pipeline(load_pipeline(path, overrides), tmp_path / "b").metrics
    assert first["translate.dev.ppl"] == second["translate.dev.ppl"]
    assert first["translate.dev.bleu"] == second["translate.dev.bleu"]
    plain = run_pipeline(load_pipeline(path, overrides[1:]), tmp_path / "c").metrics
    assert plain["translate.dev.ppl"] != first["translate.dev.ppl"]  # epoch 1 read other splits


def test_translate_command_ensemble(translator: Path, tmp_path: Path) -> None:
    model = translator / "model"
    other = tmp_path / "other"
    shutil.copytree(model, other)
    weights = load_file(other / "model.safetensors")
    generator = torch.Generator().manual_seed(0)
    save_file(
        {k: v + 0.05 * torch.randn(v.shape, generator=generator) for k, v in weights.items()},
        other / "model.safetensors",
    )
    source = tmp_path / "in.en"
    source.write_text("the big woman sings .\n\na small cat runs .\n", encoding="utf-8")
    args = ["translate", "--model", str(model), "--input", str(source), "--beam", "3"]
    alone = CliRunner().invoke(main, [*args, "--output", str(tmp_path / "alone")])
    twice = CliRunner().invoke(main, [*args, "--output", str(tmp_path / "twice"), "--ensemble", str(model)])
    assert alone.exit_code == 0 and twice.exit_code == 0, alone.output + twice.output
    assert (tmp_path / "twice").read_text(encoding="utf-8") == (tmp_path / "alone").read_text(
        encoding="utf-8"
    )
    both = CliRunner().invoke(main, [*args, "--output", str(tmp_path / "both"), "--ensemble", str(other)])
    assert both.exit_code == 0, both.output
    lines = (tmp_path / "both").read_text(encoding="utf-8").split("\n")
    assert len(lines) == 4 and lines[0] and lines[1] == "" and lines[2]
    config = json.loads((other / "config.json").read_text(encoding="utf-8"))
    (other / "config.json").write_text(json.dumps({**config, "target_lang": "de"}), encoding="utf-8")
    wrong = CliRunner().invoke(main, [*args, "--output", str(tmp_path / "wrong"), "--ensemble", str(other)])
    assert wrong.exit_code != 0 and "member 2 translates en -> de, member 1 en -> xx" in wrong.output
    (other / "config.json").write_text(json.dumps({**config, "task": "tagging"}), encoding="utf-8")
    wrong = CliRunner().invoke(main, [*args, "--output", str(tmp_path / "wrong"), "--ensemble", str(other)])
    assert wrong.exit_code != 0 and "a tagging model, not a translator" in wrong.output
    assert not (tmp_path / "wrong").exists()
