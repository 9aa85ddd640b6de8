"""Fetch the standard benchmark sets (Set5, Set14, BSD100) from public GitHub copies, verified by checksum.

``sources.tsv`` (shipped with the package) lists every image: the public repository and path it comes from and the
SHA-256 of its decoded pixels (``<H>x<W>x<C>:`` followed by the raw uint8 bytes), so a copy that was re-encoded
losslessly still verifies while any change to a pixel does not. Set5 and Set14 come from the colour sets of
``majedelhelou/denoising_datasets``; BSD100 from the x3 ground truth of ``jbhuang0604/SelfExSR`` (the 480x321 crop
of the BSD originals, renamed to the BSD ids). Files are written to ``<data_dir>/<set>/HR/<name>.png`` only after they
verify, one by one and atomically, so an interrupted download resumes and never leaves a half-written image.

Offline, or when a file fails its checksum, the download stops with one line saying where to put the images instead.
``ZSSR_DATA_MIRROR`` replaces the GitHub base URL (files are then read from ``<mirror>/<repo>/<path>``; ``file://``
works), for sites that keep their own copy.

    python -m zssr.download set5 set14 bsd100 --to data/
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import os
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from zssr.errors import ZSSRError

GITHUB = "https://github.com/{repo}/raw/HEAD/{path}"
TIMEOUT_S = 20


@dataclass(frozen=True)
class Source:
    dataset: str
    name: str
    repo: str
    path: str
    sha256: str

    def url(self, mirror: str | None = None) -> str:
        if mirror:
            return f"{mirror.rstrip('/')}/{self.repo}/{self.path}"
        return GITHUB.format(repo=self.repo, path=self.path)


def sources(dataset: str | None = None) -> list[Source]:
    table = resources.files("zssr").joinpath("sources.tsv").read_text()
    rows = [Source(**row) for row in csv.DictReader(io.StringIO(table), delimiter="\t")]
    return [r for r in rows if dataset is None or r.dataset == dataset]


def datasets() -> list[str]:
    return sorted({s.dataset for s in sources()})


def where_to_put(dataset: str, folder: Path) -> str:
    """The hint for a standard set that is missing and cannot be downloaded."""
    return (f"put the {len(sources(dataset))} HR PNGs of {dataset} in {folder} or point ZSSR_DATA_DIR "
            f"(paths.data_dir) at a folder holding {dataset}/HR/")


def pixel_sha256(image: Image.Image) -> str:
    """SHA-256 of the decoded 8-bit pixels, shape included; independent of how the PNG was compressed."""
    arr = np.asarray(image)
    if arr.ndim == 2:
        arr = arr[..., None]
    head = "x".join(map(str, arr.shape)).encode() + b":"
    return hashlib.sha256(head + np.ascontiguousarray(arr, dtype=np.uint8).tobytes()).hexdigest()


def _fetch(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=TIMEOUT_S) as response:  # noqa: S310 (https or a configured mirror)
        return response.read()


def download(dataset: str, data_dir: str | Path, mirror: str | None = None) -> Path:
    """Download ``dataset`` into ``<data_dir>/<dataset>/HR`` (files already there and verified are kept)."""
    todo = sources(dataset)
    if not todo:
        raise ZSSRError(f"no download source for dataset '{dataset}' (known: {', '.join(datasets())})")
    mirror = mirror if mirror is not None else os.environ.get("ZSSR_DATA_MIRROR")
    folder = Path(data_dir) / dataset / "HR"
    where = where_to_put(dataset, folder)
    created = [p for p in (folder, *folder.parents) if not p.exists()]  # deepest first
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise ZSSRError(f"cannot create {folder} for the {dataset} download ({err.strerror}); {where}") from None
    try:
        fetched = _fetch_missing(dataset, todo, folder, mirror, where)
    except ZSSRError:
        for path in created:  # a failed download leaves no empty folders behind in the data dir
            try:
                path.rmdir()
            except OSError:
                break
        raise
    print(f"{dataset}: {len(todo)} images in {folder} ({fetched} downloaded)", file=sys.stderr)
    return folder


def _fetch_missing(dataset: str, todo: list[Source], folder: Path, mirror: str | None, where: str) -> int:
    """Download and verify the images of ``todo`` not yet in ``folder``; returns how many were fetched."""
    fetched = 0
    for src in todo:
        target = folder / f"{src.name}.png"
        if target.is_file() and _verifies(target, src.sha256):
            continue
        url = src.url(mirror)
        try:
            data = _fetch(url)
        except (urllib.error.URLError, OSError, ValueError) as err:
            reason = getattr(err, "reason", None) or err
            raise ZSSRError(f"dataset '{dataset}' is not at {folder} and downloading {url} failed ({reason}); "
                            f"{where}") from None
        try:
            image = Image.open(io.BytesIO(data))
            image.load()
        except (UnidentifiedImageError, OSError):
            raise ZSSRError(f"downloaded {url} is not an image; {where}") from None
        if pixel_sha256(image) != src.sha256:
            raise ZSSRError(f"downloaded {url} does not match its checksum (expected {src.sha256[:12]}...); {where}")
        partial = target.with_name(f".{target.name}.partial")
        image.save(partial, format="PNG")
        partial.replace(target)
        fetched += 1
    return fetched


def _verifies(path: Path, sha256: str) -> bool:
    try:
        with Image.open(path) as image:
            return pixel_sha256(image) == sha256
    except (UnidentifiedImageError, OSError):
        return False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m zssr.download", description=__doc__.split("\n\n")[0])
    parser.add_argument("datasets", nargs="+", choices=datasets())
    parser.add_argument("--to", default=os.environ.get("ZSSR_DATA_DIR", "data"),
                        help="data dir (default: $ZSSR_DATA_DIR or data/)")
    parser.add_argument("--mirror", default=None, help="base URL holding <repo>/<path> copies (default: GitHub)")
    args = parser.parse_args(argv)
    try:
        for name in args.datasets:
            download(name, args.to, args.mirror)
    except ZSSRError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
