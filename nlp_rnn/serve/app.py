"""The HTTP application: one JSON endpoint per task, the list of models, a health check, and the
demo page.

    GET  /            the demo page (a form per served model)
    GET  /health      {"status": "ok", "models": N}
    GET  /models      every served model: name, task, labels / tag sets / languages, dev metrics
    POST /classify    {"texts": [...]}                      -> a label (and probabilities) per text
    POST /tag         {"texts": [...]} or {"sentences": [[word, ...], ...]} -> UPOS / XPOS per word
    POST /translate   {"texts": [...], "beam": 5}           -> translations (n-best, attention)
    POST /summarize   {"texts": [...], "beam": 5}           -> a headline per article
    POST /generate    {"prompt": "...", "num": 1}           -> sampled continuations
    POST /perplexity  {"texts": [...]}                      -> a language model's perplexity
    POST /forecast    {"csv": "...", "horizon": 12}         -> the rows after the series

Every request may name its ``model``; without one, the server's only model of the endpoint's task
answers. A user's mistake (an unknown label, an empty text to classify, a model of another task)
is a 400 whose ``detail`` says what is wrong, an unknown model a 404, a request over the server's
size limits a 413, and a malformed body FastAPI's 422. The models are loaded, and called, on one
thread (:class:`ModelThread`).
"""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

from fastapi import FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import HTMLResponse, JSONResponse

from nlp_rnn import __version__
from nlp_rnn.errors import NlpRnnError
from nlp_rnn.serve import schemas
from nlp_rnn.serve.registry import ModelNotFound, ModelRegistry, ServedModel

T = TypeVar("T")


class RequestTooLarge(NlpRnnError):
    """A request over the server's limits (:class:`Limits`)."""


@dataclass(frozen=True)
class Limits:
    """How much one request may ask for, so that one client cannot hold a model for minutes."""

    max_texts: int = 256  # texts (or sentences) per request
    max_chars: int = 1_000_000  # characters in all of a request's texts together

    def check(self, texts: Sequence[str], what: str = "texts") -> None:
        """``texts`` within both limits (``what`` names them in the error)."""
        self.check_count(len(texts), what)
        self.check_chars(sum(len(text) for text in texts))

    def check_count(self, count: int, what: str = "texts") -> None:
        if count > self.max_texts:
            raise RequestTooLarge(
                f"{count} {what} in one request; this server takes at most {self.max_texts}"
            )

    def check_chars(self, chars: int) -> None:
        if chars > self.max_chars:
            raise RequestTooLarge(
                f"{chars} characters in one request; this server takes at most {self.max_chars}"
            )


