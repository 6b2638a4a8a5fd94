"""pydeca: DECA in pure PyTorch — one photo in, an animatable 3D FLAME head with detail out.

Frames and units used throughout (see the README's *Conventions*):

* World: FLAME's frame, metres, +x toward the subject's left (image right at zero pose), +y up,
  +z out of the face toward the camera.
* Camera: DECA's weak perspective ``cam = (s, tx, ty)``; crop NDC with x = -1 at the left edge,
  y = -1 at the top edge, smaller z nearer; pixel centres at integer + 0.5.
* UV images: row 0 is v = 1.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._version import __version__

if TYPE_CHECKING:  # pragma: no cover
    from .model import DECA as DECA

__all__ = ["DECA", "__version__"]


def __getattr__(name: str) -> Any:
    # Import the model lazily so `import pydeca` (and `deca --help`) stays fast.
    if name == "DECA":
        from .model import DECA  # noqa: PLC0415 - lazy on purpose

        return DECA
    raise AttributeError(f"module 'pydeca' has no attribute {name!r}")
