"""template.yaml as CloudFormation sees it: the SAM transform, offline."""

from __future__ import annotations

import copy
from typing import Any

from local.template import load_template


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