class ModelThread:
    """The one thread of a server that calls into torch: it loads the models and runs every call.

    Every thread that runs torch operators gets an OpenMP pool of its own, and once a second thread
    has used one, the parallel regions of the whole process slow down (on 2 cores a classifier's
    calls took 2.49 times as long when its model had been loaded on another thread:
    scripts/bench_torch_threads.py). So loading and
    calls share this thread, and calls run one at a time whatever the number of clients: torch
    spreads each call over the cores. FastAPI's worker threads parse, validate and wait.
    """

    def __init__(self) -> None:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="nlp-rnn-model")

    def run(self, call: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        return self._executor.submit(call, *args, **kwargs).result()

    def close(self) -> None:
        self._executor.shutdown(wait=True)


def build_app(
    specs: Sequence[str],
    device: str = "cpu",
    precision: str = "fp32",
    limits: Limits = Limits(),
    cors_origins: Sequence[str] = (),
) -> FastAPI:
    """The application serving the model folders ``specs`` (``NAME=FOLDER`` or ``FOLDER``), all
    loaded before it returns: a broken folder is an error here, not at the first request."""
    model_thread = ModelThread()
    try:
        registry = model_thread.run(ModelRegistry.load, specs, device=device, precision=precision)
    except BaseException:
        model_thread.close()
        raise
    return create_app(registry, model_thread, precision, limits, cors_origins)


def create_app(
    registry: ModelRegistry,
    model_thread: ModelThread,
    precision: str = "fp32",
    limits: Limits = Limits(),
    cors_origins: Sequence[str] = (),
) -> FastAPI:
    """The application serving ``registry``'s models on ``model_thread`` (which loaded them);
    ``precision`` is passed to the predictors that multiply in a chosen precision (classifier,
    tagger, translator, summarizer). Pages served from ``cors_origins`` (``https://host:port``)
    may call the API from a browser; by default only the server's own demo page can."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        model_thread.close()

    app = FastAPI(
        lifespan=lifespan,
        title="nlp-rnn",
        version=__version__,
        description="Recurrent models for classification, tagging, translation, summarization, "
        "generation and forecasting.",
    )
    app.state.registry = registry
    if cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(cors_origins),
            allow_methods=["GET", "POST"],
            allow_headers=["*"],
        )
    page = resources.files("nlp_rnn.serve").joinpath("page.html").read_text(encoding="utf-8")

    @app.exception_handler(NlpRnnError)
    def user_error(request: Request, exc: NlpRnnError) -> JSONResponse:
        status = 404 if isinstance(exc, ModelNotFound) else 413 if isinstance(exc, RequestTooLarge) else 400
        return JSONResponse({"detail": str(exc)}, status_code=status)

    def run(served: ServedModel, call: Callable[[Any], T]) -> T:
        return model_thread.run(call, served.predictor)

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def demo_page() -> str:
        return page

    @app.get("/health")
    def health() -> schemas.Health:
        return schemas.Health(status="ok", models=len(registry))

    @app.get("/models")
    def models() -> list[schemas.ModelInfo]:
        return [schemas.ModelInfo(**model.description) for model in registry]

    @app.post("/classify")
    def classify(body: schemas.ClassifyRequest) -> schemas.ClassifyResponse:
        limits.check(body.texts)
        served = registry.pick(["classification"], body.model)
        probabilities = run(served, lambda p: p.predict_proba(body.texts, precision=precision))
        labels = served.predictor.labels
        results = [
            schemas.ClassifyResult(
                label=labels[int(row.argmax())],
                probabilities=dict(zip(labels, map(float, row), strict=True)) if body.probabilities else None,
            )
            for row in probabilities
        ]
        return schemas.ClassifyResponse(model=served.name, results=results)

    @app.post("/tag")
    def tag(body: schemas.TagRequest) -> schemas.TagResponse:
        if (body.texts is None) == (body.sentences is None):
            raise NlpRnnError("give either texts (raw text) or sentences (lists of words)")
        served = registry.pick(["tagging"], body.model)
        if body.sentences is not None:
            limits.check_count(len(body.sentences), "sentences")
            limits.check_chars(sum(len(word) for sentence in body.sentences for word in sentence))
            tagged = run(served, lambda p: p.tag(body.sentences, precision=precision))
            return schemas.TagResponse(
                model=served.name, results=[schemas.TaggedText(sentences=[_tagged(s)]) for s in tagged]
            )
        from nlp_rnn.text.sentences import split_sentences

        texts = body.texts or []
        limits.check(texts)
        split = [[sentence.words for sentence in split_sentences(text)] for text in texts]
        tagged = iter(
            run(served, lambda p: p.tag([s for parts in split for s in parts], precision=precision))
        )
        results = [schemas.TaggedText(sentences=[_tagged(next(tagged)) for _ in parts]) for parts in split]
        return schemas.TagResponse(model=served.name, results=results)

    @app.post("/translate")
    def translate(body: schemas.TranslateRequest) -> schemas.TranslateResponse:
        limits.check(body.texts)
        if body.n_best > body.beam:
            raise NlpRnnError(f"n_best {body.n_best} is above beam {body.beam}")
        served = registry.pick(["translation"], body.model)
        translations = run(
            served,
            lambda p: p.translate(
                body.texts, beam_size=body.beam, length_penalty=body.length_penalty,
                max_len_a=body.max_len_a, max_len_b=body.max_len_b, n_best=body.n_best,
                return_attention=body.attention, precision=precision,
            ),
        )  # fmt: skip
        predictor = served.predictor
        results = [
            schemas.TranslationResult(
                translation=translation.text,
                candidates=[schemas.Candidate(text=c.text, score=c.score) for c in translation.candidates],
                attention=schemas.Attention(**predictor.attention_record(translation))
                if body.attention and translation.candidates
                else None,
            )
            for translation in translations
        ]
        return schemas.TranslateResponse(
            model=served.name,
            source_lang=predictor.source_lang,
            target_lang=predictor.target_lang,
            results=results,
        )

    @app.post("/summarize")
    def summarize(body: schemas.SummarizeRequest) -> schemas.SummarizeResponse:
        from nlp_rnn.tasks.summarization import DecodingOptions

        limits.check(body.texts)
        served = registry.pick(["summarization"], body.model)
        options = DecodingOptions(
            beam_size=body.beam, min_length=body.min_length, max_length=body.max_length,
            length_penalty=body.length_penalty, no_repeat_ngram_size=body.no_repeat_ngram,
            precision=precision,
        )  # fmt: skip
        summaries = run(served, lambda p: p.summarize(body.texts, options))
        results = [schemas.SummaryResult(summary=s.text, copied=s.copied) for s in summaries]
        return schemas.SummarizeResponse(model=served.name, results=results)

    @app.post("/generate")
    def generate(body: schemas.GenerateRequest) -> schemas.GenerateResponse:
        limits.check_count(body.num)  # the texts to generate
        limits.check_chars(len(body.prompt))
        served = registry.pick(["language_model"], body.model)
        generations = run(
            served,
            lambda p: p.generate(
                body.prompt, max_tokens=body.max_tokens, temperature=body.temperature, top_k=body.top_k,
                top_p=body.top_p, label=body.label, seed=body.seed, num=body.num,
            ),
        )  # fmt: skip
        results = [
            schemas.Generated(text=g.text, continuation=g.continuation, finished=g.finished)
            for g in generations
        ]
        return schemas.GenerateResponse(model=served.name, seed=generations[0].seed, results=results)

    @app.post("/perplexity")
    def perplexity(body: schemas.PerplexityRequest) -> schemas.PerplexityResponse:
        limits.check(body.texts)
        served = registry.pick(["language_model", "bidirectional_lm"], body.model)
        if served.task == "bidirectional_lm":
            if body.label is not None:
                raise NlpRnnError(f"{served.name} is a bidirectional language model, which takes no label")
            scores = run(served, lambda p: p.perplexity(body.texts))
        else:
            scores = run(served, lambda p: p.perplexity(body.texts, body.label)).to_dict()
        return schemas.PerplexityResponse(model=served.name, scores={k: float(v) for k, v in scores.items()})

    @app.post("/forecast")
    def forecast(body: schemas.ForecastRequest) -> schemas.ForecastResponse:
        limits.check_chars(len(body.csv))
        served = registry.pick(["forecasting"], body.model)
        target, rows = run(served, lambda p: _forecast(p, body))
        forecasts = [schemas.ForecastRow(time=time, value=value) for time, value in rows]
        return schemas.ForecastResponse(model=served.name, target=target, forecasts=forecasts)

    return app


def _tagged(sentence: Any) -> schemas.TaggedSentence:  # sentence: nlp_rnn.tasks.tagging.TaggedSentence
    return schemas.TaggedSentence(tokens=sentence.tokens, upos=sentence.upos, xpos=sentence.xpos)


def _forecast(predictor: Any, body: schemas.ForecastRequest) -> tuple[str, list[tuple[str, float]]]:
    """Forecast a CSV posted as text: written to a private file and read like a training series
    (``nlp-rnn forecast``'s reading); errors name the request's CSV, not the file."""
    with tempfile.TemporaryDirectory(prefix="nlp_rnn_serve_") as folder:
        path = Path(folder) / "request.csv"
        path.write_text(body.csv, encoding="utf-8")
        try:
            return predictor.forecast_csv(path, body.horizon, body.column, body.time_column)
        except NlpRnnError as exc:
            raise NlpRnnError(str(exc).replace(str(path), "csv")) from None
