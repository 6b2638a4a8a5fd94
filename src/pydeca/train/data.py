"""Training data: a JSONL manifest of face photos, DECA's jittered crop and a K-images-per-identity dataset.

Reference §3.7 (items, crop rule) and §2.1 (the similarity crop); corrections from
training-and-evaluation §1 (no hard-coded cluster paths, no unreleased list files, no ``np.int``).

Convention:
    - Photo pixels: x = column, y = row, pixel ``i`` centred at ``i`` (as :mod:`pydeca.detect.crop`).
    - ``T`` (3×3) maps photo pixels to crop pixels; the crop square's corners go to 0 and 223
      (``s = 223 / size``), the warp is :func:`pydeca.detect.crop.warp_crop` (bilinear, zero outside).
    - Landmarks are returned in **crop NDC with pixel centres at integer + 0.5**:
      ``x = (2·col + 1) / 224 − 1`` (the inverse of :func:`pydeca.geometry.ndc_to_pixels`, so the
      loss sees landmarks in the frame pydeca's projection and renderer use). DECA's loader uses
      ``col / 224 · 2 − 1``, half a pixel (1/224 NDC) to the upper left of this.
    - Crop centre 112, 112 (crop pixels) is NDC ``(1/224, 1/224)``.

Reproducibility: an item depends only on ``(seed, epoch, index)`` (``numpy.random.default_rng``
seeded with the three), never on the worker that loads it; call :meth:`FaceDataset.set_epoch`
before each epoch (with ``persistent_workers=True`` the workers keep the epoch they were started with).
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import torch
from PIL import Image
from torch.utils.data import Dataset

from pydeca.constants import CROP_SIZE, NUM_LANDMARKS
from pydeca.detect.crop import crop_transform, warp_crop
from pydeca.detect.landmark_files import MAX_LANDMARK_FILE_BYTES, read_landmarks68
from pydeca.errors import InputError
from pydeca.io.atomic import atomic_write_text
from pydeca.io.images import is_image, load_image

__all__ = [
    "FaceDataset",
    "ManifestRow",
    "Scan",
    "Skipped",
    "TrainingCrop",
    "read_manifest",
    "read_row_landmarks",
    "rows_from_bupt",
    "rows_from_folders",
    "rows_from_vggface2",
    "rows_from_voxceleb2",
    "training_square",
    "walk_images",
    "write_manifest",
]

Landmarks = tuple[tuple[float, float], ...]
"""Inline landmarks: 68 ``(x, y)`` photo pixels."""


# ---------------------------------------------------------------------------------------------- manifest
@dataclass(frozen=True)
class ManifestRow:
    """One training photo."""

    identity: str
    """Who is in the photo; the dataset groups rows by it."""
    image: Path
    """The photo file."""
    landmarks: Path | Landmarks
    """68 ``(x, y)`` photo pixels, inline, or a ``.npy`` ((68, ≥2)), ``.txt`` (68×2/68×3) or ``.mat`` file."""
    mask: Path | None = None
    """Skin mask at the photo's resolution (``.npy`` float, 1 where > 0.5; or an image, 1 where > 127)."""
    clip: str | None = None
    """Video clip id (VoxCeleb2), else None."""


@dataclass(frozen=True)
class Skipped:
    """A file left out, and why."""

    path: str
    reason: str


@dataclass(frozen=True)
class Scan:
    """What an adapter found: usable rows and the files it left out."""

    rows: tuple[ManifestRow, ...]
    skipped: tuple[Skipped, ...]


def _resolve(base: Path, value: str) -> Path:
    p = Path(value)
    return p if p.is_absolute() else base / p


