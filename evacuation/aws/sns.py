"""SNS: publish a notification for humans."""

from __future__ import annotations

from functools import partial

from evacuation.aws.clients import AwsClients, Caller


class SnsGateway:
    def __init__(self, clients: AwsClients, call: Caller) -> None:
        self._clients = clients
        self._call = call

    def publish(self, topic_arn: str, subject: str, message: str) -> None:
        sns = self._clients.sns()
        publish = partial(sns.publish, TopicArn=topic_arn, Subject=subject[:100], Message=message)
        self._call("sns.Publish", publish)
