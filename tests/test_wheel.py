"""An installed, non-editable branchml finds templates/ and its C row hashes inside its wheel."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow


@pytest.mark.parametrize("cc", [None, "false"])
def test_wheel_ships_templates_and_init_works(tmp_path: Path, cc: str | None) -> None:
    """cc=false: a machine whose C compiler fails (or is missing) still gets a working wheel,
    pure Python, whose merges hash rows with NumPy."""
    dist = tmp_path / "dist"
    env = {**os.environ, "CC": cc} if cc else None
    built = subprocess.run([sys.executable, "-m", "build", "--wheel", "--no-isolation",
                            "--outdir", str(dist), str(ROOT)], capture_output=True, text=True,
                           env=env)
    assert built.returncode == 0, built.stdout[-2000:] + built.stderr[-2000:]
    (wheel,) = dist.glob("branchml-*.whl")
    # PEP 561: without the marker, mypy refuses every `from branchml import api` (docs/api.md)
    assert "branchml/py.typed" in zipfile.ZipFile(wheel).namelist()
    venv = tmp_path / "venv"
    # no pip of its own (ensurepip takes ~5 s): this environment's pip installs into it
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    vpy = venv / "bin" / "python"
    subprocess.run([sys.executable, "-m", "pip", "--python", str(vpy), "install", "-q",
                    "--no-deps", str(wheel)], check=True, capture_output=True)
    # dependencies come from this environment's site-packages (not its editable .pth files)
    site = subprocess.run([str(vpy), "-c", "import site; print(site.getsitepackages()[0])"],
                          check=True, capture_output=True, text=True).stdout.strip()
    Path(site, "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    where = subprocess.run([str(vpy), "-c", "import branchml.resources as r; "
                            "print(r.templates_dir())"], check=True, capture_output=True,
                           text=True, cwd=tmp_path).stdout.strip()
    assert where.startswith(site) and where.endswith("branchml/_templates")
    # the C row hashes: compiled by the build, shipped in the wheel, tagged for the platform
    # only (a ctypes library uses no Python ABI), loaded from the installed package
    assert wheel.name.startswith("branchml-0.1.0-py3-none-linux_" if cc is None
                                 else "branchml-0.1.0-py3-none-any")
    code = ("from branchml.core import native; from branchml.core.newrows import rows_on_both; "
            "from branchml.core.rows import RowFormat; import io; "
            "s = lambda b: (lambda: io.BytesIO(b)); "
            "print(native.available(), native.__file__, sorted(rows_on_both(RowFormat.CSV, "
            "s(b'h\\n1\\n'), s(b'h\\n1\\n2\\n3\\n'), s(b'h\\n1\\n3\\n4\\n'))))")
    native = subprocess.run([str(vpy), "-c", code], check=True, capture_output=True, text=True,
                            cwd=tmp_path).stdout.split(maxsplit=2)
    assert native[0] == str(cc is None) and native[1].startswith(site)
    assert native[2].strip() == "[b'3']"  # the row both sides added, by either code
    repo = tmp_path / "p"
    r = subprocess.run([str(venv / "bin" / "branchml"), "init", str(repo), "--no-lfs",
                        "--no-hooks"], capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert (repo / "docs" / "model_card.md").is_file()
