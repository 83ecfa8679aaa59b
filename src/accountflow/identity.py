"""The run identity: everything that shapes a run's output, hashed into one key.

A batch re-run skips an account only when its latest run has exactly this identity, and
resumes an unfinished run only then; anything else runs afresh. The parts are stored next to
the key on every run (`runs.input_hash, seller_hash, program_version, model, review, sources`)
so that `runs show` and SQL can say what differed.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from pydantic import BaseModel

from accountflow.models import SellerProfile

# What the research step reads: the account's own row; `sources.Gatherer.identity` adds the
# others (one name per source, sorted, docs with a digest of the account's documents).
ACCOUNT_SOURCES = "account"


def _digest(data: Any) -> str:
    blob = json.dumps(data, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


# Input fields added after runs were recorded: left out of the hash while unset, so existing
# runs keep their identity (and are skipped) until a row actually uses them.
_OPTIONAL_LATER = ("website",)


def input_hash(account_data: dict[str, Any]) -> str:
    """Identity of an account's input row (validated and normalised, as JSON)."""
    data = {k: v for k, v in account_data.items() if not (k in _OPTIONAL_LATER and v is None)}
    return _digest(data)


def seller_hash(seller: SellerProfile) -> str:
    """Identity of a seller profile: its content, not the file it came from."""
    return _digest(seller.model_dump(mode="json"))


class RunIdentity(BaseModel):
    """Everything that shapes a run's output. `key` is what a re-run compares."""

    input_hash: str  # the account row
    seller_hash: str  # the seller profile
    program_version: str  # instructions and demos of every predictor
    model: str  # `ModelRef.format()`: model, options and endpoint (no secrets)
    review: str  # the review policy (`ReviewPolicy.identity()`): decides what is held back
    sources: str = ACCOUNT_SOURCES  # what research reads

    @property
    def key(self) -> str:
        return _digest(self.model_dump())
