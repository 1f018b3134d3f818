"""divbench: diversity benchmarks for language models."""
