"""Activation: rules that turn changes into events, delivered through a durable
webhook outbox (signed, retried) or the live server-sent-events stream."""

from __future__ import annotations

from contextsvc.activation.model import ChangeEvent, Occurrence, RuleSpec, WebhookTarget
from contextsvc.activation.engine import Activation, Rule, new_rule
from contextsvc.activation import outbox
from contextsvc.activation.outbox import Backoff
from contextsvc.activation.signing import sign, verify
from contextsvc.activation.webhooks import WebhookDispatcher
from contextsvc.activation.stream import EventHub
from contextsvc.activation.targets import OutboundPolicy, UnsafeTarget

__all__ = ["Activation", "Backoff", "ChangeEvent", "EventHub", "new_rule", "Occurrence", "outbox", "OutboundPolicy", "Rule", "RuleSpec", "sign", "UnsafeTarget", "verify", "WebhookDispatcher", "WebhookTarget"]
