"""The files of one ``deca video`` run, all or nothing: the MP4, the parameter file, the meshes.

Names (:func:`~pydeca.io.output_names.video_files`): ``OUT/<name>_deca.mp4``,
``OUT/<name>_params.npz`` and ``OUT/<name>_meshes/<name>_frame<k:06d>.obj``. While the video runs,
the MP4 is written to a temporary file (:class:`~pydeca.io.video_writer.VideoWriter`), the parameter
rows stay in memory (:class:`~pydeca.io.params.ParameterTable`) and the meshes go to a staging
folder. :meth:`VideoOutputs.commit` puts them in place once the whole video is done;
:meth:`VideoOutputs.discard` removes every one of them after a failure or Ctrl-C.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path

import numpy as np
import torch

from pydeca.geometry.topology import Topology
from pydeca.io.mesh import write_obj
from pydeca.io.output_names import frame_name, staging_dir, video_files
from pydeca.io.params import ParameterTable
from pydeca.io.video_writer import VideoWriter
from pydeca.nets import Codes
from pydeca.render.visualize import add_banner

__all__ = ["VideoOutputs"]


class VideoOutputs:
    """The outputs of one video named ``name`` in ``out_dir``, written frame by frame.

    Args:
        out_dir: the output folder (exists).
        name: the video's output name (a safe stem, claimed in ``out_dir``).
        rate: frames per second of the output video.
        source: the input video (its audio is copied).
        topology: faces and UV layout of the meshes.
        demo: demo assets: a banner on every frame and a note in every mesh.
    """

    def __init__(
        self, out_dir: Path, name: str, rate: float, *, source: Path, topology: Topology, demo: bool
    ) -> None:
        self.name, self.rate, self.topology, self.demo = name, rate, topology, demo
        files = video_files(name)
        self.writer = VideoWriter(out_dir / files["video"], rate, audio_from=source)
        self.params = ParameterTable()
        self.params_path = out_dir / files["params"]
        self.mesh_dir = out_dir / files["meshes"]
        self.mesh_stage = staging_dir(out_dir, files["meshes"])
        """Meshes are written here and renamed to ``mesh_dir`` by :meth:`commit`."""
        self.meshes = 0
        self.written: list[str] = []
        """Finished outputs, in order: the MP4, the parameter file, the meshes folder."""

    def add_frame(self, panels: list[np.ndarray]) -> None:
        """Append one output frame: the (h, w, 3) uint8 panels side by side (banner on demo assets)."""
        frame = np.concatenate(panels, axis=1)
        self.writer.write(add_banner(frame) if self.demo else frame)

    def add_mesh(self, index: int, vertices: torch.Tensor) -> None:
        """Stage ``<name>_frame<index:06d>.obj``: (V, 3) world vertices with the FLAME UV layout."""
        topo = self.topology
        write_obj(
            self.mesh_stage / f"{frame_name(self.name, index)}.obj",
            vertices,
            topo.faces,
            uvcoords=topo.uvcoords,
            uvfaces=topo.uvfaces,
            header="pydeca video frame" + (" - DEMO assets, not a real reconstruction" if self.demo else ""),
        )
        self.meshes += 1

    def close_video(self) -> None:
        """Finish the MP4 (moved into place; listed in :attr:`written`)."""
        self.written.append(str(self.writer.close()))

    def commit(self, identity: Codes) -> None:
        """After :meth:`close_video`: write the parameter file, then move the meshes folder into place.

        Args:
            identity: B = 1 codes whose ``shape``, ``tex`` and ``detail`` are the clip's identity,
                repeated on every row of the parameter file.
        """
        codes = identity.to_numpy()
        per_clip = {key: value[0] for key, value in codes.items() if key in ("shape", "tex", "detail")}
        extra = {"fps": np.float64(self.rate), "is_demo": np.bool_(self.demo)}
        self.written.append(str(self.params.save(self.params_path, per_clip, extra)))
        if self.meshes:
            if os.path.lexists(self.mesh_dir):
                shutil.rmtree(self.mesh_dir)  # this video's own meshes of an earlier run
            os.rename(self.mesh_stage, self.mesh_dir)
            self.written.append(str(self.mesh_dir))

    def discard(self) -> None:
        """Remove what a failed or interrupted run wrote: the MP4 under way, staged meshes, finished files."""
        self.writer.abort()
        shutil.rmtree(self.mesh_stage, ignore_errors=True)
        for written in self.written:
            with contextlib.suppress(OSError):
                Path(written).unlink()
        self.written.clear()
