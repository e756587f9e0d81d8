"""The models a server holds: loaded once at start-up, looked up by name and task per request.

A model is named on the command line as ``NAME=FOLDER`` or just ``FOLDER``; a bare folder is
named after itself, or after its parent when it is a run's ``model/`` folder
(``runs/sentiment_sst2/model`` -> ``sentiment_sst2``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nlp_rnn.errors import NlpRnnError
from nlp_rnn.fileio import read_json
from nlp_rnn.models.low_precision import check_precision
from nlp_rnn.tasks import METRICS_FILE

# What a model of each task is called in messages.
TASK_NOUNS: dict[str, str] = {
    "classification": "classifier",
    "tagging": "tagger",
    "translation": "translator",
    "summarization": "summarizer",
    "language_model": "language model",
    "bidirectional_lm": "bidirectional language model",
    "forecasting": "forecaster",
}


class ModelNotFound(NlpRnnError):
    """A request named a model the server does not hold."""


@dataclass
class ServedModel:
    """A loaded predictor with its name and folder, and its :attr:`description` for clients."""

    name: str
    folder: Path
    predictor: Any  # a task's predictor (nlp_rnn.api.load_model)
    description: dict[str, Any] = field(init=False)

    def __post_init__(self) -> None:
        # What a client needs to call the model: its task, what it predicts, and its dev metrics
        # (read once, here: a broken metrics.json stops the server's start, naming the file).
        metrics = self.folder / METRICS_FILE
        self.description = {
            "name": self.name,
            "task": self.task,
            "folder": str(self.folder),
            **task_details(self.predictor),
            "metrics": read_json(metrics) if metrics.is_file() else {},
        }

    @property
    def task(self) -> str:
        return str(self.predictor.task)


def task_details(predictor: Any) -> dict[str, Any]:
    """The task-specific facts a client needs (label names, tag sets, languages, ...)."""
    task = predictor.task
    if task == "classification":
        return {"labels": predictor.labels}
    if task == "tagging":
        xpos = predictor.vocabs.xpos
        return {"upos": list(predictor.vocabs.upos.itos), "xpos": None if xpos is None else list(xpos.itos)}
    if task == "translation":
        return {"source_lang": predictor.source_lang, "target_lang": predictor.target_lang}
    if task == "summarization":
        return {"max_source_length": predictor.max_source_length}
    if task == "language_model":
        return {"labels": predictor.labels, "level": predictor.codec.level}
    if task == "bidirectional_lm":
        return {"chunk_length": predictor.chunk_length}
    if task == "forecasting":
        inputs = predictor.inputs
        return {"target": inputs.target, "features": list(inputs.features), "window": inputs.window}
    return {}


def parse_model_spec(spec: str) -> tuple[str, Path]:
    """``NAME=FOLDER`` or ``FOLDER`` -> ``(name, folder)``."""
    name, sep, folder = spec.partition("=")
    if sep and name and "/" not in name and folder:
        return name, Path(folder)
    path = Path(spec)
    resolved = path.resolve()
    name = resolved.parent.name if resolved.name == "model" and resolved.parent.name else resolved.name
    return name, path


class ModelRegistry:
    """The served models by name, in the order they were given."""

    def __init__(self, models: Iterable[ServedModel]) -> None:
        self.models: dict[str, ServedModel] = {}
        for model in models:
            if model.name in self.models:
                raise NlpRnnError(
                    f"two models are named {model.name!r} ({self.models[model.name].folder} and "
                    f"{model.folder}); name them with NAME=FOLDER"
                )
            self.models[model.name] = model

    @classmethod
    def load(cls, specs: Sequence[str], device: str = "cpu", precision: str = "fp32") -> ModelRegistry:
        """Load every ``NAME=FOLDER`` / ``FOLDER`` of ``specs``; a broken folder is an error naming
        it, before anything is served. ``precision`` must suit every model that takes one."""
        from nlp_rnn.api import load_model

        if not specs:
            raise NlpRnnError("no model to serve: give --model FOLDER (or NAME=FOLDER) at least once")
        served = []
        for spec in specs:
            name, folder = parse_model_spec(spec)
            model = ServedModel(name, folder, load_model(folder, device=device))
            # Predictors that multiply in a chosen precision say which; the others ignore it.
            allowed = getattr(model.predictor, "precisions", None)
            if precision != "fp32" and allowed is not None:
                if precision not in allowed:
                    raise NlpRnnError(
                        f"--precision {precision}: {name} is a {model.task} model, which runs in "
                        f"{', '.join(allowed)}"
                    )
                check_precision(precision, device, supported=allowed)  # int8 on a GPU, say
            served.append(model)
        return cls(served)

    def __iter__(self) -> Iterator[ServedModel]:
        return iter(self.models.values())

    def __len__(self) -> int:
        return len(self.models)

    def pick(self, tasks: Sequence[str], name: str | None) -> ServedModel:
        """The model ``name`` (it must be of one of ``tasks``), or without a name the only model of
        those tasks; anything else is an error that lists the choices."""
        fitting = [model for model in self if model.task in tasks]
        kinds = " or ".join(TASK_NOUNS.get(task, task) for task in tasks)
        if name is not None:
            if name not in self.models:
                known = ", ".join(f"{model.name} ({model.task})" for model in self) or "none"
                raise ModelNotFound(f"no model named {name!r}; this server holds: {known}")
            model = self.models[name]
            if model.task not in tasks:
                noun = TASK_NOUNS.get(model.task, model.task)
                raise NlpRnnError(f"{name} is a {noun}; this endpoint needs a {kinds}")
            return model
        if len(fitting) == 1:
            return fitting[0]
        if not fitting:
            raise ModelNotFound(f"this server holds no {kinds}")
        names = ", ".join(model.name for model in fitting)
        raise NlpRnnError(
            f"this server holds several models for this endpoint ({names}): name one in 'model'"
        )
