"""asv benchmarks for smpfast (``bench_<family>.py``; shared helpers in ``common.py``)."""
