"""Per-frame face tracking (``pydeca.apps.tracking``) on known landmark sequences.

Every test drives :class:`FaceTracker` frame by frame as ``run_video`` does: ``crop(frame)``, then
``update(landmarks predicted for that frame)``. The "network" is simulated with known landmarks,
and the detector is a stand-in that returns the true face of each frame and records which frames
it ran on. A frame is identified by the number stamped into its pixel (0, 0).
"""

from __future__ import annotations

import numpy as np
import pytest

from pydeca.apps.tracking import FaceTracker, TrackingOptions, crop_box, crop_iou
from pydeca.detect import Face, WholeImageDetector
from pydeca.detect.crop import crop_transform, square_from_box

HEIGHT, WIDTH = 240, 320
_RNG = np.random.default_rng(7)
TEMPLATE = np.vstack([[0.0, 0.0], [1.0, 1.0], _RNG.uniform(0.0, 1.0, (66, 2))])
"""68 points spanning the unit square (a stand-in for a face's landmarks)."""


def face_points(center: tuple[float, float], side: float) -> np.ndarray:
    """(68, 2) landmarks of a face whose landmark box is ``side`` wide, centred at ``center``."""
    return np.asarray(center) + (TEMPLATE - 0.5) * side


def kpt68_crop(points: np.ndarray) -> np.ndarray:
    """DECA's kpt68 crop T of a landmark set (what a perfect tracker uses)."""
    center, size = square_from_box(np.concatenate([points.min(0), points.max(0)]), "kpt68")
    return crop_transform(center, size)


def points_filling(tform: np.ndarray, shrink: float = 1.0) -> np.ndarray:
    """Landmarks a network would predict for a face filling the crop ``T`` (× ``shrink``).

    DECA always finds a face in its crop: with ``shrink = 1`` the next crop is this one again, so
    the crop stays put whatever the frame shows (a face that left or jumped is not noticed).
    """
    left, top, right, bottom = crop_box(tform)
    side = (right - left) / (1.1 * 1.25) * shrink
    return face_points(((left + right) / 2, (top + bottom) / 2), side)


class StampDetector:
    """Returns the known face of each frame (by its stamp) and records the frames it ran on."""

    name = "known"

    def __init__(self, truth: dict[int, np.ndarray | None], kind: str = "kpt68") -> None:
        self.truth, self.kind, self.frames = truth, kind, []

    def detect(self, rgb: np.ndarray) -> list[Face]:
        index = int(rgb[0, 0, 0])
        self.frames.append(index)
        pts = self.truth.get(index)
        if pts is None:
            return []
        box = np.concatenate([pts.min(0), pts.max(0)])
        if self.kind == "bbox":  # a box detector: no landmarks, DECA's bbox rule
            return [Face(box, 0.9)]
        return [Face(box, 1.0, pts, kind="kpt68")]


def frame(index: int) -> np.ndarray:
    image = np.zeros((HEIGHT, WIDTH, 3), np.uint8)
    image[0, 0, 0] = index
    return image


def run(tracker: FaceTracker, count: int, predict) -> list[np.ndarray | None]:
    """Track ``count`` frames; ``predict(t, tform)`` gives the landmarks 'DECA' predicts for frame t."""
    tforms = []
    for t in range(count):
        tform = tracker.crop(frame(t))
        tforms.append(None if tform is None else tform.copy())
        if tform is not None:
            tracker.update(predict(t, tform), (HEIGHT, WIDTH, 3))
    return tforms


FACE = face_points((150.0, 120.0), 80.0)


def test_crop_box_and_iou_hand_computed():
    # side 50 centred at (100, 80): T maps [75, 125] x [55, 105] onto the 224² crop
    np.testing.assert_allclose(crop_box(crop_transform([100.0, 80.0], 50.0)), [75, 55, 125, 105])
    a = crop_transform([0.0, 0.0], 10.0)
    assert crop_iou(a, a) == pytest.approx(1.0)
    # shifted by half a side: intersection 5·10 = 50, union 100 + 100 − 50 = 150
    assert crop_iou(a, crop_transform([5.0, 0.0], 10.0)) == pytest.approx(1 / 3)
    assert crop_iou(a, crop_transform([50.0, 0.0], 10.0)) == 0.0
    # same centre, half the side: 25 / 100
    assert crop_iou(a, crop_transform([0.0, 0.0], 5.0)) == pytest.approx(0.25)


def test_steady_face_is_detected_once_then_confirmed_periodically():
    detector = StampDetector(dict.fromkeys(range(60), FACE))
    tracker = FaceTracker(detector, TrackingOptions(redetect_every=0))
    tforms = run(tracker, 60, lambda t, tform: FACE)  # a perfect network: the true landmarks
    assert detector.frames == [0]
    assert (tracker.detections, tracker.tracks, tracker.losses) == (1, 1, 0)
    for tform in tforms:
        np.testing.assert_allclose(tform, kpt68_crop(FACE))  # the crop of the previous frame's landmarks
    # default options: a confirmation every 15 frames, which keeps the track
    detector = StampDetector(dict.fromkeys(range(60), FACE))
    tracker = FaceTracker(detector)
    run(tracker, 60, lambda t, tform: FACE)
    assert detector.frames == [0, 15, 30, 45]
    assert (tracker.tracks, tracker.losses) == (1, 0)


def test_each_frame_is_cropped_from_the_previous_frames_landmarks():
    # The face moves 3 px right per frame; frame t's crop comes from frame t − 1's landmarks.
    faces = {t: face_points((100.0 + 3 * t, 120.0), 80.0) for t in range(20)}
    detector = StampDetector(faces)
    tracker = FaceTracker(detector, TrackingOptions(redetect_every=0))
    tforms = run(tracker, 20, lambda t, tform: faces[t])
    assert detector.frames == [0]
    for t in range(1, 20):
        np.testing.assert_allclose(tforms[t], kpt68_crop(faces[t - 1]))


