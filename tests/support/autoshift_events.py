"""ARC autoshift events as EventBridge delivers them now, from the documented example
(https://docs.aws.amazon.com/r53recovery/latest/dg/eventbridge-zonal-autoshift.html: "Autoshift
In Progress" with observer notification enabled), stamped with the time of the call."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from evacuation.autoshift_events import COMPLETED, IN_PROGRESS, SOURCE
from tests.support.alarm_events import ACCOUNT, REGION, stamp

OBSERVER_NOTES = (
    "AWS has started an autoshift for an impaired Availability Zone. This notification is "
    "separate from autoshift notifications for resources, if any, that you have configured for "
    "zonal autoshift. For details, see the Developer Guide."
)


def autoshift_event(
    away_from: str = "use1-az1",
    detail_type: str = IN_PROGRESS,
    *,
    account: str = ACCOUNT,
    region: str = REGION,
    age: timedelta = timedelta(0),
    event_id: str | None = None,
) -> dict[str, Any]:
    """The EventBridge event ARC sends when AWS starts (or, `COMPLETED`, ends) an autoshift
    away from `away_from`, sent `age` ago."""
    return {
        "version": "0",
        "id": event_id or str(uuid.uuid4()),
        "detail-type": detail_type,
        "source": SOURCE,
        "account": account,
        "time": stamp(datetime.now(UTC) - age),
        "region": region,
        "resources": [],
        "detail": {
            "version": "0.0.1",
            "data": "",
            "metadata": {"awayFrom": away_from, "notes": OBSERVER_NOTES},
        },
    }


def completed_event(away_from: str = "use1-az1", **kwargs: Any) -> dict[str, Any]:
    """ARC's "Autoshift Completed" event (no example is documented: the same shape)."""
    return autoshift_event(away_from, COMPLETED, **kwargs)
