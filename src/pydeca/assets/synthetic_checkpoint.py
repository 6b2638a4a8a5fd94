"""The deterministic test checkpoint: random but bit-reproducible weights for DECA's three networks.

Implements the rule of the fixtures' "Deterministic test checkpoint" (``shared/fixtures/README.md``
§2) exactly: every tensor is drawn from its own NumPy generator seeded with the CRC-32 of its full
name, scaled in float64 (He-style for conv/linear weights, near-identity BatchNorm, and a final
E_flame layer whose bias holds sane target codes: camera scale 9, slight jaw opening, ambient
light), then rounded to float32. With it DECA produces plausible codes on real photos, which makes
end-to-end runs and parity tests possible without the licensed weights. It is not a trained model.
"""

from __future__ import annotations

import hashlib
import math
import zlib
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from torch import Tensor

__all__ = ["MODULE_ORDER", "deterministic_checkpoint", "state_sha256"]

MODULE_ORDER = ("E_flame", "E_detail", "D_detail")
"""The checkpoint's modules, in the order the digest covers them."""

_FLAME_HEAD = "E_flame.layers.2"
_DETAIL_HEAD_WEIGHT = "E_detail.layers.2.weight"
_FLAME_HEAD_FACTOR = 1e-4
_DETAIL_HEAD_FACTOR = 1e-3

# Rows of E_flame's 236 outputs: (start, stop, scale, target per row or a constant).
_LIGHT_TARGET = [2.8] * 3 + [0.0] * 6 + [0.3] * 3 + [0.0] * 15
"""SH coefficient k × colour c at 3k + c: ambient 2.8 (k = 0) and 0.3 for k = 3, else 0."""
_FLAME_GROUPS: tuple[tuple[int, int, float, list[float]], ...] = (
    (0, 100, 1.4, [0.0] * 100),  # shape
    (100, 150, 1.5, [0.0] * 50),  # tex
    (150, 200, 0.8, [0.0] * 50),  # exp
    (200, 203, 0.15, [0.0] * 3),  # global pose
    (203, 206, 0.3, [0.08, 0.0, 0.0]),  # jaw pose
    (206, 207, 0.3, [9.0]),  # cam scale
    (207, 209, 0.05, [0.0, 0.0]),  # cam tx, ty
    (209, 236, 0.3, _LIGHT_TARGET),  # light
)


def _flame_head_rows() -> tuple[np.ndarray, np.ndarray]:
    """(236,) float64 row multipliers ``1e-4 · scale`` (product formed first) and (236,) targets."""
    multipliers = np.zeros(236, dtype=np.float64)
    targets = np.zeros(236, dtype=np.float64)
    for start, stop, scale, target in _FLAME_GROUPS:
        multipliers[start:stop] = _FLAME_HEAD_FACTOR * scale
        targets[start:stop] = target
    return multipliers, targets


def _manifest_layout(manifest: Mapping[str, Any] | None) -> dict[str, list[tuple[str, tuple[int, ...]]]]:
    """``module -> [(key, shape), ...]`` in state-dict order, from a manifest or the built modules."""
    if manifest is None:
        from pydeca.nets import build_networks  # noqa: PLC0415 - lazy: assets sit below nets

        networks = build_networks(device="meta")
        return {
            name: [(key, tuple(t.shape)) for key, t in networks[name].state_dict().items()]
            for name in MODULE_ORDER
        }
    state_dicts = manifest.get("state_dicts", manifest)
    return {
        name: [(key, tuple(int(s) for s in entry["shape"])) for key, entry in state_dicts[name].items()]
        for name in MODULE_ORDER
    }


