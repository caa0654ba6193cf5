"""Benchmarks (`python -m bench.<name>`): measured in one run against the real servers, printed as ratios."""
