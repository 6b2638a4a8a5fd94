"""A minimal GLB for the live view: positions, vertex colours, triangles, one *unlit* material.

The dashboard shades the head on the server (the face's SH light, :mod:`pydeca.viewer.head`), so
the browser must show the colours as they are: the material uses ``KHR_materials_unlit`` (three.js
maps it to ``MeshBasicMaterial``). glTF vertex colours are linear; the sRGB colours are converted
(IEC 61966-2-1) and stored as normalised uint16 so that dark tones keep their precision. The
triangle buffer of a mesh is packed once and reused (:class:`GlbPacker`).

This is a display format, not an export: files for users come from :mod:`pydeca.pipeline.writers`.
"""

from __future__ import annotations

import json
import struct

import numpy as np

__all__ = ["GlbPacker", "srgb_to_linear"]

_FLOAT, _UINT16, _UINT32 = 5126, 5123, 5125
_ARRAY_BUFFER, _ELEMENT_ARRAY_BUFFER = 34962, 34963
_GLB_MAGIC, _GLB_VERSION = 0x46546C67, 2
_JSON_CHUNK, _BIN_CHUNK = 0x4E4F534A, 0x004E4942


def srgb_to_linear(colors: np.ndarray) -> np.ndarray:
    """sRGB-encoded values in [0, 1] → linear light in [0, 1] (the standard's piecewise curve)."""
    colors = np.asarray(colors, dtype=np.float32)
    return np.where(colors <= 0.04045, colors / 12.92, ((colors + 0.055) / 1.055) ** 2.4).astype(np.float32)


def _pad(data: bytes, fill: bytes) -> bytes:
    return data + fill * (-len(data) % 4)


class GlbPacker:
    """Packs GLBs of one triangle set with changing positions and colours.

    Args:
        faces: (M, 3) int vertex indices (packed once, as uint32).
    """

    def __init__(self, faces: np.ndarray) -> None:
        self.faces = np.ascontiguousarray(faces, dtype=np.uint32)
        self._indices = self.faces.tobytes()
        self._index_count = int(self.faces.size)
        self._max_index = int(self.faces.max()) if self.faces.size else 0

    def pack(self, vertices: np.ndarray, colors: np.ndarray) -> bytes:
        """The GLB file of the mesh.

        Args:
            vertices: (N, 3) float positions, metres (glTF's +y up frame is FLAME's).
            colors: (N, 3) uint8 sRGB vertex colours.

        Returns:
            GLB bytes (glTF 2.0 binary container).
        """
        positions = np.ascontiguousarray(vertices, dtype=np.float32)
        count = len(positions)
        if positions.shape != (count, 3) or colors.shape != (count, 3) or self._max_index >= count:
            raise ValueError(
                f"GlbPacker: expected (N, 3) vertices and colours covering index {self._max_index}, "
                f"got {positions.shape} and {colors.shape}"
            )
        linear = srgb_to_linear(colors.astype(np.float32) / 255.0)
        rgba = np.zeros((count, 4), dtype=np.uint16)
        rgba[:, :3] = np.round(linear * 65535.0).astype(np.uint16)
        rgba[:, 3] = 65535
        blobs = [self._indices, positions.tobytes(), rgba.tobytes()]
        offsets, binary = [], b""
        for blob in blobs:
            offsets.append(len(binary))
            binary += _pad(blob, b"\x00")
        views = [
            {
                "buffer": 0,
                "byteOffset": offsets[0],
                "byteLength": len(blobs[0]),
                "target": _ELEMENT_ARRAY_BUFFER,
            },
            {"buffer": 0, "byteOffset": offsets[1], "byteLength": len(blobs[1]), "target": _ARRAY_BUFFER},
            {"buffer": 0, "byteOffset": offsets[2], "byteLength": len(blobs[2]), "target": _ARRAY_BUFFER},
        ]
        document = {
            "asset": {"version": "2.0", "generator": "pydeca viewer"},
            "extensionsUsed": ["KHR_materials_unlit"],
            "scene": 0,
            "scenes": [{"nodes": [0]}],
            "nodes": [{"mesh": 0, "name": "head"}],
            "meshes": [
                {"primitives": [{"attributes": {"POSITION": 1, "COLOR_0": 2}, "indices": 0, "material": 0}]}
            ],
            "materials": [
                {
                    "pbrMetallicRoughness": {
                        "baseColorFactor": [1, 1, 1, 1],
                        "metallicFactor": 0,
                        "roughnessFactor": 1,
                    },
                    "extensions": {"KHR_materials_unlit": {}},
                    "doubleSided": True,
                }
            ],
            "accessors": [
                {"bufferView": 0, "componentType": _UINT32, "count": self._index_count, "type": "SCALAR"},
                {
                    "bufferView": 1,
                    "componentType": _FLOAT,
                    "count": count,
                    "type": "VEC3",
                    "min": positions.min(axis=0).tolist() if count else [0, 0, 0],
                    "max": positions.max(axis=0).tolist() if count else [0, 0, 0],
                },
                {
                    "bufferView": 2,
                    "componentType": _UINT16,
                    "normalized": True,
                    "count": count,
                    "type": "VEC4",
                },
            ],
            "bufferViews": views,
            "buffers": [{"byteLength": len(binary)}],
        }
        text = _pad(json.dumps(document, separators=(",", ":")).encode(), b" ")
        total = 12 + 8 + len(text) + 8 + len(binary)
        return b"".join(
            [
                struct.pack("<III", _GLB_MAGIC, _GLB_VERSION, total),
                struct.pack("<II", len(text), _JSON_CHUNK),
                text,
                struct.pack("<II", len(binary), _BIN_CHUNK),
                binary,
            ]
        )
