"""Activation: rules that turn changes into events, delivered to webhooks and a stream."""
