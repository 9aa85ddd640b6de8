"""Benchmarks: ``python evaluate.py dataset=bsd100 degradation=random_kernel kernel=true`` (see conf/evaluate.yaml;
installed: ``zssr-evaluate``)."""

from zssr.cli import evaluate_main as main

if __name__ == "__main__":
    main()