def test_face_leaving_is_caught_at_the_next_confirmation_then_redetected():
    # Present in frames 0–11, gone in 12–19, back elsewhere from frame 20.
    elsewhere = face_points((230.0, 110.0), 70.0)
    truth = dict.fromkeys(range(12), FACE) | dict.fromkeys(range(20, 40), elsewhere)
    detector = StampDetector(truth)
    tracker = FaceTracker(detector, TrackingOptions(redetect_every=5))
    tforms = run(tracker, 40, lambda t, tform: points_filling(tform))
    # confirmations at 5 and 10; at 15 no face → lost; a search on every frame until frame 20
    assert detector.frames == [0, 5, 10, 15, 16, 17, 18, 19, 20, 25, 30, 35]
    tracked = [t for t, tform in enumerate(tforms) if tform is not None]
    # frames 12–14 are still "tracked" (DECA sees a face in any crop): the loss shows within
    # redetect_every frames, not sooner
    assert tracked == [*range(15), *range(20, 40)]
    np.testing.assert_allclose(tforms[20], kpt68_crop(elsewhere))
    assert (tracker.detections, tracker.tracks, tracker.losses) == (12, 2, 1)


def test_jump_fails_the_iou_check_and_restarts_the_track():
    jumped = face_points((240.0, 130.0), 80.0)
    truth = {t: FACE if t < 7 else jumped for t in range(20)}
    detector = StampDetector(truth)
    tracker = FaceTracker(detector, TrackingOptions(redetect_every=5))
    tforms = run(tracker, 20, lambda t, tform: points_filling(tform))
    assert detector.frames == [0, 5, 10, 15]
    assert crop_iou(tforms[9], kpt68_crop(jumped)) < 0.5  # still on the old place until frame 10
    np.testing.assert_allclose(tforms[10], kpt68_crop(jumped))  # restarted from the detection
    assert (tracker.tracks, tracker.losses) == (2, 1)
    assert tracker.started is False  # frame 19 continued the track


def test_shrinking_crop_is_caught_by_the_drift_rule():
    """The audit's failure (crop 272 → 81 px): a network that sees the face 10% smaller each frame."""
    detector = StampDetector(dict.fromkeys(range(40), FACE))
    options = TrackingOptions(redetect_every=0)
    tracker = FaceTracker(detector, options)
    tforms = run(tracker, 40, lambda t, tform: points_filling(tform, shrink=0.9))
    sides = np.array([223.0 / t[0, 0] for t in tforms])
    # int(80 · 1.375) = 110 px, then 0.9× per frame: 99, 89, 80; the next would be 72, and
    # 110 / 72 > max_drift = 1.5, so frame 4 is confirmed: IoU (72/110)² ≈ 0.43 < 0.5 → restart
    np.testing.assert_allclose(sides[:8], [110, 99, 89, 80, 110, 99, 89, 80], atol=0.5)
    assert detector.frames == list(range(0, 40, 4))
    assert sides.min() >= sides[0] / (options.max_drift * options.max_step)
    assert tracker.tracks == len(detector.frames)  # each confirmation found the crop drifted
    assert tracker.losses == tracker.tracks - 1
    restarted = [t for t in detector.frames if t > 0]
    for t in restarted:
        np.testing.assert_allclose(tforms[t], kpt68_crop(FACE))


def test_box_detector_confirms_a_good_track_without_moving_the_crop():
    detector = StampDetector(dict.fromkeys(range(12), FACE), kind="bbox")
    tracker = FaceTracker(detector, TrackingOptions(redetect_every=4))
    tforms = run(tracker, 12, lambda t, tform: FACE)
    assert detector.frames == [0, 4, 8]
    assert tracker.tracks == 1
    # frame 0: DECA's bbox crop; later: the landmark crop, kept through confirmations
    assert crop_iou(tforms[0], kpt68_crop(FACE)) > 0.5
    for t in range(1, 12):
        np.testing.assert_allclose(tforms[t], kpt68_crop(FACE))


@pytest.mark.parametrize(
    "bad",
    [np.full((68, 2), np.nan), face_points((-200.0, 120.0), 80.0), face_points((150.0, 120.0), 2.0)],
    ids=["nan", "outside", "tiny"],
)
def test_implausible_landmarks_lose_the_track(bad):
    detector = StampDetector(dict.fromkeys(range(6), FACE))
    tracker = FaceTracker(detector, TrackingOptions(redetect_every=0))
    tforms = run(tracker, 6, lambda t, tform: bad if t == 2 else FACE)
    assert detector.frames == [0, 3]  # frame 3 detects again
    assert all(t is not None for t in tforms)
    assert (tracker.tracks, tracker.losses) == (2, 1)


def test_whole_image_detector_fixes_the_crop():
    tracker = FaceTracker(WholeImageDetector())
    tforms = run(tracker, 40, lambda t, tform: points_filling(tform, shrink=0.5))
    assert (tracker.detections, tracker.tracks, tracker.losses) == (1, 1, 0)
    for tform in tforms:
        np.testing.assert_array_equal(tform, tforms[0])


def test_options_are_checked():
    with pytest.raises(ValueError, match="redetect_every"):
        TrackingOptions(redetect_every=-1)
    with pytest.raises(ValueError, match="min_iou"):
        TrackingOptions(min_iou=0.0)
    with pytest.raises(ValueError, match="max_step"):
        TrackingOptions(max_step=0.9)
