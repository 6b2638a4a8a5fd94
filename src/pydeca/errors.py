"""Exception types of pydeca.

Every error derives from a built-in type users already catch (``ValueError``, ``FileNotFoundError``,
...), so ``except ValueError`` keeps working, and from :class:`PydecaError`, so callers can catch
everything pydeca raises in one clause.
"""

from __future__ import annotations

import pickle


class PydecaError(Exception):
    """Base class of every error raised on purpose by pydeca."""


class ShapeError(PydecaError, ValueError):
    """A tensor argument does not have the documented shape."""


class AssetError(PydecaError):
    """An asset (FLAME model, checkpoint, data file) is missing or unusable."""


class AssetNotFoundError(AssetError, FileNotFoundError):
    """A required asset file does not exist; the message says how to get it."""


class AssetFormatError(AssetError, ValueError):
    """An asset file exists but is not in the expected format; the message says what was found."""


class UnsafePickleError(AssetError, pickle.UnpicklingError):
    """A pickle references a global outside pydeca's allow-list; nothing of it was executed."""


class CheckpointError(AssetError, ValueError):
    """A checkpoint cannot be loaded: wrong file type, truncated, or keys/shapes that do not match."""


class InputError(PydecaError, ValueError):
    """A user input (image, video, parameter file) cannot be used; the message names the file."""


class NoFaceError(InputError):
    """No face was found in an input image."""


class OptionError(PydecaError, ValueError):
    """An option has an invalid or unavailable value (unknown detector, a device that is not there)."""


class MissingDependencyError(PydecaError, ImportError):
    """An optional dependency a chosen feature needs is not installed; the message says what to install."""


class OutputError(PydecaError, OSError):
    """An output location cannot be used (a file where a folder is needed, read-only, full)."""


class RunInterrupted(KeyboardInterrupt):
    """Ctrl-C during a run; the message says what finished and how to resume (the CLI prints it).

    A :class:`KeyboardInterrupt`, so code that stops on Ctrl-C still does; not a
    :class:`PydecaError`, so ``except PydecaError`` never swallows the user's interrupt.
    """
