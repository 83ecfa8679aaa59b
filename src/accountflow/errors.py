"""User-facing errors: the CLI prints their message as one line and exits with their code."""

from __future__ import annotations


class AccountflowError(Exception):
    """An error the user can fix; the CLI prints its message as one line."""

    exit_code = 2


class ConfigError(AccountflowError):
    """Settings, credentials, models or files that prevent work from starting."""


class InputError(AccountflowError):
    """An input file that cannot be read at all (missing, empty, wrong format)."""


class StoreInUseError(AccountflowError):
    """Another process holds the DuckDB file."""


class StoreWriteError(AccountflowError):
    """The store could not write (disk full, read-only, removed): work stops at once, since
    what is not recorded would be paid for again."""


class OutputWriteError(AccountflowError):
    """The results file could not be written (disk full, removed): the batch stops; what the
    store recorded is written again by the next run of the same command."""


class NotFoundError(AccountflowError):
    """A run, step or other record that does not exist."""


class RuleViolationError(Exception):
    """A step's output still broke an output rule after its feedback retries."""

    def __init__(self, step: str, problems: list[str], rule_retries: int = 0) -> None:
        self.problems = problems
        self.rule_retries = rule_retries  # feedback retries spent, the step's record keeps them
        super().__init__(f"{step} output broke a rule after retries: " + "; ".join(problems[:3]))


_REASONS = (
    ("No space left on device", "the disk is full"),
    ("Read-only file system", "the file system is read-only"),
    ("Permission denied", "permission denied"),
    ("Disk quota exceeded", "the disk quota is exceeded"),
    ("No such file or directory", "the directory does not exist"),
)


def storage_reason(exc: BaseException) -> str:
    """Why a file could not be written, in a few words (DuckDB's and the OS's messages name
    the cause deep inside a longer text); the first line of the message otherwise."""
    text = str(exc)
    for needle, reason in _REASONS:
        if needle in text:
            return reason
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror.lower()
    first = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
    return first.rstrip(".")
