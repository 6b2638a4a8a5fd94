"""Face detection and DECA's square crop: detectors behind one protocol, landmark files, warps."""

from __future__ import annotations

from .base import (
    DETECTOR_NAMES,
    Face,
    FaceDetector,
    WholeImageDetector,
    detect_faces,
    get_detector,
    largest_face,
)
from .crop import box_from_face, crop_transform, square_from_box, uncrop_points, warp_crop
from .landmark_files import LandmarkFileDetector, find_landmark_file, read_landmarks68

__all__ = [
    "DETECTOR_NAMES",
    "Face",
    "FaceDetector",
    "LandmarkFileDetector",
    "WholeImageDetector",
    "box_from_face",
    "crop_transform",
    "detect_faces",
    "find_landmark_file",
    "get_detector",
    "largest_face",
    "read_landmarks68",
    "square_from_box",
    "uncrop_points",
    "warp_crop",
]
