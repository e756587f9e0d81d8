"""Corpus readers and batching helpers."""
