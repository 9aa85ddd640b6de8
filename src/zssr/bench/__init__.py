"""Benchmarks (``evaluate.py``): datasets (:mod:`.datasets`), the evaluation over images and methods
(:mod:`.evaluation`), ``metrics.csv`` (:mod:`.table`), a run dir's identity (:mod:`.rundir`), reports
(:mod:`.report`) and the paper's numbers (:mod:`.reference`). Merging jobs is :mod:`zssr.aggregate`."""
