"""Stateful fake of the ElastiCache replication-group calls azevac makes, for tests and drills.

moto's ElastiCache models one member per replication group and its ModifyReplicationGroup
returns 200 and changes nothing (aws-facts §8), so a primary move cannot be tested on it. This
fake answers botocore's ``before-send.elasticache`` event (more specific than moto's generic
``before-send``, so it wins; aws-facts §2.1): botocore still validates and serializes every
request (query protocol) and parses every response; the fake checks each response against the
operation's output shape before it serializes it as the query protocol's XML.

Rules modelled, each with its AWS page ("inferred" marks what the docs do not say, where the fake
takes the stricter reading):

- Operations: DescribeReplicationGroups and ModifyReplicationGroup (``PrimaryClusterId``, or
  the failover settings, below). Any other operation, TestFailover included, answers HTTP 501
  ``NotImplemented`` (fake-only; botocore emits ``before-send`` to every handler, so under
  ``mock_aws`` moto's stubber also runs and raises NotImplementedError for what it lacks, as it
  does for TestFailover). azevac never calls TestFailover: AWS says it "is not designed to be an
  operational tool" and may block it during large events
  (https://docs.aws.amazon.com/AmazonElastiCache/latest/APIReference/API_TestFailover.html);
  :meth:`ElastiCacheFake.operations` lets a test check that.
- Groups exist only through :meth:`ElastiCacheFake.create_replication_group`. A cluster-mode
  disabled group has one node group (``0001``) whose members carry ``CurrentRole`` primary or
  replica and ``PreferredAvailabilityZone`` (a zone *name*)
  (https://docs.aws.amazon.com/AmazonElastiCache/latest/APIReference/API_NodeGroupMember.html:
  CurrentRole "is only applicable for Valkey or Redis OSS (cluster mode disabled) replication
  groups"); a cluster-mode enabled group has one node group per shard and no ``CurrentRole``.
- DescribeReplicationGroups: one group by ``ReplicationGroupId`` (unknown:
  ``ReplicationGroupNotFoundFault``, 404), or all of them in pages of ``MaxRecords`` (default
  100, "minimum 20; maximum 100", else ``InvalidParameterValue``) with an opaque ``Marker``
  (https://docs.aws.amazon.com/AmazonElastiCache/latest/APIReference/API_DescribeReplicationGroups.html).
- ModifyReplicationGroup ``PrimaryClusterId``: "For replication groups with a single primary ...
  ElastiCache promotes the specified cluster ... to the primary role. The nodes of all other
  clusters in the replication group are read replicas"
  (https://docs.aws.amazon.com/AmazonElastiCache/latest/APIReference/API_ModifyReplicationGroup.html).
  - On a cluster-mode enabled group: ``InvalidParameterCombination`` (inferred from "with a
    single primary"; the code is the fake's choice).
  - While Multi-AZ or automatic failover is enabled: ``InvalidParameterCombination``. "You can't
    promote a read replica to primary while Multi-AZ with Automatic Failover is enabled on the
    replication group"
    (https://docs.aws.amazon.com/AmazonElastiCache/latest/dg/Replication.PromoteReplica.html);
    the error code is not documented (inferred).
  - A cluster that is not a member: ``InvalidParameterValue`` (inferred).
  - A group not ``available``: ``InvalidReplicationGroupState`` (the fault the API page lists).
  - ``ApplyImmediately`` true: applied "asynchronously and as soon as possible": the answer and
    the next :attr:`ElastiCacheFake.promotion_reads` describes show status ``modifying`` and
    ``PendingModifiedValues.PrimaryClusterId``, then the roles have moved and the group is
    ``available``. False (the default): pending until "the next maintenance reboot", which the
    fake never reaches (both on the API page).
- ModifyReplicationGroup ``AutomaticFailoverEnabled`` / ``MultiAZEnabled`` (both given, with
  ``ApplyImmediately``; never with ``PrimaryClusterId``, which the fake refuses to combine), the
  first and third steps of AWS's procedure for promoting a replica on a Multi-AZ group: "Modify
  the replication group to disable Multi-AZ ... Promote the read replica to primary. Modify the
  replication group to re-enable Multi-AZ" (PromoteReplica page above).
  - Multi-AZ on with automatic failover off: ``InvalidParameterCombination`` ("If true,
    AutomaticFailoverEnabled must also be enabled" is the CloudFormation/Terraform reading of
    the API; the API page says only "A flag to indicate MultiAZ is enabled": inferred).
  - Enabling on a group without a replica: ``InvalidParameterCombination`` ("You can only enable
    Multi-AZ on a ... cluster that has at least one available read replica",
    https://docs.aws.amazon.com/AmazonElastiCache/latest/dg/AutoFailover.html; code inferred).
  - Disabling automatic failover on a cluster-mode enabled group: ``InvalidParameterCombination``
    ("AutomaticFailoverEnabled must be enabled for Valkey or Redis OSS (cluster mode enabled)
    replication groups",
    https://docs.aws.amazon.com/AmazonElastiCache/latest/APIReference/API_CreateReplicationGroup.html).
  - A group not ``available``: ``InvalidReplicationGroupState``.
  - Applied asynchronously, like a promotion: for :attr:`ElastiCacheFake.promotion_reads`
    describes the group is ``modifying`` with ``AutomaticFailover`` ``enabling`` / ``disabling``
    and ``PendingModifiedValues.AutomaticFailoverStatus``; then the new values, ``available``.
- Errors are the query protocol's ``ErrorResponse`` with ``Code`` and ``Message``.
"""

