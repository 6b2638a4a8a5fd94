"""Frame-to-frame face tracking for ``deca video``: detect once, crop each frame from the previous one.

For every frame t, :meth:`FaceTracker.crop` gives the crop ``T`` (photo pixel → crop pixel) and,
once DECA has encoded that crop, :meth:`FaceTracker.update` receives the 68 landmarks it predicted
for frame t (photo pixels), from which the crop of frame t + 1 is made:

1. **No track** → the detector runs on frame t; the largest face starts a track with its DECA crop.
   No face → frame t is untracked and the next frame is detected again.
2. **Track** → the crop of frame t is DECA's ``kpt68`` rule (:func:`~pydeca.detect.crop.square_from_box`)
   on the landmarks predicted for frame t − 1.
3. **Confirmation.** DECA always places a face inside the crop it is given, so a crop that slides off
   the face (or a face that leaves the picture) is invisible to the encoder; only the detector can
   tell. It runs again on frame t every ``redetect_every`` frames of a track, and on the frame after
   a suspicious step (rule 4). The tracked crop is compared with the crop of the detected face that
   overlaps it most:

   - no face at all → the track is **lost**: frame t is untracked, the next frame detects again;
   - IoU(tracked crop, detector crop) < ``min_iou`` → the track is **lost** and restarts on frame t
     from the detection;
   - otherwise the track is confirmed: the tracked crop is kept (no jump) and the detector's crop
     size becomes the reference size of rule 4.
4. **Sanity of each step** (:meth:`FaceTracker.update`): non-finite landmarks, fewer than half of
   them inside the frame, or a crop under :data:`MIN_CROP_PX` pixels → lost (the next frame
   detects). A crop whose side changed by more than ``max_step``× since the previous frame, left
   [1 / ``max_drift``, ``max_drift``]× the reference size, or whose centre moved by more than
   ``max_shift`` crop sides → suspicious: the next frame is confirmed (rule 3).

A detector without landmarks that returns the whole image (``--detector none``) fixes the crop to
the whole frame for the clip: no tracking, no re-detection.

Cost: one detector run per ``redetect_every`` frames of a steady track (plus one per frame while no
face is found); everything else is a few small numpy operations per frame.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pydeca.constants import CROP_SIZE
from pydeca.detect import Face, FaceDetector, detect_faces
from pydeca.detect.crop import crop_transform, face_transform, square_from_box

__all__ = ["MIN_CROP_PX", "FaceTracker", "TrackingOptions", "crop_box", "crop_iou"]

MIN_CROP_PX = 8.0
"""Smallest crop side (photo pixels) a track may shrink to before it counts as lost."""


@dataclass(frozen=True)
class TrackingOptions:
    """When :class:`FaceTracker` runs the detector (see the module docstring, rules 3–4)."""

    redetect_every: int = 15
    """Frames between confirmation detections of a steady track (0: only after a suspicious step)."""
    min_iou: float = 0.5
    """Smallest IoU of the tracked crop with the detector's crop for the track to be kept."""
    max_step: float = 1.25
    """Largest crop-side ratio between consecutive frames before a confirmation."""
    max_drift: float = 1.5
    """Largest crop-side ratio to the last detector crop before a confirmation."""
    max_shift: float = 0.25
    """Largest crop-centre move between consecutive frames, in crop sides, before a confirmation."""

    def __post_init__(self) -> None:
        if self.redetect_every < 0 or not 0.0 < self.min_iou <= 1.0:
            raise ValueError(
                f"TrackingOptions: need redetect_every >= 0 and 0 < min_iou <= 1, got "
                f"redetect_every={self.redetect_every}, min_iou={self.min_iou}"
            )
        if self.max_step < 1.0 or self.max_drift < 1.0 or self.max_shift <= 0.0:
            raise ValueError(
                f"TrackingOptions: need max_step, max_drift >= 1 and max_shift > 0, got "
                f"max_step={self.max_step}, max_drift={self.max_drift}, max_shift={self.max_shift}"
            )


def crop_box(tform: np.ndarray, crop_size: int = CROP_SIZE) -> np.ndarray:
    """(4,) ``[left, top, right, bottom]`` photo pixels covered by the crop of ``T`` (its bounding box).

    Example:
        >>> crop_box(crop_transform([100.0, 80.0], 50.0)).round(6).tolist()
        [75.0, 55.0, 125.0, 105.0]
    """
    inv = np.linalg.inv(np.asarray(tform, dtype=np.float64))
    last = crop_size - 1.0
    corners = np.array([[0.0, 0.0, 1.0], [last, 0.0, 1.0], [0.0, last, 1.0], [last, last, 1.0]])
    pts = corners @ inv.T
    return np.concatenate([pts[:, :2].min(axis=0), pts[:, :2].max(axis=0)])


