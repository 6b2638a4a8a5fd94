"""``deca view``'s library: an interactive browser dashboard for reconstructed faces (viser).

* :mod:`~pydeca.viewer.controls` — the dial values (:class:`HeadControls`) and their codes.
* :mod:`~pydeca.viewer.head` — dial values → vertices and shaded colours (:class:`LiveHead`).
* :mod:`~pydeca.viewer.panel` — the viser widgets (:class:`ControlPanel`).
* :mod:`~pydeca.viewer.uploads` — validated expression uploads; :mod:`~pydeca.viewer.upload_guard`
  drops oversized ones while they stream in.
* :mod:`~pydeca.viewer.scene_glb` — the unlit vertex-coloured GLB the browser shows.
* :mod:`~pydeca.viewer.dashboard` — :class:`Dashboard`, which ties them to a viser server.

Needs the ``viewer`` extra (``pip install 'pydeca[viewer]'``).
"""

from __future__ import annotations

from .controls import TEXTURE_MODES, HeadControls, TextureChoice
from .dashboard import Dashboard, Expression, expression_of
from .head import HeadMesh, LiveHead

__all__ = [
    "TEXTURE_MODES",
    "Dashboard",
    "Expression",
    "HeadControls",
    "HeadMesh",
    "LiveHead",
    "TextureChoice",
    "expression_of",
]
