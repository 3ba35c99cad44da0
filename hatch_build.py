"""Build hook: compiles branchml/core/_rowhash.c into _rowhash.so (the append strategy's row
hashes in C, loaded with ctypes; see branchml/core/native.py).

Only a C compiler is needed (`cc`, or $CC), no Python headers. Without one, or when the
compile fails, the build goes on without the library, says so, and branchml uses NumPy
for the same hashes (slower start-up: see docs/benchmarks.md). With the library the wheel
is tagged for this platform (py3-none-<platform>: the library does not use Python's ABI).
Editable installs compile it next to its source, where native.py looks for it.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

SOURCE = "branchml/core/_rowhash.c"
LIBRARY = "branchml/core/_rowhash.so"


class RowHashHook(BuildHookInterface):  # type: ignore[type-arg]
    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if self.target_name != "wheel":
            return
        root = Path(self.root)
        if not compile_library(root / SOURCE, root / LIBRARY):
            return
        platform = sysconfig.get_platform().replace("-", "_").replace(".", "_")
        build_data["pure_python"] = False
        build_data["tag"] = f"py3-none-{platform}"  # as bdist_wheel names a platform
        if version != "editable":
            build_data["force_include"][str(root / LIBRARY)] = LIBRARY


def compile_library(source: Path, library: Path) -> bool:
    cc = shlex.split(os.environ.get("CC", "")) or [shutil.which("cc") or shutil.which("gcc") or ""]
    if not cc[0]:
        print("branchml: no C compiler (cc): row hashes will use NumPy", file=sys.stderr)
        return False
    part = library.with_name(f"{library.name}.{os.getpid()}.part")
    done = subprocess.run([*cc, "-O2", "-std=c99", "-shared", "-fPIC", "-o", str(part),
                           str(source)], check=False)
    if done.returncode:
        part.unlink(missing_ok=True)
        print(f"branchml: {cc[0]} could not build {source.name}: row hashes will use NumPy",
              file=sys.stderr)
        return False
    os.replace(part, library)  # whole or not at all: a running branchml may be loading it
    return True
