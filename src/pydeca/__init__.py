"""pydeca: DECA in pure PyTorch — one photo in, an animatable 3D FLAME head with detail out.

Frames and units used throughout (see the README's *Conventions*):

* World: FLAME's frame, metres, +x toward the subject's left (image right at zero pose), +y up,
  +z out of the face toward the camera.
* Camera: DECA's weak perspective ``cam = (s, tx, ty)``; crop NDC with x = -1 at the left edge,
  y = -1 at the top edge, smaller z nearer; pixel centres at integer + 0.5.
* UV images: row 0 is v = 1.

Public API: ``model = pydeca.DECA.load(...)``; ``pydeca.reconstruct(model, image)`` (the largest
face) / ``pydeca.reconstruct_all(model, image)`` (every face) → :class:`~pydeca.pipeline.FaceResult`;
``pydeca.save(model, face, out_dir, formats=...)`` writes its files.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._version import __version__

if TYPE_CHECKING:  # pragma: no cover
    from .model import DECA as DECA
    from .pipeline import FaceResult as FaceResult
    from .pipeline import reconstruct as reconstruct
    from .pipeline import reconstruct_all as reconstruct_all
    from .pipeline import save as save

__all__ = ["DECA", "FaceResult", "__version__", "reconstruct", "reconstruct_all", "save"]

_LAZY = {
    "DECA": "model",
    "FaceResult": "pipeline",
    "reconstruct": "pipeline",
    "reconstruct_all": "pipeline",
    "save": "pipeline",
}
"""Public name → the module that defines it, imported on first use."""


def __getattr__(name: str) -> Any:
    # Import lazily so `import pydeca` (and `deca --help`) stays fast.
    if name in _LAZY:
        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module 'pydeca' has no attribute {name!r}")
