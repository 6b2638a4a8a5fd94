"""The photo pipeline as a library: photos → faces → batched inference → files.

Between the model (:mod:`pydeca.model`) and the applications (:mod:`pydeca.apps`):

* :mod:`~pydeca.pipeline.faces` — detect and crop the faces of a photo (:func:`prepare_faces`);
  :class:`FaceResult`, a reconstructed face as plain data; its landmarks in photo pixels.
* :mod:`~pydeca.pipeline.batch` — encode and decode prepared faces in one batch
  (:func:`reconstruct_batch`).
* :mod:`~pydeca.pipeline.writers` — every output file of a face, written all or nothing
  (:func:`save_face`, :class:`OutputOptions`).
* :mod:`~pydeca.pipeline.sources` — faces and expression codes from photos or saved parameter
  files (:func:`load_face`, :func:`load_expressions`).
* :mod:`~pydeca.pipeline.api` — the public entry points :func:`reconstruct`,
  :func:`reconstruct_all`, :func:`save`, :func:`to_trimesh`.

Nothing here prints, exits or reads ``sys.argv``.
"""

from __future__ import annotations

from .api import ImageInput, reconstruct, reconstruct_all, save, to_trimesh
from .batch import reconstruct_batch
from .faces import FaceResult, PreparedFace, landmarks_in_photo, prepare_faces
from .sources import load_expressions, load_face
from .writers import OutputOptions, parameter_arrays, parameter_meta, save_face

__all__ = [
    "FaceResult",
    "ImageInput",
    "OutputOptions",
    "PreparedFace",
    "landmarks_in_photo",
    "load_expressions",
    "load_face",
    "parameter_arrays",
    "parameter_meta",
    "prepare_faces",
    "reconstruct",
    "reconstruct_all",
    "reconstruct_batch",
    "save",
    "save_face",
    "to_trimesh",
]
