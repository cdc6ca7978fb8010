"""DuckDB extensions from their Python wheels (``duckdb-extension-<name>``, pinned to the
installed DuckDB in the lock file): never downloaded at run time."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import duckdb
from newsledger.tasks.errors import NewsledgerError


def wheel_extension_file(
    name: str, error: type[NewsledgerError], needed_for: str | None = None
) -> Path:
    """The binary of the DuckDB extension ``name`` shipped in the ``duckdb-extension-<name>``
    wheel for the running DuckDB. ``error`` is raised when the wheel is missing (its message
    saying what it is ``needed_for``, if given) or built for another DuckDB version."""
    package = f"duckdb-extension-{name}"
    spec = importlib.util.find_spec(package.replace("-", "_"))
    if spec is None or not spec.submodule_search_locations:
        need = (
            f"{needed_for} needs DuckDB's {name} extension"
            if needed_for
            else (f"the DuckDB {name} extension is not installed")
        )
        raise error(f"{need}: install the Python package {package}=={duckdb.__version__}")
    root = Path(next(iter(spec.submodule_search_locations)))
    path = root / "extensions" / f"v{duckdb.__version__}" / f"{name}.duckdb_extension"
    if not path.is_file():
        found = sorted(p.parent.name for p in root.glob(f"extensions/*/{name}.duckdb_extension"))
        raise error(
            f"the installed {package} is built for DuckDB {', '.join(found) or '?'}, "
            f"not {duckdb.__version__}: install {package}=={duckdb.__version__}"
        )
    return path
