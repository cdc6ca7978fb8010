"""Test-only import shim: makes ``newsledger.flows`` / ``newsledger.tasks`` resolve to the
repository's ``flows/`` and ``tasks/`` folders, so tests exercise the working tree rather than
the copy installed in site-packages. Put ``tests/shim`` first on ``sys.path``/``PYTHONPATH``."""

from pathlib import Path

__path__ = [str(Path(__file__).resolve().parents[3])]
