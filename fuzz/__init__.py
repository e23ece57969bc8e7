"""Coverage-guided fuzzing, in process, of the packet reader and of the whole chain.

`python -m fuzz parser|chain [libFuzzer options]` (see `fuzz/__main__.py`); `make fuzz` runs
both for a million inputs each. The properties every input must keep are in `fuzz.checks`
and in each target's docstring; the seeds are in `fuzz.seeds`.
"""