from __future__ import annotations

import functools
import threading
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast
from urllib.parse import parse_qs
from xml.etree import ElementTree

import boto3
import botocore.session
from botocore.awsrequest import AWSPreparedRequest, AWSResponse, HTTPHeaders
from botocore.model import ListShape, ServiceModel, Shape, StructureShape

from evacuation.emulator.zonal_shift import ZonalShiftFakeError, _check_enums, _validate_shape

SERVICE_NAME = "elasticache"
EVENT_NAME = "before-send.elasticache"
PAGE_MIN, PAGE_MAX = 20, 100
PROMOTE_DOC = (
    "https://docs.aws.amazon.com/AmazonElastiCache/latest/dg/Replication.PromoteReplica.html"
)
Params = dict[str, str]


class ElastiCacheFakeError(ZonalShiftFakeError):
    """The fake was misused, or it built a response the real API could not return."""


@functools.cache
def service_model() -> ServiceModel:
    return botocore.session.get_session().get_service_model(SERVICE_NAME)


class _ApiError(Exception):
    def __init__(self, code: str, status: int, message: str) -> None:
        super().__init__(message)
        self.code, self.status, self.message = code, status, message


@dataclass
class _Member:
    cluster_id: str
    zone: str
    """PreferredAvailabilityZone: a zone name."""
    role: str


@dataclass
class _Group:
    group_id: str
    members: list[_Member]
    cluster_mode: bool
    automatic_failover: str
    multi_az: str
    status: str = "available"
    pending_primary: str | None = None
    pending_failover: tuple[bool, bool] | None = None
    """(automatic failover, Multi-AZ) being applied."""
    reads_left: int = 0
    shards: int = 1
    calls: list[str] = field(default_factory=list)

    def view(self, region: str) -> dict[str, Any]:
        if self.cluster_mode:
            node_groups = [
                {
                    "NodeGroupId": f"{shard + 1:04d}",
                    "Status": self.status,
                    "NodeGroupMembers": [
                        {
                            "CacheClusterId": m.cluster_id,
                            "CacheNodeId": "0001",
                            "PreferredAvailabilityZone": m.zone,
                        }
                        for m in self.members[shard :: self.shards]
                    ],
                }
                for shard in range(self.shards)
            ]
        else:
            node_groups = [
                {
                    "NodeGroupId": "0001",
                    "Status": self.status,
                    "NodeGroupMembers": [
                        {
                            "CacheClusterId": m.cluster_id,
                            "CacheNodeId": "0001",
                            "PreferredAvailabilityZone": m.zone,
                            "CurrentRole": m.role,
                        }
                        for m in self.members
                    ],
                }
            ]
        body: dict[str, Any] = {
            "ReplicationGroupId": self.group_id,
            "Description": f"{self.group_id} (fake)",
            "Status": self.status,
            "MemberClusters": [m.cluster_id for m in self.members],
            "NodeGroups": node_groups,
            "AutomaticFailover": self.automatic_failover,
            "MultiAZ": self.multi_az,
            "ClusterEnabled": self.cluster_mode,
            "ClusterMode": "enabled" if self.cluster_mode else "disabled",
            "ARN": f"arn:aws:elasticache:{region}:123456789012:replicationgroup:{self.group_id}",
            "Engine": "valkey",
        }
        if self.pending_primary is not None:
            body["PendingModifiedValues"] = {"PrimaryClusterId": self.pending_primary}
        if self.pending_failover is not None:
            failover, _ = self.pending_failover
            body["AutomaticFailover"] = "enabling" if failover else "disabling"
            body["PendingModifiedValues"] = {
                "AutomaticFailoverStatus": "enabled" if failover else "disabled"
            }
        return body