def _as_landmarks(value: Any, where: str) -> Path | Landmarks:
    if isinstance(value, str):
        return Path(value)
    arr = np.asarray(value, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[0] != NUM_LANDMARKS or arr.shape[1] < 2:
        raise InputError(f"{where}: inline landmarks must be 68 [x, y] pairs, got shape {arr.shape}")
    return tuple((float(x), float(y)) for x, y in arr[:, :2])


def read_manifest(path: str | os.PathLike[str]) -> list[ManifestRow]:
    """Read a JSONL manifest: one JSON object per line, blank lines ignored.

    Keys: ``identity`` (str), ``image`` (path), ``landmarks`` (path or 68 ``[x, y]`` pairs),
    optional ``mask`` (path) and ``clip`` (str). Relative paths are resolved against the
    manifest's folder.

    Raises:
        InputError: if the file cannot be read or a line is not such an object (line number named).
    """
    p = Path(path)
    try:
        lines = p.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{p}: cannot read the manifest ({type(exc).__name__}: {exc})") from exc
    base = p.parent
    rows = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{p}:{number}"
        try:
            obj = json.loads(line)
            if not isinstance(obj, dict):
                raise TypeError("not a JSON object")
            landmarks = obj["landmarks"]
            lmk = _resolve(base, landmarks) if isinstance(landmarks, str) else _as_landmarks(landmarks, where)
            mask = obj.get("mask")
            clip = obj.get("clip")
            rows.append(
                ManifestRow(
                    identity=str(obj["identity"]),
                    image=_resolve(base, str(obj["image"])),
                    landmarks=lmk,
                    mask=None if mask is None else _resolve(base, str(mask)),
                    clip=None if clip is None else str(clip),
                )
            )
        except InputError:
            raise
        except (ValueError, TypeError, KeyError) as exc:
            raise InputError(
                f"{where}: expected a JSON object with identity, image, landmarks "
                f"({type(exc).__name__}: {exc})"
            ) from exc
    return rows


def _relative(path: Path, base: Path) -> str:
    try:
        return path.resolve().relative_to(base.resolve()).as_posix()
    except ValueError:
        return str(path.resolve())


def write_manifest(path: str | os.PathLike[str], rows: Iterable[ManifestRow]) -> Path:
    """Write rows as JSONL (atomically); paths under the manifest's folder are stored relative to it."""
    p = Path(path)
    base = p.parent
    lines = []
    for row in rows:
        obj: dict[str, Any] = {"identity": row.identity, "image": _relative(row.image, base)}
        lmk = row.landmarks
        obj["landmarks"] = _relative(lmk, base) if isinstance(lmk, Path) else [list(xy) for xy in lmk]
        if row.mask is not None:
            obj["mask"] = _relative(row.mask, base)
        if row.clip is not None:
            obj["clip"] = row.clip
        lines.append(json.dumps(obj, ensure_ascii=False))
    return atomic_write_text(p, "".join(line + "\n" for line in lines))


# ------------------------------------------------------------------------------------ landmarks, masks
def _load_npy(p: Path, max_bytes: int | None) -> npt.NDArray[Any]:
    try:
        if max_bytes is not None and p.stat().st_size > max_bytes:
            raise InputError(f"{p}: {p.stat().st_size} bytes is larger than the limit {max_bytes}")
        arr = np.load(p, allow_pickle=False)
    except InputError:
        raise
    except (OSError, ValueError, EOFError) as exc:
        raise InputError(f"{p}: cannot read the .npy file ({type(exc).__name__}: {exc})") from exc
    if not isinstance(arr, np.ndarray) or arr.dtype.kind not in "biuf":
        raise InputError(f"{p}: expected a numeric array")
    return arr


def read_row_landmarks(row: ManifestRow) -> npt.NDArray[np.float64]:
    """The row's 68 landmarks as (68, 2) float64 ``(x, y)`` photo pixels.

    Raises:
        InputError: if the file is missing or unreadable, or the points are not 68 finite pairs.
    """
    lmk = row.landmarks
    if isinstance(lmk, Path):
        if lmk.suffix.lower() == ".npy":
            arr = _load_npy(lmk, MAX_LANDMARK_FILE_BYTES).astype(np.float64)
            if arr.ndim != 2 or arr.shape[0] != NUM_LANDMARKS or arr.shape[1] < 2:
                raise InputError(f"{lmk}: expected (68, >=2) landmarks, got shape {arr.shape}")
            points = arr[:, :2]
        else:
            points = read_landmarks68(lmk)
    else:
        points = np.asarray(lmk, dtype=np.float64)
    if not np.isfinite(points).all():
        raise InputError(f"{row.image}: landmarks hold NaN or infinite values")
    return np.ascontiguousarray(points)


_ORIENTATION_TAG = 0x0112


def _upright_size(p: Path) -> tuple[int, int]:
    """``(W, H)`` of the upright photo from its header (EXIF orientations 5–8 swap the sides)."""
    try:
        with Image.open(p) as img:
            w, h = img.size
            try:  # a PNG's eXIf chunk may follow the pixels: damaged pixels then fail here
                orientation = img.getexif().get(_ORIENTATION_TAG, 1)
            except (OSError, ValueError, SyntaxError, EOFError):
                orientation = 1  # the pixel check happens at load time
    except (OSError, ValueError, SyntaxError, EOFError) as exc:
        raise InputError(f"{p}: not a readable image ({type(exc).__name__}: {exc})") from exc
    return (h, w) if orientation in (5, 6, 7, 8) else (w, h)


def _check_landmarks(points: npt.NDArray[np.float64], width: int, height: int, margin: float) -> str | None:
    """Why the landmarks are unusable on a ``width``×``height`` photo, or None."""
    pad = margin * max(width, height)
    lo, hi = points.min(axis=0), points.max(axis=0)
    if lo[0] < -pad or lo[1] < -pad or hi[0] > width - 1 + pad or hi[1] > height - 1 + pad:
        return f"landmarks outside the {width}×{height} image (box {lo.round(1)}–{hi.round(1)})"
    if (hi - lo).sum() <= 0:
        return "landmarks have an empty bounding box"
    return None


def _load_mask(p: Path, shape: tuple[int, int]) -> npt.NDArray[np.float32]:
    """(H, W) float32 in {0, 1} at the photo's resolution."""
    if p.suffix.lower() == ".npy":
        arr = _load_npy(p, None).astype(np.float64)
        arr = arr[..., 0] if arr.ndim == 3 and arr.shape[2] == 1 else arr
        mask = arr > 0.5
    else:
        mask = load_image(p, min_side=1).mean(axis=2) > 127
    if mask.shape != shape:
        raise InputError(f"{p}: mask is {mask.shape[::-1]} px, the photo {shape[::-1]} px")
    return mask.astype(np.float32)


# ------------------------------------------------------------------------------------------------ crop
def training_square(
    points: npt.NDArray[np.float64], shift: Sequence[float] | npt.NDArray[np.float64], scale: float
) -> tuple[npt.NDArray[np.float64], float]:
    """DECA's training square from 68 landmarks, given the random draws (reference §3.7).

    ``old = (w + h)/2`` of the landmark box (no 1.1 factor, unlike inference),
    ``centre = box centre + shift · old``, ``size = int(old · scale)``.

    Args:
        points: (68, 2) ``(x, y)`` photo pixels.
        shift: (2,) the centre jitter in units of ``old`` (DECA: ``U(−1, 1) · trans_scale`` per axis).
        scale: the size factor (DECA: ``U(scale_min, scale_max)``).

    Returns:
        ``(center (2,) float64, size float)`` photo pixels.

    Example:
        >>> c, s = training_square(np.array([[10.0, 20.0], [110.0, 80.0]]), (0.0, 0.0), 1.5)
        >>> c.tolist(), s
        ([60.0, 50.0], 120.0)
    """
    lo, hi = points.min(axis=0), points.max(axis=0)
    old = float((hi[0] - lo[0] + hi[1] - lo[1]) / 2.0)
    center = (lo + hi) / 2.0 + np.asarray(shift, dtype=np.float64) * old
    return center, float(int(old * scale))


@dataclass(frozen=True)
class TrainingCrop:
    """DECA's jittered training crop: landmark box → random square → 224² similarity warp.

    Defaults are DECA's released config (reference §3.6): scale U(1.4, 1.8), no translation jitter.
    """

    scale_min: float = 1.4
    scale_max: float = 1.8
    trans_scale: float = 0.0
    """Centre jitter: ``U(−1, 1) · trans_scale · old_size`` per axis."""
    crop_size: int = CROP_SIZE

    def transform(self, points: npt.NDArray[np.float64], rng: np.random.Generator) -> npt.NDArray[np.float64]:
        """Draw a crop: (3, 3) float64 ``T``, photo pixel → crop pixel (3 draws from ``rng``)."""
        shift = (rng.random(2) * 2.0 - 1.0) * self.trans_scale
        scale = rng.uniform(self.scale_min, self.scale_max)
        center, size = training_square(points, shift, scale)
        return crop_transform(center, max(size, 1.0), self.crop_size)

    def apply(
        self,
        image: npt.NDArray[np.uint8],
        points: npt.NDArray[np.float64],
        mask: npt.NDArray[np.float32] | None,
        tform: npt.NDArray[np.float64],
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Warp a photo, its mask and landmarks with ``T``.

        Args:
            image: (H, W, 3) uint8 RGB.
            points: (68, 2) photo pixels.
            mask: (H, W) float32 in {0, 1}, or None (the crop mask is then all ones).
            tform: (3, 3) ``T`` from :meth:`transform`.

        Returns:
            ``image`` (3, S, S) float32 [0, 1]; ``landmarks`` (68, 3) float32 ``(x, y, 1)`` crop NDC
            (module Convention); ``mask`` (S, S) float32 (bilinear, zero outside the photo).
        """
        s = self.crop_size
        # 1. photo (+ mask as a 4th channel): (1, 3|4, H, W) float32 → warped (1, 3|4, S, S)
        chans = torch.from_numpy(image).permute(2, 0, 1).to(torch.float32) / 255.0
        if mask is not None:
            chans = torch.cat([chans, torch.from_numpy(mask)[None]], dim=0)
        warped = warp_crop(chans[None], tform, s)[0]
        crop_mask = warped[3] if mask is not None else torch.ones(s, s)
        # 2. landmarks: photo px → crop px (T) → crop NDC with pixel centres at integer + 0.5
        crop_px = points @ tform[:2, :2].T + tform[:2, 2]
        ndc = (2.0 * crop_px + 1.0) / s - 1.0
        lmk = torch.from_numpy(np.concatenate([ndc, np.ones((len(ndc), 1))], axis=1)).to(torch.float32)
        return warped[:3].contiguous(), lmk, crop_mask.contiguous()


# --------------------------------------------------------------------------------------------- dataset
def _reason(exc: Exception, path: Path) -> str:
    """The error message without a leading ``"<path>: "`` (the record names the path already)."""
    text = str(exc)
    return text.removeprefix(f"{path}: ")


@dataclass
class _Group:
    identity: str
    rows: list[ManifestRow] = field(default_factory=list)


class FaceDataset(Dataset[dict[str, torch.Tensor]]):
    """Identities as items: each item is K crops of one identity (DECA's shape-consistency batches).

    Construction validates every row cheaply (file exists, header readable, 68 finite landmarks
    inside the photo up to ``margin`` × its longer side); bad rows go to :attr:`skipped` with a
    warning. At load time a row that still fails (damaged pixels, bad mask) is recorded the same
    way and the next image of the identity (in row order, wrapping) is used instead; if none of an
    identity loads, the next identity is used. Identities with fewer than K images are sampled
    **with replacement**; others draw K distinct images.

    Item (``FaceDataset[i]``):
        - ``image`` (K, 3, 224, 224) float32 RGB in [0, 1].
        - ``landmarks`` (K, 68, 3) float32 ``(x, y, 1)``, crop NDC (module Convention).
        - ``mask`` (K, 224, 224) float32 skin mask, 1 inside; all ones when the row has no mask.
        - ``identity`` () int64, the index of the identity in :attr:`identities`.

    With DataLoader workers, load-time skips are recorded in the workers' copies of
    :attr:`skipped` (their warnings still reach stderr).

    Args:
        rows: manifest rows (any order; grouped by ``identity``, identities sorted).
        k: images per item.
        crop: the crop and its random ranges.
        seed: base seed; items depend on ``(seed, epoch, index)`` only.
        margin: tolerated landmark overshoot beyond the photo, as a fraction of its longer side.
        validate: check every row at construction (False trusts the manifest: faster start).
    """

    def __init__(
        self,
        rows: Iterable[ManifestRow],
        *,
        k: int = 4,
        crop: TrainingCrop | None = None,
        seed: int = 0,
        margin: float = 0.05,
        validate: bool = True,
    ) -> None:
        if k < 1:
            raise ValueError(f"k: expected >= 1, got {k}")
        self.k = k
        self.crop = crop or TrainingCrop()
        self.seed = seed
        self.epoch = 0
        self.margin = margin
        self.skipped: list[Skipped] = []
        self._bad: set[Path] = set()
        groups: dict[str, _Group] = {}
        for row in rows:
            reason = self._validate(row) if validate else None
            if reason is not None:
                self.skipped.append(Skipped(str(row.image), reason))
                continue
            groups.setdefault(row.identity, _Group(row.identity)).rows.append(row)
        if self.skipped:
            head = "; ".join(f"{s.path}: {s.reason}" for s in self.skipped[:3])
            warnings.warn(
                f"FaceDataset: skipped {len(self.skipped)} bad row(s) (see .skipped): {head}",
                stacklevel=2,
            )
        self._groups = [groups[name] for name in sorted(groups)]
        self.identities = [g.identity for g in self._groups]
        if not self._groups:
            raise InputError("FaceDataset: no usable rows (every row was skipped or the manifest is empty)")

    def _validate(self, row: ManifestRow) -> str | None:
        if not row.image.is_file():
            return "image file not found"
        if row.mask is not None and not row.mask.is_file():
            return f"mask file not found: {row.mask}"
        try:
            width, height = _upright_size(row.image)
            points = read_row_landmarks(row)
        except InputError as exc:
            return _reason(exc, row.image)
        return _check_landmarks(points, width, height, self.margin)

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch's random draws (call before creating the epoch's DataLoader iterator)."""
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return len(self._groups)

    def _load(self, row: ManifestRow) -> tuple[npt.NDArray[np.uint8], Any, Any] | None:
        """Photo, landmarks and mask of a row, or None (recorded) when it cannot be used."""
        if row.image in self._bad:
            return None
        try:
            image = load_image(row.image)
            points = read_row_landmarks(row)
            reason = _check_landmarks(points, image.shape[1], image.shape[0], self.margin)
            if reason is not None:
                raise InputError(reason)
            mask = None if row.mask is None else _load_mask(row.mask, image.shape[:2])
        except InputError as exc:
            self._bad.add(row.image)
            self.skipped.append(Skipped(str(row.image), _reason(exc, row.image)))
            warnings.warn(f"FaceDataset: skipping {row.image}: {_reason(exc, row.image)}", stacklevel=2)
            return None
        return image, points, mask

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        if not -len(self) <= index < len(self):
            raise IndexError(f"index {index} out of range for {len(self)} identities")
        index %= len(self)
        rng = np.random.default_rng([self.seed, self.epoch, index])
        for offset in range(len(self)):
            ident = (index + offset) % len(self)
            rows = self._groups[ident].rows
            n = len(rows)
            # 1. K draws, without replacement when the identity has K images or more
            picks = rng.choice(n, size=self.k, replace=n < self.k)
            images, lmks, masks = [], [], []
            for pick in picks:
                # 2. the drawn row, or the next loadable one of the identity (no rng use: deterministic)
                loaded = next(
                    (got for j in range(n) if (got := self._load(rows[(int(pick) + j) % n])) is not None),
                    None,
                )
                if loaded is None:
                    break
                # 3. crop: (3, 224, 224), (68, 3), (224, 224)
                image, points, mask = loaded
                img, lmk, msk = self.crop.apply(image, points, mask, self.crop.transform(points, rng))
                images.append(img)
                lmks.append(lmk)
                masks.append(msk)
            else:
                return {
                    "image": torch.stack(images),
                    "landmarks": torch.stack(lmks),
                    "mask": torch.stack(masks),
                    "identity": torch.tensor(ident, dtype=torch.int64),
                }
            warnings.warn(
                f"FaceDataset: no image of identity {self.identities[ident]!r} loads; using the next one",
                stacklevel=2,
            )
        raise InputError("FaceDataset: no image of any identity could be loaded (see .skipped)")


# -------------------------------------------------------------------------------------------- adapters
def _find_beside_or_under(
    image: Path, rel: Path, labels: Path | None, suffixes: Sequence[str]
) -> Path | None:
    candidates = [labels / rel.with_suffix(s) for s in suffixes] if labels is not None else []
    candidates += [image.with_suffix(s) for s in suffixes]
    return next((c for c in candidates if c.is_file()), None)


def walk_images(base: Path, excluded: Sequence[Path] = ()) -> Iterator[Path]:
    """Every image file under ``base``, sorted, depth first.

    Hidden files and folders and the ``excluded`` folders (resolved paths, e.g. a labels folder
    inside the dataset) are not visited.
    """
    for dirpath, dirnames, filenames in os.walk(base):
        here = Path(dirpath)
        dirnames[:] = sorted(
            d for d in dirnames if not d.startswith(".") and (here / d).resolve() not in excluded
        )
        for name in sorted(filenames):
            path = here / name
            if not name.startswith(".") and is_image(path):
                yield path


def _scan(
    root: str | os.PathLike[str],
    *,
    depth: int,
    split: Callable[[tuple[str, ...]], tuple[str, str | None]],
    labels: str | os.PathLike[str] | None,
    masks: str | os.PathLike[str] | None,
    layout: str,
) -> Scan:
    """Rows for every image ``depth`` folders below ``root``; landmarks beside it or under ``labels``."""
    base = Path(root)
    if not base.is_dir():
        raise InputError(f"{base}: not a folder; pass the dataset's root folder ({layout})")
    label_root = None if labels is None else Path(labels)
    mask_root = None if masks is None else Path(masks)
    excluded = [r.resolve() for r in (label_root, mask_root) if r is not None]
    rows: list[ManifestRow] = []
    skipped: list[Skipped] = []
    for path in walk_images(base, excluded):
        rel = path.relative_to(base)
        if len(rel.parts) != depth + 1:
            skipped.append(Skipped(str(path), f"not at the {layout} depth ({depth} folders)"))
            continue
        lmk = _find_beside_or_under(path, rel, label_root, (".npy", ".txt", ".mat"))
        if lmk is None:
            skipped.append(Skipped(str(path), "no landmark file"))
            continue
        mask = None
        if mask_root is not None:
            mask = next(
                (m for s in (".npy", ".png") if (m := mask_root / rel.with_suffix(s)).is_file()), None
            )
        identity, clip = split(rel.parts[:-1])
        rows.append(ManifestRow(identity, path, lmk, mask, clip))
    if skipped:
        warnings.warn(f"{layout} scan of {base}: skipped {len(skipped)} file(s) (see .skipped)", stacklevel=3)
    return Scan(tuple(rows), tuple(skipped))


def rows_from_folders(
    root: str | os.PathLike[str],
    *,
    labels: str | os.PathLike[str] | None = None,
    masks: str | os.PathLike[str] | None = None,
) -> Scan:
    """``<root>/<identity>/<image>``: one folder per person.

    Landmarks: ``<labels>/<identity>/<image stem>.npy|.txt|.mat``, else the same name beside the
    image ((68, ≥2) photo pixels). Masks (optional): ``<masks>/<identity>/<stem>.npy|.png``.
    Images without landmarks, or at another depth, are reported in :attr:`Scan.skipped`.
    """
    layout = "<root>/<identity>/<image>"
    return _scan(
        root, depth=1, split=lambda parts: (parts[0], None), labels=labels, masks=masks, layout=layout
    )


def rows_from_vggface2(
    root: str | os.PathLike[str],
    *,
    labels: str | os.PathLike[str] | None = None,
    masks: str | os.PathLike[str] | None = None,
) -> Scan:
    """VGGFace2: ``<root>/<id>/<image>.jpg`` (``root`` = its ``train/`` or ``test/`` folder).

    Labels as in :func:`rows_from_folders`; DECA's ``train_annotated_torch7/`` folder fits ``labels``.
    """
    layout = "VGGFace2 <root>/<id>/<image>"
    return _scan(
        root, depth=1, split=lambda parts: (parts[0], None), labels=labels, masks=masks, layout=layout
    )


def rows_from_voxceleb2(
    root: str | os.PathLike[str],
    *,
    labels: str | os.PathLike[str] | None = None,
    masks: str | os.PathLike[str] | None = None,
) -> Scan:
    """VoxCeleb2 frame folders: ``<root>/<id>/<clip>/<frame>.jpg|png``; clip id = ``<clip>``."""
    layout = "VoxCeleb2 <root>/<id>/<clip>/<frame>"
    return _scan(root, depth=2, split=lambda p: (p[0], p[1]), labels=labels, masks=masks, layout=layout)


def rows_from_bupt(
    root: str | os.PathLike[str],
    *,
    labels: str | os.PathLike[str] | None = None,
    masks: str | os.PathLike[str] | None = None,
) -> Scan:
    """BUPT-Balancedface: ``<root>/<race>/<id>/<image>``; identity = ``"<race>/<id>"``."""
    layout = "BUPT <root>/<race>/<id>/<image>"
    return _scan(
        root, depth=2, split=lambda p: (f"{p[0]}/{p[1]}", None), labels=labels, masks=masks, layout=layout
    )
