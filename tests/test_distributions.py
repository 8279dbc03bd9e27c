"""Each distribution builds as a wheel, and a distributor's subset installs and works alone.

A fresh virtual environment gets only core, Maildir and the UIs (dependencies from the package
index): ``--help`` works, ``--list-plugins`` shows just those, and a configuration that needs the
IMAP plugin fails in one line naming the distribution to install.
"""

from __future__ import annotations

import subprocess
import sys
import venv
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
MEMBERS = ["core", "plugins/imap", "plugins/maildir", "plugins/gmail", "plugins/status_plain",
           "plugins/status_sqlite", "plugins/ui"]


def sh(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(a) for a in args], capture_output=True, text=True, cwd=cwd,
                          timeout=600, check=False)


@pytest.fixture(scope="module")
def wheels(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheels")
    built = sh(sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps",
               "--no-build-isolation", "-w", out, *(ROOT / m for m in MEMBERS))
    assert built.returncode == 0, built.stderr
    return out


def test_every_distribution_builds_a_wheel(wheels: Path) -> None:
    names = sorted(p.name.split("-")[0] for p in wheels.glob("*.whl"))
    assert names == sorted(["offlineimap_core", "offlineimap_imap", "offlineimap_maildir",
                            "offlineimap_gmail", "offlineimap_status_plain",
                            "offlineimap_status_sqlite", "offlineimap_ui"])


def test_subset_installs_alone_and_names_what_is_missing(wheels: Path, tmp_path: Path) -> None:
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    subset = [next(wheels.glob(f"{name}-*.whl")) for name in
              ("offlineimap_core", "offlineimap_maildir", "offlineimap_ui")]
    installed = sh(python, "-m", "pip", "install", "--quiet", "--find-links", wheels, *subset)
    assert installed.returncode == 0, installed.stderr
    offlineimap = env_dir / "bin" / "offlineimap"
    helped = sh(offlineimap, "--help")
    assert helped.returncode == 0
    for option in ("-1", "-P DIR", "-a ACCOUNT", "-c FILE", "-d TYPE", "-f FOLDER",
                   "-k [SECTION:]OPTION=VALUE", "-l FILE", "-o", "-q", "-u UI", "--dry-run",
                   "--info", "--version"):
        assert option in helped.stdout, option
    listed = sh(offlineimap, "--list-plugins")
    assert listed.returncode == 0, listed.stderr
    lines = [line for line in listed.stdout.splitlines() if line.strip()]
    assert sorted(line.split()[0] for line in lines) == [
        "offlineimap-core", "offlineimap-maildir", "offlineimap-ui"]
    assert not any("FAILED" in line for line in lines)
    config = tmp_path / "rc"
    config.write_text(
        f"[general]\naccounts = A\nmetadata = {tmp_path}/meta\n[Account A]\n"
        "localrepository = L\nremoterepository = R\nstatus_backend = plain\n"
        f"[Repository L]\ntype = Maildir\nlocalfolders = {tmp_path}/Mail\n"
        "[Repository R]\ntype = IMAP\nremotehost = 127.0.0.1\n")
    failed = sh(offlineimap, "-c", config, "-o", "-u", "basic")
    assert failed.returncode == 3
    errors = [line for line in failed.stderr.splitlines() if "ERROR" in line]
    assert any("offlineimap-imap" in line and "type = IMAP" in line for line in errors)
    assert "Traceback" not in failed.stderr
    assert not (tmp_path / "Mail").exists()  # nothing touched
