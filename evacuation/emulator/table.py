"""Create the azevac state table in the embedded AWS from template.yaml's own definition.

The table is built from the template's `StateTable` resource, so the drill, the tests and the
deployed stack cannot drift apart. An installed azevac (pipx, a wheel) has no checkout, so the
resource's properties ship inside the package as `state_table.json`; a test keeps that file
equal to template.yaml (`python -m evacuation.emulator.table` rewrites it). CloudFormation
short-form intrinsics (`!Ref`, `!Tags`, ...) load as `{"!Ref": value}` mappings; the table
properties use none of them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

TEMPLATE = Path(__file__).resolve().parents[2] / "template.yaml"
PACKAGED = Path(__file__).resolve().parent / "state_table.json"
"""template.yaml's StateTable properties, shipped in the package."""
RESOURCE = "StateTable"
_CREATE_KEYS = (
    "AttributeDefinitions",
    "KeySchema",
    "GlobalSecondaryIndexes",
    "BillingMode",
    "DeletionProtectionEnabled",
)


class CfnLoader(yaml.SafeLoader):
    """A SafeLoader that accepts CloudFormation short-form tags instead of refusing them."""


def _intrinsic(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        assert isinstance(node, yaml.MappingNode)
        value = loader.construct_mapping(node, deep=True)
    return {f"!{suffix}": value}


CfnLoader.add_multi_constructor("!", _intrinsic)


def state_table_properties(template: Path = TEMPLATE) -> dict[str, Any]:
    """The `Properties` of the template's StateTable resource."""
    try:
        text = template.read_text(encoding="utf-8")
    except OSError as exc:
        raise FileNotFoundError(
            f"{template}: the state table is defined there; run from a checkout of azevac"
        ) from exc
    document = yaml.load(text, Loader=CfnLoader)  # noqa: S506 - a SafeLoader subclass
    try:
        properties: dict[str, Any] = document["Resources"][RESOURCE]["Properties"]
    except (KeyError, TypeError) as exc:
        raise ValueError(f"{template}: no Resources.{RESOURCE}.Properties") from exc
    return properties


def packaged_properties() -> dict[str, Any]:
    """The StateTable properties as shipped in the package (equal to template.yaml's)."""
    properties: dict[str, Any] = json.loads(PACKAGED.read_text(encoding="utf-8"))
    return properties


def create_state_table(client: DynamoDBClient, name: str, template: Path | None = None) -> None:
    """Create table `name` with the template's keys, indexes, billing, encryption and TTL."""
    properties = packaged_properties() if template is None else state_table_properties(template)
    kwargs: dict[str, Any] = {key: properties[key] for key in _CREATE_KEYS if key in properties}
    sse = properties.get("SSESpecification")
    if sse is not None:
        kwargs["SSESpecification"] = {"Enabled": bool(sse.get("SSEEnabled", False))}
    client.create_table(TableName=name, **kwargs)
    ttl = properties.get("TimeToLiveSpecification")
    if ttl is not None:
        client.update_time_to_live(
            TableName=name,
            TimeToLiveSpecification={
                "AttributeName": ttl["AttributeName"],
                "Enabled": bool(ttl.get("Enabled", True)),
            },
        )


if __name__ == "__main__":
    PACKAGED.write_text(json.dumps(state_table_properties(), indent=2) + "\n", encoding="utf-8")
