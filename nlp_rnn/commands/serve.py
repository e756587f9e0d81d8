"""``nlp-rnn serve``: serve trained models over HTTP (a JSON API and a demo page).

The click command only parses options; :func:`nlp_rnn.serve.app.build_app` loads the models and
builds the application, and can be called from Python (for example to run it under another ASGI
server).
"""

from __future__ import annotations

import click

from nlp_rnn.commands import device_option, precision_option
from nlp_rnn.errors import NlpRnnError


@click.command()
@click.option(
    "--model",
    "specs",
    multiple=True,
    required=True,
    metavar="[NAME=]FOLDER",
    help="A model folder to serve (repeatable); named NAME, else after the folder "
    "(runs/sentiment_sst2/model: sentiment_sst2).",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535), help="Port.")
@click.option(
    "--max-texts", default=256, show_default=True, type=click.IntRange(min=1), help="Texts per request."
)
@click.option(
    "--max-chars",
    default=1_000_000,
    show_default=True,
    type=click.IntRange(min=1),
    help="Characters per request, all texts together.",
)
@click.option(
    "--cors-origin",
    "cors_origins",
    multiple=True,
    metavar="ORIGIN",
    help="Let pages from ORIGIN (https://host:port) call the API from a browser (repeatable).",
)
@device_option()
@precision_option(int8=True)
def serve(
    specs: tuple[str, ...],
    host: str,
    port: int,
    max_texts: int,
    max_chars: int,
    cors_origins: tuple[str, ...],
    device: str,
    precision: str,
) -> None:
    """Serve model folders over HTTP: a JSON endpoint per task (POST /classify, /tag, /translate,
    /summarize, /generate, /perplexity, /forecast), GET /models, GET /health, and a demo page at /.
    The precision applies to the models that take one (int8: translators and summarizers).
    Every request is logged on stderr (one line: client, method, path, status) unless -q is given."""
    import logging

    try:
        import uvicorn

        from nlp_rnn.serve.app import Limits, build_app
    except ImportError as exc:  # both are requirements of the package; a hand-made environment may lack them
        raise NlpRnnError(
            f"nlp-rnn serve needs fastapi and uvicorn ({exc}): pip install fastapi uvicorn"
        ) from None

    limits = Limits(max_texts=max_texts, max_chars=max_chars)
    app = build_app(specs, device, precision, limits, cors_origins)
    names = ", ".join(f"{model.name} ({model.task})" for model in app.state.registry)
    click.echo(f"serving {names} at http://{host}:{port}/ (Ctrl-C stops)", err=True)
    quiet = logging.getLogger("nlp_rnn").getEffectiveLevel() > logging.INFO  # nlp-rnn -q
    uvicorn.run(app, host=host, port=port, log_level="warning" if quiet else "info", access_log=not quiet)
