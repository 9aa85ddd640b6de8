"""Reading and writing images while keeping their bit depth and channel layout.

Everything inside the project works on float tensors ``(C, H, W)`` in [0, 1] with C = 3 (grayscale is replicated to
three channels so one network serves every image). :class:`LoadedImage` remembers what the file was, so the result can
be written back the same way: 8 or 16 bits, L / LA / RGB / RGBA. Palette images become RGB(A) (a super-resolved image
has colours a palette cannot hold). JPEGs are turned upright according to their EXIF orientation.
Pillow cannot read or write 16-bit colour PNGs, so those go through pypng.

Every reader checks the image's size from its header before decoding anything: an image over ``max_pixels`` (the
``max_input_pixels`` setting) is refused in one line, so a decompression bomb or a photo too large for this machine's
memory costs nothing. Pillow's own bomb check is replaced by this one.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import png  # pypng
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

from zssr.errors import ZSSRError

Image.MAX_IMAGE_PIXELS = None  # the limit is max_pixels, checked before decoding by every reader (pypng too)
MAX_PIXELS = 50_000_000  # the default max_input_pixels (conf/train.yaml); docs/lab/results.md: memory per input pixel


@dataclass
class LoadedImage:
    """An image as the pipeline sees it.

    ``rgb``: ``(3, H, W)`` float32 in [0, 1]; ``alpha``: ``(1, H, W)`` or None; ``gray``: the file had one colour
    channel; ``bits``: 8 or 16; ``name``: file stem (used to name outputs).
    """

    rgb: torch.Tensor
    alpha: torch.Tensor | None = None
    gray: bool = False
    bits: int = 8
    name: str = "image"

    @property
    def size(self) -> tuple[int, int]:
        return tuple(self.rgb.shape[-2:])


def _png_header(path: Path) -> tuple[int, int, int] | None:
    """A PNG's (width, height, bit depth) from its IHDR chunk; None for any other file."""
    with open(path, "rb") as fh:
        head = fh.read(26)
    if len(head) < 26 or head[:8] != b"\x89PNG\r\n\x1a\n" or head[12:16] != b"IHDR":
        return None
    return int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big"), head[24]


def check_pixels(path: Path, width: int, height: int, max_pixels: int | None) -> None:
    """Refuse an image larger than ``max_pixels`` (None: :data:`MAX_PIXELS`) before it is decoded."""
    limit = MAX_PIXELS if max_pixels is None else int(max_pixels)
    if width * height > limit:
        raise ZSSRError(f"image {path} is {width}x{height} ({width * height / 1e6:.1f} MP), over "
                        f"max_input_pixels={limit} ({limit / 1e6:.1f} MP); raise max_input_pixels if this machine has "
                        f"the memory for it")


def _from_array(arr: np.ndarray, max_value: float, name: str) -> LoadedImage:
    arr = arr.astype(np.float32) / max_value
    if arr.ndim == 2:
        arr = arr[..., None]
    channels = arr.shape[-1]
    color = arr[..., : (1 if channels in (1, 2) else 3)]
    alpha = arr[..., -1:] if channels in (2, 4) else None
    rgb = torch.from_numpy(np.ascontiguousarray(color)).permute(2, 0, 1)
    gray = rgb.shape[0] == 1
    if gray:
        rgb = rgb.expand(3, -1, -1).contiguous()
    alpha_t = None if alpha is None else torch.from_numpy(np.ascontiguousarray(alpha)).permute(2, 0, 1)
    return LoadedImage(rgb=rgb, alpha=alpha_t, gray=gray, bits=16 if max_value > 255 else 8, name=name)


