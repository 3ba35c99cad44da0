"""An installed, non-editable branchml finds templates/ inside its wheel."""

from __future__ import annotations

import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow


def test_wheel_ships_templates_and_init_works(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    built = subprocess.run([sys.executable, "-m", "build", "--wheel", "--no-isolation",
                            "--outdir", str(dist), str(ROOT)], capture_output=True, text=True)
    assert built.returncode == 0, built.stdout[-2000:] + built.stderr[-2000:]
    (wheel,) = dist.glob("branchml-*.whl")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    vpy = venv / "bin" / "python"
    subprocess.run([str(vpy), "-m", "pip", "install", "-q", "--no-deps", str(wheel)],
                   check=True, capture_output=True)
    # dependencies come from this environment's site-packages (not its editable .pth files)
    site = subprocess.run([str(vpy), "-c", "import site; print(site.getsitepackages()[0])"],
                          check=True, capture_output=True, text=True).stdout.strip()
    Path(site, "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    where = subprocess.run([str(vpy), "-c", "import branchml.resources as r; "
                            "print(r.templates_dir())"], check=True, capture_output=True,
                           text=True, cwd=tmp_path).stdout.strip()
    assert where.startswith(site) and where.endswith("branchml/_templates")
    repo = tmp_path / "p"
    r = subprocess.run([str(venv / "bin" / "branchml"), "init", str(repo), "--no-lfs",
                        "--no-hooks"], capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert (repo / "docs" / "model_card.md").is_file()
