"""divbench: benchmarks for the diversity of language-model outputs."""

__version__ = "0.1.0"