def load_image(path: str | Path, max_pixels: int | None = None) -> LoadedImage:
    """Read an image file of at most ``max_pixels``; raises :class:`ZSSRError` with a one-line reason for anything
    unusable."""
    path = Path(path)
    if path.is_dir():
        raise ZSSRError(f"{path} is a folder, not an image (a folder of images: evaluate.py dataset=folder)")
    if not path.is_file():
        raise ZSSRError(f"input image not found: {path}")
    try:
        header = _png_header(path)
        if header is not None:
            check_pixels(path, header[0], header[1], max_pixels)
        if header is not None and header[2] == 16:
            width, height, rows, info = png.Reader(filename=str(path)).asDirect()
            planes = info["planes"]
            arr = np.vstack([np.asarray(r, dtype=np.uint16) for r in rows]).reshape(height, width, planes)
            return _from_array(arr, 65535.0, path.stem)
        with Image.open(path) as im:  # reads the header only
            check_pixels(path, *im.size, max_pixels)
            im = ImageOps.exif_transpose(im)
            if im.mode == "P":
                im = im.convert("RGBA" if "transparency" in im.info else "RGB")
            elif im.mode in ("1", "CMYK", "YCbCr", "LAB", "HSV"):
                im = im.convert("RGB" if im.mode != "1" else "L")
            elif im.mode in ("I;16", "I;16B", "I;16L", "I"):
                return _from_array(np.asarray(im).astype(np.uint16), 65535.0, path.stem)
            elif im.mode == "F":
                raise ZSSRError(f"floating-point images are not supported: {path}")
            elif im.mode == "PA":
                im = im.convert("RGBA")
            return _from_array(np.asarray(im), 255.0, path.stem)
    except ZSSRError:
        raise
    except MemoryError:
        raise ZSSRError(f"not enough memory to read image {path}") from None
    except (UnidentifiedImageError, OSError, png.Error, ValueError, SyntaxError) as exc:
        raise ZSSRError(f"cannot read image {path}: {exc.__class__.__name__}: {exc}") from None


def load_skimage(name: str) -> LoadedImage:
    """One of scikit-image's bundled sample photos (``skimage:chelsea``): an input that needs no download."""
    import skimage.data

    loader = getattr(skimage.data, name, None)
    if loader is None or not callable(loader):
        raise ZSSRError(f"unknown scikit-image sample '{name}' (try chelsea, astronaut, coffee, camera)")
    try:
        arr = loader()
    except Exception as exc:  # some samples need a download, which is not available offline
        raise ZSSRError(f"scikit-image sample '{name}' is not available offline: {exc}") from None
    return _from_array(np.asarray(arr), 255.0, name)


def open_input(spec: str | Path, max_pixels: int | None = None) -> LoadedImage:
    """A path, or ``skimage:<name>`` for a bundled sample."""
    spec = str(spec)
    if spec.startswith("skimage:"):
        return load_skimage(spec.split(":", 1)[1])
    return load_image(spec, max_pixels)


def to_array(img: torch.Tensor, bits: int) -> np.ndarray:
    """``(C, H, W)`` float in [0, 1] -> ``(H, W, C)`` unsigned integers of ``bits`` bits, rounded."""
    top = 65535 if bits == 16 else 255
    arr = (img.detach().float().clamp(0, 1) * top).round().permute(1, 2, 0).cpu().numpy()
    return arr.astype(np.uint16 if bits == 16 else np.uint8)


def save_image(path: str | Path, rgb: torch.Tensor, like: LoadedImage, alpha: torch.Tensor | None = None) -> Path:
    """Write ``rgb`` (``(3, H, W)`` in [0, 1]) with the bit depth and channel layout of ``like``."""
    path = Path(path)
    planes = rgb.mean(0, keepdim=True) if like.gray else rgb
    if alpha is not None:
        planes = torch.cat([planes, alpha], 0)
    arr = to_array(planes, like.bits)
    channels = arr.shape[-1]
    try:
        if like.bits == 16:
            writer = png.Writer(arr.shape[1], arr.shape[0], greyscale=channels in (1, 2), alpha=channels in (2, 4),
                                bitdepth=16)
            with open(path, "wb") as fh:
                writer.write(fh, arr.reshape(arr.shape[0], -1))
        else:
            mode = {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}[channels]
            Image.fromarray(arr[..., 0] if channels == 1 else arr, mode=mode).save(path)
    except OSError as exc:
        raise ZSSRError(f"cannot write {path}: {exc.strerror or exc}") from None
    return path