def _value(
    module: str,
    key: str,
    shape: tuple[int, ...],
    bn_prefixes: set[str],
    seed_prefix: str,
) -> np.ndarray:
    """The float64 value of one non-counter tensor (README §2, rules 2–3, first match wins)."""
    full = f"{module}.{key}"
    if full == f"{_FLAME_HEAD}.bias":
        return _flame_head_rows()[1]
    seed = zlib.crc32((seed_prefix + full).encode("utf-8"))
    z = np.random.default_rng(seed).standard_normal(shape)
    prefix, _, leaf = key.rpartition(".")
    if full == f"{_FLAME_HEAD}.weight":
        z *= _flame_head_rows()[0][:, None]
    elif full == _DETAIL_HEAD_WEIGHT:
        z *= _DETAIL_HEAD_FACTOR
    elif leaf == "running_mean":
        z *= 0.1
    elif leaf == "running_var":
        np.abs(z, out=z)
        z *= 0.25
        z += 1.0
    elif leaf == "weight" and prefix in bn_prefixes:
        z *= 0.1
        z += 1.0
    elif leaf == "bias" and prefix in bn_prefixes:
        z *= 0.1
    elif leaf == "weight" and len(shape) >= 2:
        z *= math.sqrt(2.0 / math.prod(shape[1:]))
    elif leaf == "bias":
        z *= 0.01
    else:  # not produced by DECA's modules; the README has no rule for it
        raise ValueError(f"deterministic_checkpoint: no rule for {full} with shape {shape}")
    return z


def deterministic_checkpoint(
    manifest: Mapping[str, Any] | None = None, *, seed_prefix: str = ""
) -> dict[str, dict[str, Tensor]]:
    """Build the deterministic test checkpoint (fixtures README §2).

    Args:
        manifest: the parsed ``deca_model_manifest.json`` (or its ``state_dicts`` entry) giving every
            module's keys and shapes in order; ``None`` derives them from
            :func:`pydeca.nets.build_networks` (identical to the manifest, which tests check).
        seed_prefix: prepended to each tensor's full name before hashing it into a seed; ``""`` gives
            the reference checkpoint (sha256 ``c8b9f7cb…``), any other string a different but
            equally well-scaled set of weights (the demo asset pack). The E_flame head bias is the
            fixed target vector either way.

    Returns:
        ``{"E_flame": state_dict, "E_detail": state_dict, "D_detail": state_dict}``: float32 CPU
        tensors (int64 scalar 0 for ``num_batches_tracked``) in state-dict order, ready for
        ``torch.save`` or :func:`pydeca.assets.checkpoint.load_networks`.
    """
    layout = _manifest_layout(manifest)
    checkpoint: dict[str, dict[str, Tensor]] = {}
    for module in MODULE_ORDER:
        keys = [key for key, _ in layout[module]]
        bn_prefixes = {key.rpartition(".")[0] for key in keys if key.endswith(".running_mean")}
        state: dict[str, Tensor] = {}
        for key, shape in layout[module]:
            if key.endswith("num_batches_tracked"):
                state[key] = torch.zeros(shape, dtype=torch.int64)
                continue
            value = _value(module, key, shape, bn_prefixes, seed_prefix)
            state[key] = torch.from_numpy(value.astype(np.float32))
        checkpoint[module] = state
    return checkpoint


def state_sha256(checkpoint: Mapping[str, Mapping[str, Tensor]]) -> str:
    """Digest of a checkpoint's values, as defined in the fixtures README §2 (*Verification*).

    sha256 over the modules ``E_flame``, ``E_detail``, ``D_detail`` in that order and, inside each,
    its keys in the mapping's (state-dict) order, of the UTF-8 bytes of ``"<module>.<key>"``
    followed by the tensor's raw little-endian C-order bytes.

    Args:
        checkpoint: ``{module: {key: tensor}}`` as returned by :func:`deterministic_checkpoint` or
            :func:`pydeca.assets.checkpoint.load_checkpoint`.

    Returns:
        The hex digest (64 characters).
    """
    digest = hashlib.sha256()
    for module in MODULE_ORDER:
        for key, tensor in checkpoint[module].items():
            digest.update(f"{module}.{key}".encode())
            array = tensor.detach().cpu().contiguous().numpy()
            digest.update(np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("<")).tobytes())
    return digest.hexdigest()
