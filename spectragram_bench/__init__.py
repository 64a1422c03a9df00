"""spectragram-bench: a benchmark harness for speech-to-text systems."""

__version__ = "0.1.0"
