"""Activation: rules that turn changes into events, delivered through a durable outbox
(signed, retried webhooks; Salesforce records through the deliverer the composition root
registers) or the live server-sent-events stream."""

from __future__ import annotations

from contextsvc.activation import outbox
from contextsvc.activation.delivery import Deliverer, DueItem, Outcome
from contextsvc.activation.engine import Activation, Rule, new_rule
from contextsvc.activation.model import (
    ChangeEvent,
    Occurrence,
    RuleSpec,
    SalesforceTarget,
    Target,
    WebhookTarget,
    target_type,
)
from contextsvc.activation.outbox import Backoff
from contextsvc.activation.signing import sign, verify
from contextsvc.activation.stream import EventHub, StreamItem, item_of
from contextsvc.activation.targets import OutboundPolicy, UnsafeTarget
from contextsvc.activation.templates import PersonRef
from contextsvc.activation.webhooks import WebhookDispatcher

__all__ = [
    "Activation",
    "Backoff",
    "ChangeEvent",
    "Deliverer",
    "DueItem",
    "EventHub",
    "item_of",
    "StreamItem",
    "new_rule",
    "Occurrence",
    "OutboundPolicy",
    "Outcome",
    "outbox",
    "PersonRef",
    "Rule",
    "RuleSpec",
    "SalesforceTarget",
    "sign",
    "Target",
    "target_type",
    "UnsafeTarget",
    "verify",
    "WebhookDispatcher",
    "WebhookTarget",
]
