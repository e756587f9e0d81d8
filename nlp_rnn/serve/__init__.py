"""Serving trained models over HTTP: a JSON API and a demo page (``nlp-rnn serve``).

:mod:`nlp_rnn.serve.registry` loads the model folders and picks the one a request names;
:mod:`nlp_rnn.serve.schemas` holds the request and response bodies; :mod:`nlp_rnn.serve.app`
builds the FastAPI application around them. ``page.html`` is the demo page served at ``/``.
"""
