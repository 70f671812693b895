"""Metrics: pure functions, frames in, frames out, written once with Narwhals for every engine."""
