"""``deca reconstruct`` / ``deca demo``: inputs → faces → batched inference → files.

Inputs are image files, folders, globs and videos (every ``every``-th frame). Each image is loaded,
detected and cropped on its own, so a bad image fails alone: its error is recorded in the summary
and the run goes on; faces are then encoded and decoded in batches of ``batch_size`` and written
atomically (see :mod:`pydeca.apps.outputs` for the file layout).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from pydeca.apps.outputs import OutputOptions, save_face
from pydeca.apps.pipeline import PreparedFace, load_model, prepare_faces, reconstruct_faces, say
from pydeca.detect import get_detector
from pydeca.errors import InputError, PydecaError
from pydeca.io.images import is_video, list_inputs, load_image
from pydeca.model import DECA

__all__ = ["ReconstructOptions", "RunSummary", "iter_images", "run_demo", "run_reconstruct"]


@dataclass
class ReconstructOptions(OutputOptions):
    """Output options plus how to find faces and how to batch."""

    detector: str = "auto"
    faces: str = "largest"
    """``"largest"`` or ``"all"`` faces per image."""
    batch_size: int = 1
    every: int = 1
    """Use every ``every``-th frame of videos."""
    skip_existing: bool = False
    texture: str = "extract"


@dataclass
class RunSummary:
    """What a run did: written outputs per face, and the inputs that failed with their errors."""

    outputs: dict[str, list[str]] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)
    seconds: float = 0.0
    demo: bool = False

    def to_dict(self) -> dict:
        """JSON-ready form."""
        return {
            "succeeded": len(self.outputs),
            "failed": self.failed,
            "skipped": self.skipped,
            "outputs": self.outputs,
            "seconds": round(self.seconds, 3),
            "demo": self.demo,
        }


def iter_images(paths: Sequence[Path], every: int = 1) -> Iterator[tuple[str, Path, np.ndarray | Exception]]:
    """Yield ``(name, source path, image or the error loading it)`` for images and video frames."""
    for path in paths:
        if is_video(path):
            try:
                from pydeca.io.video import iter_video_frames

                for index, frame in iter_video_frames(path, every=every):
                    yield f"{path.stem}_frame{index:04d}", path, frame
            except PydecaError as error:
                yield path.stem, path, error
            continue
        try:
            yield path.stem, path, load_image(path)
        except (InputError, OSError) as error:
            yield path.stem, path, error


def run_reconstruct(
    inputs: Sequence[str],
    output: str | Path,
    options: ReconstructOptions | None = None,
    *,
    assets: str | Path | None = None,
    device: str = "auto",
    quiet: bool = False,
    model: DECA | None = None,
    named_images: Sequence[tuple[str, np.ndarray]] = (),
) -> RunSummary:
    """Reconstruct every face among ``inputs`` (files, folders, globs, videos) into ``output``.

    A failing input (unreadable, no face, non-finite codes) is reported in ``RunSummary.failed`` and
    skipped. ``named_images`` adds in-memory images ``(name, (H, W, 3) uint8)``.
    """
    options = options or ReconstructOptions()
    start = time.perf_counter()
    out_dir = Path(output)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = list_inputs(inputs) if inputs else []
    model = load_model(model, assets, device, quiet)
    summary = RunSummary(demo=model.is_demo)
    detector = get_detector(options.detector)
    items = list(iter_images(paths, options.every)) + [(name, None, image) for name, image in named_images]
    pending: list[PreparedFace] = []
    needs_maps = any(
        (
            options.save_obj,
            options.save_vis,
            options.save_depth,
            options.save_images,
            options.save_mat,
            options.save_glb,
            options.save_ply,
        )
    )

    def flush() -> None:
        results, failures = reconstruct_faces(model, pending, options.texture, maps=needs_maps)
        summary.failed.update(failures)
        for result in results:
            summary.outputs[result.name] = save_face(model, result, out_dir, options)
        pending.clear()

    progress = tqdm(items, desc="deca", unit="image", disable=quiet, leave=False)
    for name, source, image in progress:
        label = str(source) if source is not None and not is_video(source) else name
        if options.skip_existing and (out_dir / name / f"{name}.npz").is_file():
            summary.skipped.append(label)
            continue
        try:
            if isinstance(image, Exception):
                raise image
            pending += prepare_faces(image, name, detector, source, options.faces)
        except (InputError, OSError) as error:
            summary.failed[label] = str(error)
            message = str(error) if label in str(error) else f"{label}: {error}"
            tqdm.write(f"deca: failed: {message}", file=sys.stderr)
            continue
        if len(pending) >= options.batch_size:
            flush()
    flush()
    summary.seconds = time.perf_counter() - start
    counts = f"{len(summary.outputs)} succeeded, {len(summary.failed)} failed, {len(summary.skipped)} skipped"
    say(quiet, f"deca: {counts} in {summary.seconds:.1f} s -> {out_dir}")
    return summary


def run_demo(
    output: str | Path,
    options: ReconstructOptions | None = None,
    *,
    assets: str | Path | None = None,
    device: str = "auto",
    quiet: bool = False,
) -> RunSummary:
    """Reconstruct scikit-image's astronaut photo (it ships offline with scikit-image)."""
    from skimage import data

    image = np.ascontiguousarray(data.astronaut())
    summary = run_reconstruct(
        [], output, options, assets=assets, device=device, quiet=quiet, named_images=[("astronaut", image)]
    )
    if not quiet:
        for path in summary.outputs.get("astronaut", []):
            print(f"  wrote {path}", file=sys.stderr)
    return summary
