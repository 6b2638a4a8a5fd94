"""`deca fetch` on the command line against a local HTTP server (tests/asset_server.py; no network).

The official hosts are replaced the way a user replaces them with a mirror: the environment
variables PYDECA_DATA_URL / PYDECA_DECA_URL / PYDECA_FLAME_URL, or `--mirror URL`.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from asset_server import HTML_PAGE, PASSWORD, USER, flame_zip, serve, tiny_deca_checkpoint
from pydeca.assets import fetch as F
from pydeca.assets import integrity
from pydeca.cli import main


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch, topology_dir: Path):
    """The local server holding DECA's data files; every PYDECA_* source points at it."""
    with serve() as (url, state):
        for remote in F.DATA_FILES:
            state["files"][remote.name] = (topology_dir / remote.name).read_bytes()
        monkeypatch.setenv("PYDECA_DATA_URL", f"{url}/files/")
        monkeypatch.setenv("PYDECA_DECA_URL", f"{url}/files/deca_model.tar")
        monkeypatch.setenv("PYDECA_FLAME_URL", f"{url}/flame")
        monkeypatch.delenv("PYDECA_MIRROR", raising=False)
        yield url, state


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_fetch_data_success_then_nothing_to_do(server, tmp_path: Path, capsys) -> None:
    _, state = server
    assert main(["fetch", "data", "--assets", str(tmp_path), "--quiet"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out == [
        f"downloaded {tmp_path / r.name} (sha256 matches DECA's published file)" for r in F.DATA_FILES
    ]
    for remote in F.DATA_FILES:
        assert F.sha256_file(tmp_path / remote.name) == remote.sha256
    assert sorted(integrity.read_manifest(tmp_path)) == sorted(r.name for r in F.DATA_FILES)
    assert {entry[1] for entry in state["log"]} == {f"/files/{r.name}" for r in F.DATA_FILES}

    state["log"].clear()
    assert main(["fetch", "data", "--assets", str(tmp_path), "--quiet"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        f"already present {tmp_path / r.name}" for r in F.DATA_FILES
    ]
    assert state["log"] == []


def test_fetch_data_resumes_after_interruption(server, tmp_path: Path, capsys) -> None:
    url, state = server
    name = "fixed_displacement_256.npy"  # the third file, 524,416 bytes
    state["drop_once"].add(name)
    assert main(["fetch", "data", "--assets", str(tmp_path), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"deca: error: download of {url}/files/{name} broke off")
    assert "run the command again to resume" in err
    part = tmp_path / f"{name}.part"
    half = len(state["files"][name]) // 2
    assert part.stat().st_size == half
    assert not (tmp_path / name).exists()

    assert main(["fetch", "data", "--assets", str(tmp_path), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert ("GET", f"/files/{name}", f"bytes={half}-") in state["log"]
    assert f"downloaded {tmp_path / name} (sha256" in out
    assert f"already present {tmp_path / 'head_template.obj'}" in out  # done before the break
    assert F.sha256_file(tmp_path / name) == F.DATA_FILES[2].sha256
    assert not part.exists()


def test_fetch_data_wrong_checksum(server, tmp_path: Path, capsys) -> None:
    url, state = server
    good = state["files"]["mean_texture.jpg"]
    bad = good[:-1] + bytes([good[-1] ^ 0xFF])  # same size, one byte flipped
    state["files"]["mean_texture.jpg"] = bad
    assert main(["fetch", "data", "--assets", str(tmp_path), "--quiet"]) == 2
    err = capsys.readouterr().err
    dest = tmp_path / "mean_texture.jpg"
    expected = F.DATA_FILES[3].sha256
    assert (
        f"checksum mismatch for {dest} from {url}/files/mean_texture.jpg: expected sha256 {expected}, "
        f"got {_sha(bad)}" in err
    )
    assert "the download was deleted: retry" in err
    assert not dest.exists()
    assert not (tmp_path / "mean_texture.jpg.part").exists()


def test_fetch_deca_html_page_instead_of_checkpoint(
    server, tmp_path: Path, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    url, _ = server
    monkeypatch.setenv("PYDECA_DECA_URL", f"{url}/html")
    assert main(["fetch", "deca", "--assets", str(tmp_path), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert f"deca: error: {url}/html returned an HTML page, not the DECA checkpoint" in err
    assert F.DECA_MANUAL_URL in err
    assert f"put it at {tmp_path / 'deca_model.tar'}" in err
    assert list(tmp_path.iterdir()) == []

    # the same page served as application/octet-stream is caught by its first bytes
    monkeypatch.setenv("PYDECA_DECA_URL", f"{url}/html-as-binary")
    assert main(["fetch", "deca", "--assets", str(tmp_path), "--quiet"]) == 2
    assert "returned an HTML page" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_fetch_deca_from_mirror_option(
    server, tmp_path: Path, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    url, state = server
    monkeypatch.setattr(integrity, "MIN_CHECKPOINT_BYTES", 0)  # the test checkpoint is 0.2 MB
    monkeypatch.delenv("PYDECA_DECA_URL")
    data = tiny_deca_checkpoint()
    state["files"]["deca_model.tar"] = data
    status = main(
        ["fetch", "deca", "--assets", str(tmp_path), "--mirror", f"{url}/files", "--quiet", "--json"]
    )
    assert status == 0
    report = json.loads(capsys.readouterr().out)
    dest = str(tmp_path / "deca_model.tar")
    assert report["downloaded"] == [dest]
    assert report["checks"][dest] == "loads strictly into DECA's networks (53,466,077 numbers)"
    assert (tmp_path / "deca_model.tar").read_bytes() == data
    assert integrity.read_manifest(tmp_path)["deca_model.tar"]["url"] == f"{url}/files/deca_model.tar"


def test_fetch_deca_too_small_is_refused(server, tmp_path: Path, capsys) -> None:
    _, state = server
    state["files"]["deca_model.tar"] = tiny_deca_checkpoint()
    assert main(["fetch", "deca", "--assets", str(tmp_path), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "too small to be DECA's checkpoint" in err
    assert F.DECA_MANUAL_URL in err
    assert list(tmp_path.iterdir()) == []


def test_fetch_flame_with_account_from_environment(
    server, tmp_path: Path, capsys, monkeypatch: pytest.MonkeyPatch, fixtures_dir: Path
) -> None:
    _, state = server
    model = (fixtures_dir / "flame2020_synthetic_chumpy.pkl").read_bytes()
    state["flame_zip"] = flame_zip(model)
    monkeypatch.setenv("FLAME_USERNAME", USER)
    monkeypatch.setenv("FLAME_PASSWORD", PASSWORD)
    assert main(["fetch", "flame", "--assets", str(tmp_path), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"downloaded {tmp_path / 'generic_model.pkl'} (reads with the safe loader")
    assert (tmp_path / "generic_model.pkl").read_bytes() == model


def test_fetch_data_in_a_real_process(server, tmp_path: Path, topology_dir: Path) -> None:
    """The command as a user runs it: a new process, sources from the environment."""
    _, state = server
    state["files"]["uv_face_mask.png"] = HTML_PAGE  # one bad file: the ones before it still arrive
    asset_dir = tmp_path / "assets"
    command = [sys.executable, "-m", "pydeca.cli", "fetch", "data", "--assets", str(asset_dir), "--quiet"]

    def run(*extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*command, *extra], capture_output=True, text=True, env=dict(os.environ), timeout=120, check=False
        )

    failed = run()
    assert failed.returncode == 2
    assert "returned an HTML page ('Google Drive - Quota exceeded') instead of the file for" in failed.stderr
    assert str(asset_dir / "uv_face_mask.png") in failed.stderr
    for remote in F.DATA_FILES[:4]:  # downloaded before the bad one, verified
        assert F.sha256_file(asset_dir / remote.name) == remote.sha256

    state["files"]["uv_face_mask.png"] = (topology_dir / "uv_face_mask.png").read_bytes()
    done = run("--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert [Path(p).name for p in report["downloaded"]] == ["uv_face_mask.png", "uv_face_eye_mask.png"]
    assert len(report["present"]) == 4


# ------------------------------------------------------------- the FLAME account, asked by the CLI


class _Terminal:
    """A stdin that is a terminal; what is typed comes through the patched input() / getpass()."""

    def isatty(self) -> bool:
        return True


@pytest.fixture
def prompts(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[str]]:
    """No account in the environment, stdin a terminal; records the questions input/getpass get."""
    import builtins
    import getpass

    asked: dict[str, list[str]] = {"input": [], "getpass": []}

    def fake_input(prompt: str = "") -> str:
        asked["input"].append(prompt)
        return f"  {USER} "  # typed with spaces around: stripped

    def fake_getpass(prompt: str = "Password: ", stream=None) -> str:
        asked["getpass"].append(prompt)
        return PASSWORD

    monkeypatch.delenv("FLAME_USERNAME", raising=False)
    monkeypatch.delenv("FLAME_PASSWORD", raising=False)
    monkeypatch.setattr(builtins, "input", fake_input)
    monkeypatch.setattr(getpass, "getpass", fake_getpass)
    monkeypatch.setattr(sys, "stdin", _Terminal())
    return asked


def test_fetch_flame_asks_for_the_account_in_a_terminal(
    server, tmp_path: Path, capsys, prompts, fixtures_dir: Path
) -> None:
    _, state = server
    model = (fixtures_dir / "flame2020_synthetic_chumpy.pkl").read_bytes()
    state["flame_zip"] = flame_zip(model)
    assert main(["fetch", "flame", "--assets", str(tmp_path), "--quiet"]) == 0
    assert prompts == {"input": [""], "getpass": ["FLAME password: "]}  # each asked once
    captured = capsys.readouterr()
    assert f"FLAME 2020 needs your account at {F.FLAME_SITE}." in captured.err
    assert "FLAME username (e-mail): " in captured.err  # on stderr: stdout may hold --json
    assert captured.out.startswith(f"downloaded {tmp_path / 'generic_model.pkl'} (reads with the safe loader")
    assert state["log"][0][2] == {"username": [USER], "password": [PASSWORD]}

    # present now: nobody is asked again
    assert main(["fetch", "flame", "--assets", str(tmp_path), "--quiet"]) == 0
    assert capsys.readouterr().out.strip() == f"already present {tmp_path / 'generic_model.pkl'}"
    assert prompts == {"input": [""], "getpass": ["FLAME password: "]}


def test_fetch_flame_username_option_asks_only_the_password(
    server, tmp_path: Path, capsys, prompts, fixtures_dir: Path
) -> None:
    _, state = server
    state["flame_zip"] = flame_zip((fixtures_dir / "flame2020_synthetic_chumpy.pkl").read_bytes())
    assert main(["fetch", "flame", "--assets", str(tmp_path), "--username", USER, "--quiet", "--json"]) == 0
    assert prompts == {"input": [], "getpass": ["FLAME password: "]}
    report = json.loads(capsys.readouterr().out)  # the questions did not spoil the JSON
    assert report["downloaded"] == [str(tmp_path / "generic_model.pkl")]


@pytest.mark.parametrize("stdin", [None, io.StringIO(f"{USER}\n{PASSWORD}\n")], ids=["no-stdin", "pipe"])
def test_fetch_flame_without_a_terminal_says_how_to_pass_the_account(
    server, tmp_path: Path, capsys, prompts, stdin: io.StringIO | None
) -> None:
    _, state = server
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(sys, "stdin", stdin)  # none at all (a service, pythonw) or a pipe: never read
        assert main(["fetch", "flame", "--assets", str(tmp_path), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("deca: error: FLAME needs your FLAME account")
    assert "FLAME_USERNAME and FLAME_PASSWORD" in err
    assert prompts == {"input": [], "getpass": []}
    assert state["log"] == []
    if stdin is not None:
        assert stdin.tell() == 0, "stdin was not read"


def test_fetch_flame_input_ended_is_a_clear_error(
    server, tmp_path: Path, capsys, prompts, monkeypatch: pytest.MonkeyPatch
) -> None:
    import builtins

    _, state = server

    def ctrl_d(prompt: str = "") -> str:
        raise EOFError

    monkeypatch.setattr(builtins, "input", ctrl_d)
    assert main(["fetch", "all", "--assets", str(tmp_path), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "deca: error: no FLAME account was entered (the input ended)" in err
    assert "FLAME_USERNAME" in err
    assert state["log"] == []  # asked before any download
