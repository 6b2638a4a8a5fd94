"""The dashboard's control panel: viser widgets for every dial, read and written as one value.

:class:`ControlPanel` builds the folders and sliders (:func:`ControlPanel.build`), reads them into a
:class:`~pydeca.viewer.controls.HeadControls` (:meth:`ControlPanel.read`) and writes one into them
(:meth:`ControlPanel.write`), widening a slider's range when a value lies outside it. It holds no
state of its own and calls nothing back: the dashboard attaches the callbacks.

Ranges (units of the controls): expression and shape coefficients −3…3 (step 0.01), jaw open
−5…40°, swing and twist ±20°, head yaw ±90°, pitch and roll ±60° (step 0.5°), light intensity 0–3,
light direction ±180° / ±90°, detail strength 0–2.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, cast

import numpy as np
import viser

from pydeca.constants import NUM_EXP, NUM_SHAPE

from .controls import HeadControls, TextureChoice

__all__ = ["SHOWN_EXPRESSIONS", "SHOWN_SHAPES", "ControlPanel"]

SHOWN_EXPRESSIONS = 10
"""Expression sliders in view; the other 40 are in a folded folder."""
SHOWN_SHAPES = 10
"""Identity sliders in view; the other 90 are in a folded folder."""

_CODE_RANGE = 3.0
_CODE_STEP = 0.01
_ANGLE_STEP = 0.5
_JAW_RANGES = (("open", -5.0, 40.0), ("swing", -20.0, 20.0), ("twist", -20.0, 20.0))
_HEAD_RANGES = (("yaw", -90.0, 90.0), ("pitch", -60.0, 60.0), ("roll", -60.0, 60.0))

Slider = Any
"""A viser slider handle (``GuiSliderHandle[float]``)."""


def _code_sliders(gui: viser.GuiApi, prefix: str, count: int, shown: int, more_label: str) -> list[Slider]:
    sliders = [
        gui.add_slider(f"{prefix} {i}", -_CODE_RANGE, _CODE_RANGE, _CODE_STEP, 0.0) for i in range(shown)
    ]
    with gui.add_folder(more_label, expand_by_default=False):
        sliders += [
            gui.add_slider(f"{prefix} {i}", -_CODE_RANGE, _CODE_RANGE, _CODE_STEP, 0.0)
            for i in range(shown, count)
        ]
    return sliders


def _set(slider: Slider, value: float) -> None:
    """Set a slider, widening its range to hold ``value`` (a reconstruction may exceed the default)."""
    value = float(round(value / slider.step) * slider.step)
    if value < slider.min:
        slider.min = float(np.floor(value))
    if value > slider.max:
        slider.max = float(np.ceil(value))
    slider.value = value


@dataclass
class ControlPanel:
    """Handles of every dashboard widget (built by :meth:`build` inside a viser server)."""

    face: Any
    """Dropdown of face names (hidden with one face)."""
    photo: Any
    """The input photo with its 2D landmarks."""
    status: Any
    """Markdown line for messages (upload errors, what was loaded)."""
    texture: Any
    detail: Any
    detail_strength: Slider
    expression: list[Slider]
    neutral: Any
    random_expression: Any
    preset: Any
    upload: Any
    jaw: list[Slider]
    head: list[Slider]
    shape: list[Slider]
    random_identity: Any
    light_intensity: Slider
    light_yaw: Slider
    light_pitch: Slider
    white_light: Any
    reset: Any
    downloads: dict[str, Any]

    @classmethod
    def build(
        cls,
        gui: viser.GuiApi,
        *,
        faces: list[str],
        photo: np.ndarray,
        textures: tuple[TextureChoice, ...],
        presets: list[str],
        has_detail: bool,
    ) -> ControlPanel:
        """Add every widget to ``gui`` (values are placeholders until :meth:`write`).

        Args:
            gui: the server's GUI API (widgets shared by every connected tab).
            faces: face names for the dropdown (at least one).
            photo: (H, W, 3) uint8 first photo with landmarks.
            textures: texture modes offered.
            presets: expression preset names (may be empty).
            has_detail: whether the first face has a detail code.
        """
        face = gui.add_dropdown("Face", faces, initial_value=faces[0], visible=len(faces) > 1)
        photo_handle = gui.add_image(photo, label="Input photo and landmarks")
        status = gui.add_markdown("")
        with gui.add_folder("View"):
            texture = gui.add_dropdown("Texture", textures, initial_value=textures[0])
            detail = gui.add_checkbox("Detail", initial_value=has_detail, disabled=not has_detail)
            strength = gui.add_slider("Detail strength", 0.0, 2.0, 0.05, 1.0, disabled=not has_detail)
            reset = gui.add_button("Reset to the reconstruction")
        with gui.add_folder("Expression"):
            neutral = gui.add_button("Neutral")
            random_expression = gui.add_button("Random expression")
            preset = gui.add_dropdown("Preset", ["—", *presets], initial_value="—")
            upload = gui.add_upload_button("Load expression (photo or .npz)", mime_type="image/*,.npz,.json")
            expression = _code_sliders(gui, "exp", NUM_EXP, SHOWN_EXPRESSIONS, "More expression (10–49)")
        with gui.add_folder("Jaw (degrees)"):
            jaw = [gui.add_slider(f"Jaw {name}", lo, hi, _ANGLE_STEP, 0.0) for name, lo, hi in _JAW_RANGES]
        with gui.add_folder("Head pose (degrees)"):
            head = [
                gui.add_slider(name.capitalize(), lo, hi, _ANGLE_STEP, 0.0) for name, lo, hi in _HEAD_RANGES
            ]
        with gui.add_folder("Shape", expand_by_default=False):
            random_identity = gui.add_button("Random identity")
            shape = _code_sliders(gui, "shape", NUM_SHAPE, SHOWN_SHAPES, "More shape (10–99)")
        with gui.add_folder("Lighting", expand_by_default=False):
            intensity = gui.add_slider("Intensity", 0.0, 3.0, 0.05, 1.0)
            light_yaw = gui.add_slider("Direction yaw", -180.0, 180.0, 1.0, 0.0)
            light_pitch = gui.add_slider("Direction pitch", -90.0, 90.0, 1.0, 0.0)
            white = gui.add_checkbox("White light", initial_value=False)
        with gui.add_folder("Download"):
            downloads = {
                "obj": gui.add_button("OBJ (zip: mesh, texture, detail)"),
                "glb": gui.add_button("GLB"),
                "npz": gui.add_button("Parameters (.npz)"),
            }
        return cls(
            face=face,
            photo=photo_handle,
            status=status,
            texture=texture,
            detail=detail,
            detail_strength=strength,
            expression=expression,
            neutral=neutral,
            random_expression=random_expression,
            preset=preset,
            upload=upload,
            jaw=jaw,
            head=head,
            shape=shape,
            random_identity=random_identity,
            light_intensity=intensity,
            light_yaw=light_yaw,
            light_pitch=light_pitch,
            white_light=white,
            reset=reset,
            downloads=downloads,
        )

    # ------------------------------------------------------------------ values
    def dials(self) -> list[Any]:
        """Every widget whose change re-poses the head."""
        return [
            *self.expression,
            *self.jaw,
            *self.head,
            *self.shape,
            self.light_intensity,
            self.light_yaw,
            self.light_pitch,
            self.white_light,
            self.texture,
            self.detail,
            self.detail_strength,
        ]

    def read(self, like: HeadControls) -> HeadControls:
        """The widgets' values as controls.

        A slider still showing ``like``'s value rounded to its step keeps ``like``'s exact value,
        so moving one dial after a reset does not snap the others to their slider steps.
        """

        def value(slider: Slider, exact: float) -> float:
            shown = float(slider.value)
            return float(exact) if abs(shown - float(exact)) <= 0.5 * slider.step + 1e-6 else shown

        def values(sliders: list[Slider], exact: np.ndarray) -> np.ndarray:
            return np.array([value(s, e) for s, e in zip(sliders, exact, strict=True)], dtype=np.float32)

        return replace(
            like,
            shape=values(self.shape, like.shape),
            exp=values(self.expression, like.exp),
            jaw=values(self.jaw, like.jaw),
            head=values(self.head, like.head),
            light_intensity=value(self.light_intensity, like.light_intensity),
            light_yaw=value(self.light_yaw, like.light_yaw),
            light_pitch=value(self.light_pitch, like.light_pitch),
            white_light=bool(self.white_light.value),
            detail=bool(self.detail.value),
            detail_strength=value(self.detail_strength, like.detail_strength),
            texture=cast(TextureChoice, self.texture.value),
        )

    def write(self, controls: HeadControls) -> None:
        """Show ``controls`` in the widgets (callbacks fire; the dashboard mutes them meanwhile)."""
        for sliders, values in (
            (self.shape, controls.shape),
            (self.expression, controls.exp),
            (self.jaw, controls.jaw),
            (self.head, controls.head),
        ):
            for slider, value in zip(sliders, values, strict=True):
                _set(slider, float(value))
        _set(self.light_intensity, controls.light_intensity)
        _set(self.light_yaw, controls.light_yaw)
        _set(self.light_pitch, controls.light_pitch)
        self.white_light.value = controls.white_light
        self.detail.value = controls.detail
        _set(self.detail_strength, controls.detail_strength)
        self.texture.value = controls.texture
