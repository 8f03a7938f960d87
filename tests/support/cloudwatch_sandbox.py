"""CloudWatch's alarm-definition calls for `make detect-validate`'s tests, on moto.

moto (5.2) serves PutMetricAlarm, PutInsightRule, DescribeAlarms, DescribeInsightRules,
DeleteAlarms and DeleteInsightRules, but not PutCompositeAlarm ("The put_composite_alarm action
has not been implemented"). This answers botocore's ``before-call.cloudwatch.<Operation>``
events, which botocore emits after it has validated and serialized the request and which stop at
the first answer (``emit_until_response``: an answer here is the only one, moto's ``before-send``
stubber never sees that request; a ``before-send`` answer would not stop moto's stubber, which
botocore also calls and which raises NotImplementedError for PutCompositeAlarm). Returning None
hands the request on to moto.

- Records every PutMetricAlarm, PutCompositeAlarm and PutInsightRule request body as botocore
  serialized it (awsJson1_0 for CloudWatch), in order.
- `refuse` names alarms or rules to answer with a 400 ValidationError and the given message,
  as AWS would for an expression it cannot parse; nothing is stored.
- PutCompositeAlarm: refused when its rule names an alarm that does not exist (inferred: the
  composite's children must exist; the fake takes the stricter reading); else stored in moto's
  CloudWatch backend through the method moto itself uses for composites (`put_metric_alarm` with
  a `rule`), so DescribeAlarms lists it under CompositeAlarms and DeleteAlarms removes it.
- DeleteAlarms with more than one composite alarm is refused: "this total can include no more
  than one composite alarm"
  (https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_DeleteAlarms.html).
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Mapping
from typing import Any

import boto3
from moto.cloudwatch.models import cloudwatch_backends
from moto.core import DEFAULT_ACCOUNT_ID

from evacuation.emulator.faults import FakeHttp, error_response

_STATE_FUNCTION = re.compile(r"""\b(?:ALARM|OK|INSUFFICIENT_DATA)\(\s*"?([^")]+?)"?\s*\)""")
PUTS = ("PutMetricAlarm", "PutCompositeAlarm", "PutInsightRule")
Answer = tuple[FakeHttp, dict[str, Any]]


class CloudWatchSandbox:
    def __init__(self, region: str = "us-east-1", refuse: Mapping[str, str] | None = None) -> None:
        self.region = region
        self.refuse = dict(refuse or {})
        self.requests: list[tuple[str, dict[str, Any]]] = []
        self.deletes: list[list[str]] = []
        self._lock = threading.Lock()

    def install(self, session: boto3.Session) -> None:
        """For clients the session makes after this."""
        for operation in (*PUTS, "DeleteAlarms"):
            session.events.register(
                f"before-call.cloudwatch.{operation}",
                self._handle,
                unique_id=f"cloudwatch-sandbox-{operation}-{id(self)}",
            )

    def sent(self, operation: str) -> list[dict[str, Any]]:
        with self._lock:
            return [body for op, body in self.requests if op == operation]

    @property
    def _backend(self) -> Any:
        return cloudwatch_backends[DEFAULT_ACCOUNT_ID][self.region]

    def _handle(self, model: Any, params: dict[str, Any], **_: Any) -> Answer | None:
        operation = model.name
        body = json.loads(params.get("body") or b"{}")
        with self._lock:
            if operation == "DeleteAlarms":
                return self._delete(body)
            self.requests.append((operation, body))
            name = body.get("RuleName") or body.get("AlarmName")
            if name in self.refuse:
                return _error(self.refuse[name])
            if operation != "PutCompositeAlarm":
                return None  # moto answers
            missing = sorted(set(_STATE_FUNCTION.findall(body["AlarmRule"])) - set(self._alarms()))
            if missing:
                return _error(f"Could not save the composite alarm: {missing} do not exist")
            self._backend.put_metric_alarm(
                name=body["AlarmName"],
                namespace=None,
                metric_name=None,
                comparison_operator=None,
                evaluation_periods=None,
                period=None,
                threshold=None,
                statistic=None,
                description=body.get("AlarmDescription"),
                dimensions=[],
                alarm_actions=body.get("AlarmActions", []),
                ok_actions=body.get("OKActions", []),
                insufficient_data_actions=body.get("InsufficientDataActions", []),
                actions_enabled=body.get("ActionsEnabled", True),
                rule=body["AlarmRule"],
            )
            return FakeHttp(200), {"ResponseMetadata": {"HTTPStatusCode": 200}}

    def _alarms(self) -> dict[str, Any]:
        return dict(self._backend.alarms)

    def _delete(self, body: dict[str, Any]) -> Answer | None:
        names = list(body.get("AlarmNames", []))
        self.deletes.append(names)
        alarms = self._alarms()
        composites = [n for n in names if n in alarms and alarms[n].rule is not None]
        if len(composites) > 1:
            return _error("You can delete no more than one composite alarm at a time")
        return None  # moto deletes


def _error(message: str) -> Answer:
    return error_response("ValidationError", 400, message)
