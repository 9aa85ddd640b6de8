"""One run, start to finish: its settings (:mod:`.settings`), inputs read and checked before training (:mod:`.job`),
the pipeline (:mod:`.pipeline`), kernel estimation for the run (:mod:`.estimation`), ``result.json``
(:mod:`.results`), loggers (:mod:`.tracking`), signals (:mod:`.signals`) and Hydra's run-dir check
(:mod:`.hydra_callbacks`). The command-line boundary is :mod:`zssr.cli`."""
