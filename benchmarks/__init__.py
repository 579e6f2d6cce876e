"""Benchmarks: each `bench_*.py` module has a `main()` that measures one of our stages against the raw
library call doing the same work, in the same run, and prints the ratio (machines here are noisy)."""
