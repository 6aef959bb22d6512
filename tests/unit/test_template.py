"""template.yaml is the one description of every resource: it must lint, transform offline, and
agree with the pynamodb models the code uses."""

from __future__ import annotations

import copy
import re
from typing import Any

import pytest
from autocall.adapters.tables import ALL_TABLES

from local.template import TEMPLATE_PATH, load_template


def test_template_passes_cfn_lint() -> None:
    from cfnlint.api import lint_all

    problems = [m for m in lint_all(TEMPLATE_PATH.read_text()) if m.rule.id.startswith("E")]
    assert problems == [], "\n".join(str(p) for p in problems)


class _NoManagedPolicies:
    def load(self) -> dict[str, str]:
        return {}


def transformed() -> dict[str, Any]:
    from samtranslator.translator.transform import transform

    template = copy.deepcopy(load_template())
    for resource in template["Resources"].values():
        props = resource.get("Properties", {})
        for key in ("CodeUri", "ContentUri", "DefinitionUri"):
            if isinstance(props.get(key), str):
                props[key] = f"s3://autocall-artifacts/{props[key].strip('/').replace('/', '-')}.zip"
    return dict(transform(template, {}, _NoManagedPolicies()))


def _references(value: Any) -> set[str]:
    found: set[str] = set()
    if isinstance(value, dict):
        for key, arg in value.items():
            if key == "Ref" and isinstance(arg, str):
                found.add(arg)
            elif key == "Fn::GetAtt":
                found.add(arg.split(".")[0] if isinstance(arg, str) else arg[0])
            elif key == "Fn::Sub":
                text = arg if isinstance(arg, str) else arg[0]
                found |= {m.split(".")[0] for m in re.findall(r"\$\{([^}!]+)\}", text)}
                if not isinstance(arg, str):
                    found |= _references(arg[1])
            else:
                found |= _references(arg)
    elif isinstance(value, list):
        for item in value:
            found |= _references(item)
    return found


def test_sam_transform_succeeds_offline_without_circular_dependencies(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    resources = transformed()["Resources"]
    graph = {
        lid: (
            _references(res)
            | set(
                res.get("DependsOn", [])
                if isinstance(res.get("DependsOn"), list)
                else [res["DependsOn"]]
                if res.get("DependsOn")
                else []
            )
        )
        & set(resources)
        for lid, res in resources.items()
    }
    visiting: set[str] = set()
    done: set[str] = set()

    def visit(node: str, path: list[str]) -> None:
        if node in done:
            return
        assert node not in visiting, f"circular dependency: {' -> '.join([*path, node])}"
        visiting.add(node)
        for child in graph[node]:
            visit(child, [*path, node])
        visiting.discard(node)
        done.add(node)

    for node in graph:
        visit(node, [])
    assert any(r["Type"] == "AWS::ApiGateway::RestApi" for r in resources.values())


def _keys(schema: list[dict[str, str]]) -> dict[str, str]:
    return {k["KeyType"]: k["AttributeName"] for k in schema}


@pytest.mark.parametrize("logical_id", sorted(ALL_TABLES))
def test_model_keys_and_indexes_match_the_template(logical_id: str) -> None:
    props = load_template()["Resources"][logical_id]["Properties"]
    schema = ALL_TABLES[logical_id]._get_schema()
    assert _keys(props["KeySchema"]) == _keys(schema["key_schema"])
    template_indexes = {
        g["IndexName"]: _keys(g["KeySchema"]) for g in props.get("GlobalSecondaryIndexes", [])
    }
    model_indexes = {g["index_name"]: _keys(g["key_schema"]) for g in schema["global_secondary_indexes"]}
    assert template_indexes == model_indexes
    assert schema["local_secondary_indexes"] == [] and "LocalSecondaryIndexes" not in props
    declared = {a["AttributeName"]: a["AttributeType"] for a in props["AttributeDefinitions"]}
    used = {a["AttributeName"]: a["AttributeType"] for a in schema["attribute_definitions"]}
    assert declared == used