class _RawBody:
    def __init__(self, data: bytes) -> None:
        self._data = data

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._data


def _to_xml(parent: ElementTree.Element, name: str, value: Any, shape: Shape) -> None:
    """Serialize `value` the query protocol's way (member names, list item names)."""
    element = ElementTree.SubElement(parent, name)
    if isinstance(shape, StructureShape):
        for member, member_shape in shape.members.items():
            if member in value:
                wire = member_shape.serialization.get("name", member)
                _to_xml(element, wire, value[member], member_shape)
    elif isinstance(shape, ListShape):
        item_name = shape.member.serialization.get("name", "member")
        for item in value:
            _to_xml(element, item_name, item, shape.member)
    elif isinstance(value, bool):
        element.text = "true" if value else "false"
    elif isinstance(value, datetime):
        element.text = value.isoformat()
    else:
        element.text = str(value)


def _response(url: str, status: int, data: bytes) -> AWSResponse:
    headers = {"Content-Type": "text/xml", "Content-Length": str(len(data))}
    return AWSResponse(url, status, HTTPHeaders.from_dict(headers), _RawBody(data))


class ElastiCacheFake:
    """In-memory replication groups for one region; see the module docstring for semantics."""

    def __init__(self, region: str = "us-east-1", promotion_reads: int = 1) -> None:
        self.region = region
        self.promotion_reads = promotion_reads
        """Describes that still show a promotion under way (AWS applies it asynchronously)."""
        self.calls: list[tuple[str, Params]] = []
        self._groups: dict[str, _Group] = {}
        self._lock = threading.RLock()
        self._unique_id = f"azevac-elasticache-fake-{id(self)}"

    # -- wiring ----------------------------------------------------------------------------------

    def install(self, target: Any) -> None:
        """Answer elasticache requests of a boto3 Session (clients created after this) or client."""
        events = target.events if isinstance(target, boto3.session.Session) else target.meta.events
        events.register(EVENT_NAME, cast("Any", self._handle), unique_id=self._unique_id)

    # -- seeding and reading back ------------------------------------------------------------------

    def create_replication_group(
        self,
        group_id: str,
        members: Sequence[tuple[str, str]],
        *,
        cluster_mode: bool = False,
        shards: int = 1,
        automatic_failover: bool = False,
        multi_az: bool = False,
    ) -> str:
        """A group of (cache cluster id, zone name) members; the first is the primary."""
        if not members or len({m for m, _ in members}) != len(members):
            raise ElastiCacheFakeError(f"members must be distinct cluster ids: {members!r}")
        if multi_az and not automatic_failover:
            # "Multi-AZ ... requires automatic failover" (ModifyReplicationGroup, MultiAZEnabled)
            raise ElastiCacheFakeError("Multi-AZ needs automatic failover")
        with self._lock:
            if group_id in self._groups:
                raise ElastiCacheFakeError(f"{group_id} exists")
            self._groups[group_id] = _Group(
                group_id,
                [
                    _Member(cid, zone, "primary" if index == 0 else "replica")
                    for index, (cid, zone) in enumerate(members)
                ],
                cluster_mode,
                "enabled" if automatic_failover else "disabled",
                "enabled" if multi_az else "disabled",
                shards=shards,
            )
        return group_id

    def primary_of(self, group_id: str) -> tuple[str, str]:
        """(the primary's cache cluster id, its zone name), as the fake holds it now."""
        with self._lock:
            member = next(m for m in self._groups[group_id].members if m.role == "primary")
            return member.cluster_id, member.zone

    def promote_now(self, group_id: str, cluster_id: str) -> None:
        """Someone else (an operator, ElastiCache's own failover) makes `cluster_id` primary."""
        with self._lock:
            self._promote(self._groups[group_id], cluster_id)

    def complete_promotions(self) -> None:
        """ElastiCache finishes every modification under way (the next describe shows it)."""
        with self._lock:
            for group in self._groups.values():
                if group.status == "modifying":
                    self._complete(group)

    def failover_of(self, group_id: str) -> tuple[str, str]:
        """(AutomaticFailover, MultiAZ) as the fake holds them now."""
        with self._lock:
            group = self._groups[group_id]
            return group.automatic_failover, group.multi_az

    def operations(self) -> list[str]:
        with self._lock:
            return [op for op, _ in self.calls]

    # -- handler ---------------------------------------------------------------------------------

    def _handle(self, request: AWSPreparedRequest, **_: Any) -> AWSResponse:
        raw = request.body or b""
        if hasattr(raw, "read"):
            raw = raw.read()
        text = raw.decode() if isinstance(raw, bytes) else str(raw)
        params = {k: v[0] for k, v in parse_qs(text, keep_blank_values=True).items()}
        operation = params.pop("Action", "")
        params.pop("Version", None)
        with self._lock:
            self.calls.append((operation, params))
            try:
                body = self._answer(operation, params)
            except _ApiError as err:
                return _response(request.url, err.status, self._error(err))
        return _response(request.url, 200, self._result(operation, body))

    def _answer(self, operation: str, params: Params) -> dict[str, Any]:
        if operation == "DescribeReplicationGroups":
            return self._describe(params)
        if operation == "ModifyReplicationGroup":
            return self._modify(params)
        raise _ApiError("NotImplemented", 501, f"ElastiCacheFake: no {operation}")

    def _describe(self, params: Params) -> dict[str, Any]:
        if "ReplicationGroupId" in params:
            group = self._group(params["ReplicationGroupId"])
            return {"ReplicationGroups": [self._read(group)]}
        size = int(params.get("MaxRecords", PAGE_MAX))
        if not PAGE_MIN <= size <= PAGE_MAX:
            raise _ApiError("InvalidParameterValue", 400, f"MaxRecords must be 20-100: {size}")
        ids = sorted(self._groups)
        start = ids.index(params["Marker"]) if params.get("Marker") in ids else 0
        page = ids[start : start + size]
        body: dict[str, Any] = {"ReplicationGroups": [self._read(self._groups[g]) for g in page]}
        if start + size < len(ids):
            body["Marker"] = ids[start + size]
        return body

    def _modify(self, params: Params) -> dict[str, Any]:
        given = set(params) - {"ReplicationGroupId", "ApplyImmediately"}
        if given == {"AutomaticFailoverEnabled", "MultiAZEnabled"}:
            return self._modify_failover(params)
        if given != {"PrimaryClusterId"}:
            raise ElastiCacheFakeError(
                "ModifyReplicationGroup: the fake models PrimaryClusterId alone, or "
                f"AutomaticFailoverEnabled with MultiAZEnabled; got {sorted(params)}"
            )
        group = self._group(params["ReplicationGroupId"])
        target = params["PrimaryClusterId"]
        if group.cluster_mode:
            raise _ApiError(
                "InvalidParameterCombination", 400,
                "PrimaryClusterId applies to replication groups with a single primary",
            )  # fmt: skip
        if group.automatic_failover in ("enabled", "enabling") or group.multi_az == "enabled":
            raise _ApiError(
                "InvalidParameterCombination", 400,
                "Cannot promote a replica while Multi-AZ with automatic failover is enabled "
                f"({PROMOTE_DOC})",
            )  # fmt: skip
        if target not in {m.cluster_id for m in group.members}:
            raise _ApiError(
                "InvalidParameterValue", 400, f"{target} is not a member of {group.group_id}"
            )
        if group.status != "available":
            raise _ApiError(
                "InvalidReplicationGroupState", 400, f"{group.group_id} is {group.status}"
            )
        group.pending_primary = target
        if params.get("ApplyImmediately") == "true":
            group.status, group.reads_left = "modifying", self.promotion_reads
            if group.reads_left == 0:
                self._promote(group, target)
        return {"ReplicationGroup": group.view(self.region)}

    def _modify_failover(self, params: Params) -> dict[str, Any]:
        group = self._group(params["ReplicationGroupId"])
        failover = params["AutomaticFailoverEnabled"] == "true"
        multi_az = params["MultiAZEnabled"] == "true"
        if multi_az and not failover:
            raise _ApiError(
                "InvalidParameterCombination", 400, "Multi-AZ requires automatic failover"
            )
        if group.cluster_mode and not failover:
            raise _ApiError(
                "InvalidParameterCombination", 400,
                "automatic failover must be enabled for cluster mode enabled replication groups",
            )  # fmt: skip
        if failover and len(group.members) < 2:
            raise _ApiError(
                "InvalidParameterCombination", 400,
                "automatic failover needs at least one read replica",
            )  # fmt: skip
        if group.status != "available":
            raise _ApiError(
                "InvalidReplicationGroupState", 400, f"{group.group_id} is {group.status}"
            )
        if params.get("ApplyImmediately") != "true":
            raise ElastiCacheFakeError("the fake models the failover settings applied immediately")
        group.pending_failover = (failover, multi_az)
        group.status, group.reads_left = "modifying", self.promotion_reads
        view = group.view(self.region)
        if group.reads_left == 0:
            self._complete(group)
        return {"ReplicationGroup": view}

    # -- helpers ---------------------------------------------------------------------------------

    def _group(self, group_id: str) -> _Group:
        if group_id not in self._groups:
            raise _ApiError("ReplicationGroupNotFoundFault", 404, f"{group_id} not found")
        return self._groups[group_id]

    def _read(self, group: _Group) -> dict[str, Any]:
        """A describe: a promotion under way completes after `promotion_reads` of them."""
        view = group.view(self.region)
        if group.status == "modifying":
            group.reads_left -= 1
            if group.reads_left < 0:
                self._complete(group)
                view = group.view(self.region)
        return view

    @classmethod
    def _complete(cls, group: _Group) -> None:
        if group.pending_primary is not None:
            cls._promote(group, group.pending_primary)
        if group.pending_failover is not None:
            failover, multi_az = group.pending_failover
            group.automatic_failover = "enabled" if failover else "disabled"
            group.multi_az = "enabled" if multi_az else "disabled"
            group.pending_failover = None
        group.status = "available"

    @staticmethod
    def _promote(group: _Group, cluster_id: str) -> None:
        for member in group.members:
            member.role = "primary" if member.cluster_id == cluster_id else "replica"
        group.status, group.pending_primary = "available", None

    def _result(self, operation: str, body: Mapping[str, Any]) -> bytes:
        op_model = service_model().operation_model(operation)
        shape = op_model.output_shape
        if shape is None:
            raise ElastiCacheFakeError(f"{operation} has no output")
        _validate_shape(body, shape, operation)
        _check_enums(body, shape, operation)
        ns = service_model().metadata["xmlNamespace"]
        root = ElementTree.Element(f"{operation}Response", xmlns=ns)
        wrapper = shape.serialization.get("resultWrapper", f"{operation}Result")
        result = ElementTree.SubElement(root, wrapper)
        for member, member_shape in shape.members.items():
            if member in body:
                _to_xml(result, member, body[member], member_shape)
        meta = ElementTree.SubElement(root, "ResponseMetadata")
        ElementTree.SubElement(meta, "RequestId").text = str(uuid.uuid4())
        return ElementTree.tostring(root)

    def _error(self, err: _ApiError) -> bytes:
        ns = service_model().metadata["xmlNamespace"]
        root = ElementTree.Element("ErrorResponse", xmlns=ns)
        error = ElementTree.SubElement(root, "Error")
        ElementTree.SubElement(error, "Type").text = "Sender"
        ElementTree.SubElement(error, "Code").text = err.code
        ElementTree.SubElement(error, "Message").text = err.message
        ElementTree.SubElement(root, "RequestId").text = str(uuid.uuid4())
        return ElementTree.tostring(root)
