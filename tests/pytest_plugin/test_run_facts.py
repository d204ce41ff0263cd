"""What the shard's outputs record about the run: the user's own pytest arguments, picked out of a command line."""

from __future__ import annotations

import argparse

import pytest

from sharder.pytest_plugin.run_facts import parse_ci_attempt_option, parse_pytest_args_option, user_pytest_args


@pytest.mark.parametrize(("argv", "expected"), [
    (["--shard=2/4", "--junitxml=r.xml", "-k", "fast", "tests/unit"], ["-k", "fast", "tests/unit"]),
    (["--shard", "2/4", "--junitxml", "r.xml", "--pyargs", "pkg"], ["--pyargs", "pkg"]),
    (["--splits", "4", "--group", "2", "--store-durations", "--durations-path", "d.json", "-x"], ["-x"]),
    (["--sharder-plan=plan.json", "--sharder-progress-log", "p.jsonl", "--sharder-full-collection", "-m", "not slow"],
     ["-m", "not slow"]),
    (["-p", "no:randomly", "--shardy"], ["-p", "no:randomly", "--shardy"]),  # not an option of sharder's
    (["--sharder-ci-attempt=2", "--sharder-run-id", "abc", "-x"], ["-x"]),
])
def test_a_plain_pytest_command_keeps_only_the_users_arguments(argv: list[str], expected: list[str]) -> None:
    assert user_pytest_args(argv) == tuple(expected)


def test_the_arguments_option_takes_a_json_list_of_strings() -> None:
    assert parse_pytest_args_option('["--pyargs", "pkg", "-k", "a or b"]') == ("--pyargs", "pkg", "-k", "a or b")
    assert parse_pytest_args_option("[]") == ()
    for bad in ("-k typo", '["-k", 3]', '{"args": []}', "[", ""):
        with pytest.raises(argparse.ArgumentTypeError, match="expected a JSON list of strings"):
            parse_pytest_args_option(bad)


def test_the_ci_attempt_option_takes_a_whole_number_from_one() -> None:
    assert parse_ci_attempt_option("2") == 2
    for bad in ("0", "-1", "two", "1.5", "", "٣"):
        with pytest.raises(argparse.ArgumentTypeError, match="the CI attempt as a whole number from 1"):
            parse_ci_attempt_option(bad)
