"""Append for SQLite files: theirs' new rows of each table inserted into a copy of ours.

Same tables and schemas on both sides are required (a difference is a conflict); a new row
is a row of theirs that base does not have; a row whose primary key ours already holds with
other values is a conflict; rows ours has too are not inserted twice.
"""

from __future__ import annotations

import shutil
import sqlite3
import tempfile
from pathlib import Path

from branchml.errors import ConflictError

_TABLES = "SELECT name, sql FROM {db}.sqlite_master WHERE type = 'table' AND name NOT LIKE " \
          "'sqlite_%' ORDER BY name"


def append_sqlite(base: bytes | None, ours: bytes, theirs: bytes, path: str,
                  tmp_dir: Path) -> tuple[bytes, int]:
    """Ours with theirs' new rows inserted, and how many rows were inserted."""
    tmp_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=tmp_dir) as d:
        files = {n: Path(d, f"{n}.sqlite") for n in ("base", "ours", "theirs", "out")}
        files["base"].write_bytes(base or b"")
        files["ours"].write_bytes(ours)
        files["theirs"].write_bytes(theirs)
        shutil.copyfile(files["ours"], files["out"])
        con = sqlite3.connect(files["out"], isolation_level=None)
        try:
            for name in ("base", "theirs"):
                con.execute(f"ATTACH DATABASE ? AS {name}", (str(files[name]),))
            inserted = _merge(con, path)
        except sqlite3.DatabaseError as e:
            raise ConflictError(f"{path}: not a SQLite database on every side ({e}).") from None
        finally:
            con.close()
        return files["out"].read_bytes(), inserted


def _merge(con: sqlite3.Connection, path: str) -> int:
    ours = dict(con.execute(_TABLES.format(db="main")).fetchall())
    theirs = dict(con.execute(_TABLES.format(db="theirs")).fetchall())
    base = dict(con.execute(_TABLES.format(db="base")).fetchall())
    if ours.keys() != theirs.keys() or any(ours[t] != theirs[t] for t in ours):
        raise ConflictError(f"{path}: the tables or their schemas differ between ours and "
                            "theirs; make them equal on both branches, then merge again.")
    con.execute("BEGIN")
    inserted = 0
    for table in ours:
        q = '"' + table.replace('"', '""') + '"'
        # q is an identifier quoted the SQLite way (" doubled): not an injection vector
        new = f"SELECT * FROM theirs.{q}"  # noqa: S608
        if table in base and base[table] == theirs[table]:
            new += f" EXCEPT SELECT * FROM base.{q}"  # noqa: S608
        new += f" EXCEPT SELECT * FROM main.{q}"  # noqa: S608
        try:
            inserted += con.execute(f"INSERT INTO main.{q} {new}").rowcount
        except sqlite3.IntegrityError as e:
            con.execute("ROLLBACK")
            raise ConflictError(f"{path}: table {table}: a new row of theirs clashes with a row "
                                f"of ours on a key ({e}); settle it on one branch.") from None
    con.execute("COMMIT")
    con.execute("VACUUM")
    return inserted
