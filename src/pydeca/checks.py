"""Shape checks for public functions, with named dimensions bound across arguments.

``check_shapes(points=(points, "B N 3"), cam=(cam, "B 3"))`` verifies each tensor's rank and its
literal sizes, binds every named dimension (``B``, ``N``) at its first appearance and requires later
appearances to agree, and raises :class:`~pydeca.errors.ShapeError` with a message such as
``cam: expected (B=2, 3) as in points, got (1, 3)``. ``*`` matches any single size and ``...``
any number of leading dimensions.
"""

from __future__ import annotations

from typing import Any

from .errors import ShapeError

__all__ = ["check_shapes"]


def _describe(spec: list[str], bound: dict[str, int]) -> str:
    parts = [f"{tok}={bound[tok]}" if tok in bound else tok for tok in spec]
    return "(" + ", ".join(parts) + ")"


def check_shapes(**named: tuple[Any, str]) -> dict[str, int]:
    """Check tensor shapes against specs such as ``"B V 3"``; return the bound named sizes.

    Args:
        **named: ``name=(tensor, spec)``. The spec is a space-separated list of dimension tokens:
            an integer (exact size), a name (bound at first use, then enforced), ``*`` (any size) or
            a leading ``...`` (any number of leading dimensions). Tensors may be anything with a
            ``shape`` attribute (torch tensors, numpy arrays).

    Returns:
        The sizes bound to each named dimension, e.g. ``{"B": 2, "N": 68}``.

    Raises:
        ShapeError: on a rank mismatch, a literal size mismatch or a named size that disagrees with
            its first binding.

    Example:
        >>> import torch
        >>> check_shapes(x=(torch.zeros(2, 5, 3), "B N 3"), cam=(torch.zeros(2, 3), "B 3"))
        {'B': 2, 'N': 5}
    """
    bound: dict[str, int] = {}
    bound_by: dict[str, str] = {}
    for arg_name, (value, spec_text) in named.items():
        spec = spec_text.split()
        shape = tuple(getattr(value, "shape", ()))
        ellipsis = bool(spec) and spec[0] == "..."
        dims = spec[1:] if ellipsis else spec
        if (ellipsis and len(shape) < len(dims)) or (not ellipsis and len(shape) != len(dims)):
            raise ShapeError(f"{arg_name}: expected {_describe(spec, bound)}, got {shape}")
        actual = shape[len(shape) - len(dims) :]
        for token, size in zip(dims, actual, strict=True):
            if token == "*":  # noqa: S105 - a shape token, not a password
                continue
            if token.lstrip("-").isdigit():
                if size != int(token):
                    raise ShapeError(f"{arg_name}: expected {_describe(spec, bound)}, got {shape}")
            elif token in bound:
                if size != bound[token]:
                    raise ShapeError(
                        f"{arg_name}: expected {_describe(spec, bound)} as in {bound_by[token]}, got {shape}"
                    )
            else:
                bound[token] = int(size)
                bound_by[token] = arg_name
    return bound
