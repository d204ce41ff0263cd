"""CI files as people write them: PyYAML with lists indented under their key and empty values left empty.

Shared by the GitHub workflow and the GitLab pipeline, so both are built as data and never as strings.
"""

from __future__ import annotations

from typing import Any

import yaml


class _WorkflowDumper(yaml.SafeDumper):
    """Lists indented under their key as GitHub's examples write them, and an empty trigger (`pull_request:`)
    written as nothing rather than `null`."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)


def _represent_none(dumper: yaml.SafeDumper, _: None) -> yaml.ScalarNode:
    return dumper.represent_scalar("tag:yaml.org,2002:null", "")


_WorkflowDumper.add_representer(type(None), _represent_none)


def render_yaml(document: dict[str, Any]) -> str:
    """The document as CI YAML, keys in the order written."""
    # width: a `run:` line folded by the dumper would still be valid YAML, but not the line a user typed.
    text: str = yaml.dump(document, Dumper=_WorkflowDumper, sort_keys=False, default_flow_style=False, width=10_000,
                          allow_unicode=True)
    return text
