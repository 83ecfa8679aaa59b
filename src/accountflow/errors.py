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


class NotFoundError(AccountflowError):
    """A run, step or other record that does not exist."""


class RuleViolationError(Exception):
    """A step's output still broke an output rule after its feedback retries."""

    def __init__(self, step: str, problems: list[str], rule_retries: int = 0) -> None:
        self.problems = problems
        self.rule_retries = rule_retries  # feedback retries spent, the step's record keeps them
        super().__init__(f"{step} output broke a rule after retries: " + "; ".join(problems[:3]))
