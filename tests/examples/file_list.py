"""An example dataset from outside the package: the images a text file lists, one path per line (relative to the
file; ``#`` starts a comment). Used with ``conf/dataset/file_list.yaml`` beside it:
``PYTHONPATH=tests/examples python evaluate.py hydra.searchpath=[file://tests/examples/conf] dataset=file_list
dataset.path=my_list.txt``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from zssr.bench.datasets import Dataset, ImageRef, unique_refs
from zssr.errors import ZSSRError


class FileList(Dataset):
    """The images listed in ``path``, in the list's order."""

    def __init__(self, *, path: str, **subsets: Any):
        super().__init__(**subsets)
        self.path = Path(path).expanduser()
        if not self.path.is_file():
            raise ZSSRError(f"dataset.path: no list of images at {self.path}")

    def images(self) -> list[ImageRef]:
        lines = (line.split("#")[0].strip() for line in self.path.read_text().splitlines())
        return unique_refs([self.path.parent / line for line in lines if line])
