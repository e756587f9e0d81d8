"""nlp-rnn: classic neural NLP with recurrent networks."""

__version__ = "0.1.0"