def crop_iou(tform_a: np.ndarray, tform_b: np.ndarray, crop_size: int = CROP_SIZE) -> float:
    """Intersection over union of the photo regions of two crops (their bounding boxes).

    Example:
        >>> round(crop_iou(crop_transform([0.0, 0.0], 10.0), crop_transform([5.0, 0.0], 10.0)), 4)
        0.3333
    """
    a, b = crop_box(tform_a, crop_size), crop_box(tform_b, crop_size)
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = w * h
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return float(inter / union) if union > 0 else 0.0


def _side(tform: np.ndarray, crop_size: int = CROP_SIZE) -> float:
    """Side of the crop of ``T`` in photo pixels."""
    return float((crop_size - 1) / np.hypot(tform[0, 0], tform[1, 0]))


class FaceTracker:
    """Per-frame crops of one face through a video (rules in the module docstring).

    Args:
        detector: a :class:`~pydeca.detect.FaceDetector`.
        options: when to re-detect (:class:`TrackingOptions`).

    Attributes:
        detections: detector runs so far (first detection, confirmations, searches while lost).
        tracks: tracks started (1 + restarts after a loss).
        losses: tracks ended (by a confirmation or a failed sanity check).
        started: the last :meth:`crop` started a new track (the motion history should restart).

    Example:
        >>> tracker = FaceTracker(detector)  # doctest: +SKIP
        >>> for frame in frames:  # doctest: +SKIP
        ...     tform = tracker.crop(frame)  # None: no face in this frame
        ...     if tform is not None:
        ...         tracker.update(predicted_landmarks(frame, tform), frame.shape)
    """

    def __init__(self, detector: FaceDetector, options: TrackingOptions | None = None) -> None:
        self.detector = detector
        self.options = options or TrackingOptions()
        self.detections = self.tracks = self.losses = 0
        self.started = False
        self.tform: np.ndarray | None = None
        """Crop of the next frame, or None when there is no track."""
        self._fixed = False
        self._center = np.zeros(2)
        self._size = self._reference = 0.0
        self._since_detection = 0
        self._confirm = False

    # ------------------------------------------------------------------ per frame
    def crop(self, frame: np.ndarray) -> np.ndarray | None:
        """(3, 3) photo → crop ``T`` for ``frame`` ((H, W, 3) uint8), or None when it has no face."""
        self.started = False
        if self.tform is not None and (self._fixed or not self._detection_due()):
            self._since_detection += 1
            return self.tform
        faces = detect_faces(self.detector, frame)
        self.detections += 1
        self._since_detection, self._confirm = 1, False
        if not faces:
            if self.tform is not None:
                self.losses += 1
            self.tform = None
            return None
        if self.tform is None:
            self._start(faces[0], frame.shape)
            return self.tform
        candidates = [face_transform(face, frame.shape, crop_size=CROP_SIZE) for face in faces]
        overlaps = [crop_iou(self.tform, t) for t in candidates]
        best = int(np.argmax(overlaps))
        if overlaps[best] >= self.options.min_iou:
            self._reference = _side(candidates[best])
            return self.tform
        self.losses += 1
        self._start(faces[best] if overlaps[best] > 0.0 else faces[0], frame.shape)
        return self.tform

    def update(self, landmarks_px: np.ndarray, frame_shape: tuple[int, ...]) -> None:
        """Next frame's crop from the (68, 2) landmarks (photo pixels) predicted for this frame."""
        if self.tform is None or self._fixed:
            return
        pts = np.asarray(landmarks_px, dtype=np.float64)
        height, width = frame_shape[:2]
        if not np.isfinite(pts).all():
            self.lose()
            return
        inside = (pts[:, 0] >= 0) & (pts[:, 0] < width) & (pts[:, 1] >= 0) & (pts[:, 1] < height)
        center, size = square_from_box(np.concatenate([pts.min(axis=0), pts.max(axis=0)]), "kpt68")
        if inside.mean() < 0.5 or size < MIN_CROP_PX:
            self.lose()
            return
        opt = self.options
        step = max(size / self._size, self._size / size)
        drift = max(size / self._reference, self._reference / size)
        shift = float(np.hypot(*(center - self._center))) / self._size
        if step > opt.max_step or drift > opt.max_drift or shift > opt.max_shift:
            self._confirm = True
        self.tform = crop_transform(center, size, CROP_SIZE)
        self._center, self._size = center, size

    def lose(self) -> None:
        """End the track (the next :meth:`crop` detects again)."""
        if self.tform is not None and not self._fixed:
            self.losses += 1
            self.tform = None

    # ------------------------------------------------------------------ helpers
    def _detection_due(self) -> bool:
        every = self.options.redetect_every
        return self._confirm or (every > 0 and self._since_detection >= every)

    def _start(self, face: Face, shape: tuple[int, ...]) -> None:
        self.tform = face_transform(face, shape, crop_size=CROP_SIZE)
        self._fixed = face.landmarks68 is None and face.kind == "image"
        self._size = self._reference = _side(self.tform)
        inv = np.linalg.inv(self.tform)
        half = (CROP_SIZE - 1) / 2.0
        self._center = inv[:2, :2] @ np.array([half, half]) + inv[:2, 2]
        self.tracks += 1
        self.started = True
