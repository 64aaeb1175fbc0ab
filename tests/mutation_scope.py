"""A pytest plugin for `make mutation`: each module's mutants meet only that module's own tests.

mutmut runs, for a mutant, every selected test that called the mutated function. The webhook and
escalation tests call nearly everything (`render`, `classify`), so without this a surviving
`messages` mutant would cost the whole database suite, and a `messages` mistake caught only by a
conversation test would pass for a `messages` test. Loaded only by mutmut (pyproject.toml,
[tool.mutmut] pytest_add_cli_args); it changes nothing outside a mutant run.
"""

from __future__ import annotations

import os

import pytest

# The mutated module -> the test files that speak for it (paths relative to the repository).
OWN_TESTS = {
    "bot.schedule": ("tests/test_schedule.py", "tests/test_protocol_schedule.py"),
    "bot.messages": ("tests/test_messages.py", "tests/test_protocol_messages.py"),
    "bot.escalation": ("tests/test_escalation.py", "tests/test_protocol_escalation.py"),
    "bot.conversation": ("tests/test_conversation.py", "tests/test_protocol_conversation.py",
                         "tests/test_reply_groups.py"),
    "bot.triage.rules": ("tests/triage/",),
}


def own_tests(mutant: str) -> tuple[str, ...] | None:
    """The test files for a mutant name such as "bot.schedule.x_plan__mutmut_3" (None: not a mutant)."""
    if "__mutmut_" not in mutant:
        return None  # the clean run, the stats run or the forced failure: every test runs
    module = mutant.split(".x_", 1)[0].split(".xǁ", 1)[0]
    return OWN_TESTS.get(module, ())


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    allowed = own_tests(os.environ.get("MUTANT_UNDER_TEST", ""))
    if allowed is None:
        return
    keep = [item for item in items if item.nodeid.startswith(allowed)]
    if len(keep) != len(items):
        config.hook.pytest_deselected(items=[item for item in items if item not in keep])
        items[:] = keep
