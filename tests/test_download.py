"""Dataset downloads: checksummed, atomic, resumable, and one clear line when they cannot be done."""

import numpy as np
import pytest
from PIL import Image

from zssr.bench.datasets import list_images
from zssr.download import download, main, pixel_sha256, sources
from zssr.errors import ZSSRError

from conftest import DATA_DIR, needs_data


def test_sources_cover_the_standard_sets():
    counts = {name: len(sources(name)) for name in ("set5", "set14", "bsd100")}
    assert counts == {"set5": 5, "set14": 14, "bsd100": 100}
    assert all(len(s.sha256) == 64 for s in sources())


def test_pixel_hash_ignores_png_encoding_but_not_pixels(tmp_path):
    arr = np.random.default_rng(0).integers(0, 256, (20, 30, 3), dtype=np.uint8)
    Image.fromarray(arr).save(tmp_path / "a.png", compress_level=0)
    Image.fromarray(arr).save(tmp_path / "b.png", compress_level=9)
    assert (tmp_path / "a.png").read_bytes() != (tmp_path / "b.png").read_bytes()
    assert pixel_sha256(Image.open(tmp_path / "a.png")) == pixel_sha256(Image.open(tmp_path / "b.png"))
    arr[0, 0, 0] ^= 1
    assert pixel_sha256(Image.fromarray(arr)) != pixel_sha256(Image.open(tmp_path / "a.png"))
    assert pixel_sha256(Image.fromarray(arr[..., 0])) != pixel_sha256(Image.fromarray(arr[..., :1].repeat(3, -1)))


def make_mirror(root, dataset):
    """A local mirror laid out like the public repositories (<repo>/<path>), made from the shared copies."""
    for src in sources(dataset):
        target = root / src.repo / src.path
        target.parent.mkdir(parents=True, exist_ok=True)
        Image.open(DATA_DIR / dataset / "HR" / f"{src.name}.png").save(target, compress_level=1)
    return root


@needs_data
def test_download_verifies_writes_and_resumes(tmp_path, monkeypatch):
    mirror = make_mirror(tmp_path / "mirror", "set5")
    monkeypatch.setenv("ZSSR_DATA_MIRROR", mirror.as_uri())
    data = tmp_path / "data"
    refs = list_images("set5", root=str(data / "set5" / "HR"), download=True)
    assert [r.name for r in refs] == ["baby", "bird", "butterfly", "head", "woman"]
    for ref in refs:
        got = np.asarray(Image.open(ref.source))
        assert np.array_equal(got, np.asarray(Image.open(DATA_DIR / "set5" / "HR" / f"{ref.name}.png")))
    # a verified file is kept (its source is gone from the mirror); a damaged one is fetched again
    (data / "set5" / "HR" / "bird.png").write_bytes(b"broken")
    (mirror / "majedelhelou" / "denoising_datasets" / "CSet5" / "baby.png").unlink()
    download("set5", data)
    assert pixel_sha256(Image.open(data / "set5" / "HR" / "bird.png")) == sources("set5")[1].sha256
    assert not list((data / "set5" / "HR").glob(".*partial"))


@needs_data
def test_download_rejects_a_changed_pixel(tmp_path, monkeypatch):
    mirror = make_mirror(tmp_path / "mirror", "set5")
    path = mirror / "majedelhelou" / "denoising_datasets" / "CSet5" / "head.png"
    arr = np.array(Image.open(path))
    arr[10, 10, 1] ^= 4
    Image.fromarray(arr).save(path)
    with pytest.raises(ZSSRError, match="head.png does not match its checksum.*put the 5 HR PNGs of set5"):
        download("set5", tmp_path / "data", mirror=mirror.as_uri())
    assert not (tmp_path / "data" / "set5" / "HR" / "head.png").exists()


def test_offline_download_is_one_clear_line(tmp_path, capsys):
    assert main(["bsd100", "--to", str(tmp_path), "--mirror", (tmp_path / "nowhere").as_uri()]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("error: dataset 'bsd100' is not at")
    assert "put the 100 HR PNGs of bsd100" in err
    assert not (tmp_path / "bsd100").exists()  # no empty folders left in the data dir
