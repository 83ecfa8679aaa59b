"""Bundled data: the demo accounts and seller (and, later, labeled evaluation sets)."""

from importlib import resources
from pathlib import Path


def path(name: str) -> Path:
    """Filesystem path of a bundled data file, e.g. path("accounts_demo.jsonl")."""
    return Path(str(resources.files(__name__).joinpath(name)))
