"""Benchmarks: ``python evaluate.py dataset=bsd100 degradation=random_kernel kernel=true`` (see conf/evaluate.yaml;
installed: ``zssr-evaluate``)."""

import hydra

from zssr.cli import evaluate_task

main = hydra.main(version_base="1.3", config_path="conf", config_name="evaluate")(evaluate_task)

if __name__ == "__main__":
    main()
