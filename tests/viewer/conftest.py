"""Shared fixtures of the dashboard tests: one reconstructed demo face."""

from __future__ import annotations

import pytest

from paths import SHARED

PHOTO = SHARED / "images" / "examples" / "IMG_0392_inputs.jpg"
"""A real photo the demo pack's detector finds a face in."""


@pytest.fixture(scope="session")
def demo_face(demo_model):
    """The largest face of :data:`PHOTO`, reconstructed with the demo pack (CPU)."""
    import pydeca

    return pydeca.reconstruct(demo_model, PHOTO)
