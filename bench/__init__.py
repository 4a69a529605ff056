"""orgsweep's benchmarks (issue 8): ``python -m bench NAME`` (see BENCHMARKS.md)."""
