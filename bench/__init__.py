"""Benchmarks: each prints ratios measured side by side in one run and can write its results to docs/."""
