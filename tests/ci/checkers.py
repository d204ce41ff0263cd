"""The CI files `sharder init` writes for several kinds of project and options, and the outside checkers that judge
them: actionlint, zizmor and check-jsonschema's vendored GitHub-workflow and GitLab-CI schemas.

Each checker runs once over every file (their start-up is most of their cost) and is skipped where it is not
installed, except where `.ci/run` exports its `SHARDER_REQUIRE_*` variable: there a missing checker fails the test,
so CI cannot go green by not checking. Nothing here reaches the network: zizmor runs `--offline`, and the schemas
are the copies vendored inside check-jsonschema.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from sharder.ci.workflow import ACTION_PINS
from sharder.cli import main

# Project kinds the install line is detected from: a test extra, requirement files (and a pinned Python), nothing.
PROJECTS: dict[str, dict[str, str]] = {
    "extras": {"pyproject.toml": '[project]\nname = "x"\nrequires-python = ">=3.10"\n'
                                 '[project.optional-dependencies]\ntest = ["pytest"]\n'},
    "requirements": {"requirements.txt": "requests\n", "requirements-test.txt": "pytest\n",
                     ".python-version": "3.11\n"},
    "neither": {},
}


@dataclass(frozen=True)
class Combo:
    project: str  # a key of PROJECTS
    args: tuple[str, ...]  # after `sharder init PROVIDER`


@dataclass(frozen=True)
class Generated:
    path: Path
    stderr: str  # what `sharder init` said it chose


def generate(root: Path, provider: str, combos: dict[str, Combo]) -> dict[str, Generated]:
    """Run the real `sharder init PROVIDER ARGS` (in this process: one interpreter start for all of them) in a
    fresh project of each combo's kind; returns each written file and what init printed."""
    written: dict[str, Generated] = {}
    for name, combo in combos.items():
        project = root / name
        project.mkdir(parents=True)
        for relative, text in PROJECTS[combo.project].items():
            (project / relative).write_text(text, encoding="utf-8")
        stderr = io.StringIO()
        with pytest.MonkeyPatch.context() as patch, contextlib.redirect_stderr(stderr):
            patch.chdir(project)
            code = main(["init", provider, *combo.args])
        assert code == 0, (name, stderr.getvalue())
        output = project / (".github/workflows/sharder.yml" if provider == "github" else ".gitlab-ci.yml")
        written[name] = Generated(output, stderr.getvalue())
    return written


def require_tool(names: tuple[str, ...], variable: str, install: str) -> str:
    """The first of `names` on PATH or beside this interpreter; a skip, or a failure when `variable` is set."""
    for name in names:
        found = shutil.which(name) or shutil.which(name, path=str(Path(sys.executable).parent))
        if found:
            return found
    if os.environ.get(variable):
        pytest.fail(f"{names[0]} is required here ({variable}) but not installed")
    pytest.skip(f"{names[0]} is not installed (.ci/run installs it: {install})")


def gathered(paths: list[Path], folder: Path, suffix: str = ".yml") -> list[Path]:
    """Copies of `paths` in one folder under distinct names (`0-ci.yml`), so one run of a checker reads them all
    and its output names each file once."""
    folder.mkdir(parents=True)
    copies = []
    for index, path in enumerate(paths):
        copy = folder / f"{index}-{path.stem}{suffix}"
        shutil.copyfile(path, copy)
        copies.append(copy)
    return copies


_PINNED = re.compile(r"@([0-9a-f]{40})  # (v\d+)[.\d]*$", re.MULTILINE)


def tag_view(path: Path, target: Path) -> Path:
    """The workflow with each commit pin replaced by the major release its comment names (`@v4`): actionlint
    checks a step's `with:` inputs only for the releases it knows by tag, so the pinned file alone would leave
    every input unchecked."""
    target.write_text(_PINNED.sub(lambda match: f"@{match.group(2)}", path.read_text(encoding="utf-8")),
                      encoding="utf-8")
    return target


def zizmor_findings(paths: list[Path]) -> set[tuple[str, str]]:
    """(file name, audit) for every finding of zizmor's pedantic persona at every severity and confidence.

    pedantic rather than regular: the files are templates copied into many repositories, so a code smell is worth
    fixing once here. The auditor persona (likely false positives) is clean as well today, but it is not held as a
    rule. `--no-config` so that no zizmor.yml can silence an audit.
    """
    zizmor = require_tool(("zizmor",), "SHARDER_REQUIRE_ZIZMOR", "pip install zizmor, in the dev extra")
    result = subprocess.run([zizmor, "--offline", "--persona=pedantic", "--no-config", "--strict-collection",
                             "--no-progress", "--format=json-v1", *map(str, paths)],
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.stdout.strip().startswith("["), result.stdout + result.stderr  # it ran and audited
    findings = set()
    for finding in json.loads(result.stdout):
        for location in finding["locations"]:
            path = location["symbolic"]["key"]["Local"]["verbatim_path"]
            findings.add((Path(path).name, finding["ident"]))
    return findings


def schema_errors(schema: str, paths: list[Path]) -> dict[str, list[str]]:
    """check-jsonschema's errors per file name against one of its vendored schemas (`vendor.github-workflows`,
    `vendor.gitlab-ci`); a file that does not parse counts as an error too."""
    tool = require_tool(("check-jsonschema",), "SHARDER_REQUIRE_JSONSCHEMA",
                        "pip install check-jsonschema, in the dev extra")
    result = subprocess.run([tool, "--builtin-schema", schema, "--output-format", "json", *map(str, paths)],
                            capture_output=True, text=True, timeout=120, check=False)
    report = json.loads(result.stdout)
    errors: dict[str, list[str]] = {}
    for error in report["errors"]:
        best = error.get("best_deep_match") or error
        errors.setdefault(Path(error["filename"]).name, []).append(f"{best['path']}: {best['message']}")
    for error in report["parse_errors"]:
        errors.setdefault(Path(error.get("filename", "?")).name, []).append(str(error))
    assert (result.returncode == 0) == (not errors), result.stdout + result.stderr
    return errors


def pinned_lines(text: str) -> list[str]:
    """The `uses:` lines of a workflow whose pin is not one of ACTION_PINS with its release comment."""
    wrong = []
    for line in text.splitlines():
        match = re.match(r"\s*(?:- )?uses: ([\w./-]+)@(\S+)(?:  # (\S+))?$", line)
        if line.strip().lstrip("- ").startswith("uses:") and (
                match is None or ACTION_PINS.get(match.group(1)) != (match.group(2), match.group(3))):
            wrong.append(line.strip())
    return wrong
