"""Thin entry point: `python app.py --config jobs/demo_librispeech.json`."""

from spectragram_bench.app import main

if __name__ == "__main__":
    raise SystemExit(main())
