"""The library's front door for trained models: ``load_model(folder)`` gives a predictor.

    from nlp_rnn.api import load_model

    model = load_model("runs/sentiment_sst2/model")
    model.predict(["this movie is good"])        # ['1']
    model.predict_proba(["this movie is good"])  # array([[0.03, 0.97]]), columns: model.labels

A model folder names its task in ``config.json``; the task decides which predictor loads it.
The dispatch is explicit (one branch per task) so that reading this function tells the whole story.
"""

from __future__ import annotations

import os

from nlp_rnn.errors import NlpRnnError
from nlp_rnn.tasks import read_model_config

TASKS = (
    "classification",
    "tagging",
    "forecasting",
    "translation",
    "summarization",
    "language_model",
    "bidirectional_lm",
)


def load_model(folder: str | os.PathLike[str], device: str = "cpu"):  # -> a task's predictor
    """The predictor for the model folder ``folder`` (``device``: ``cpu``, ``cuda``, ``cuda:1``, ...).

    Raises :class:`NlpRnnError` when the folder or one of its files is missing or broken, or when
    ``config.json`` names a task this version cannot load.
    """
    config = read_model_config(folder)
    task = config["task"]
    if task == "classification":
        from nlp_rnn.tasks.classification import ClassificationPredictor

        return ClassificationPredictor.load(folder, device=device)
    if task == "tagging":
        from nlp_rnn.tasks.tagging import TaggingPredictor

        return TaggingPredictor.load(folder, device=device)
    if task == "forecasting":  # small models: always on the CPU
        from nlp_rnn.tasks.forecasting import ForecastingPredictor

        return ForecastingPredictor.load(folder)
    if task == "translation":
        from nlp_rnn.tasks.translation import TranslationPredictor

        return TranslationPredictor.load(folder, device=device)
    if task == "summarization":
        from nlp_rnn.tasks.summarization import SummarizationPredictor

        return SummarizationPredictor.load(folder, device=device)
    if task == "language_model":
        from nlp_rnn.tasks.language_modeling import LanguageModelPredictor

        return LanguageModelPredictor.load(folder, device=device)
    if task == "bidirectional_lm":
        from nlp_rnn.tasks.bidirectional_lm import BidirectionalLMPredictor

        return BidirectionalLMPredictor.load(folder, device=device)
    raise NlpRnnError(
        f"{folder}: config.json says task {task!r}; this version of nlp-rnn loads {', '.join(TASKS)} models"
    )
