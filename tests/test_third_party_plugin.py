"""A third party ships a repository type as its own distribution, and offlineimap uses it.

The distribution in ``tests/fixtures/eml_plugin`` is built and installed for real (into a
directory of its own, put on ``PYTHONPATH`` of the ``offlineimap`` process), then a config with
``type = Eml`` syncs from it into a Maildir.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

FIXTURE = Path(__file__).parent / "fixtures" / "eml_plugin"


def install(target: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
         "--target", str(target), str(FIXTURE)],
        check=True, capture_output=True, text=True)


def test_outside_distribution_registers_a_repository_type(sandbox, make_messages) -> None:
    site = sandbox.root / "site"
    install(site)
    assert (site / "offlineimap_eml").is_dir()
    assert any(p.name.startswith("offlineimap_eml-1.0.0") for p in site.glob("*.dist-info"))
    source = sandbox.root / "eml"
    for folder, count in (("INBOX", 3), ("Receipts", 2)):
        (source / folder).mkdir(parents=True)
        for uid, body in enumerate(make_messages(count, start=len(folder)), start=1):
            (source / folder / f"{uid}.eml").write_bytes(body)
    sandbox.write_config(f"type = Eml\ndirectory = {source}\n")
    env = sandbox.env()
    env["PYTHONPATH"] = str(site)

    def offlineimap(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "offlineimap", *args], env=env,
                              capture_output=True, text=True, timeout=60, check=False)

    listed = offlineimap("--list-plugins")
    assert "offlineimap-eml 1.0.0" in listed.stdout and "Eml" in listed.stdout
    synced = offlineimap("-c", str(sandbox.config), "-o", "-u", "basic")
    assert synced.returncode == 0, synced.stdout + synced.stderr
    for folder, count in (("INBOX", 3), ("Receipts", 2)):
        local = sandbox.local_messages(folder)
        assert len(local) == count
        originals = sorted(p.read_bytes().replace(b"\r\n", b"\n")
                           for p in (source / folder).glob("*.eml"))
        assert sorted(body for _, body in local) == originals
        assert {flags for flags, _ in local} == {"S"}
    # without the plugin installed, the same config fails in one line
    missing = subprocess.run([sys.executable, "-m", "offlineimap", "-c", str(sandbox.config),
                              "-o", "-u", "basic"], env=sandbox.env(), capture_output=True,
                             text=True, timeout=60, check=False)
    assert missing.returncode != 0
    assert "Eml" in missing.stderr and "Traceback" not in missing.stderr
