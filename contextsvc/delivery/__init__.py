"""Delivery edges: webhook dispatcher (HTTP out) and the server-sent-events hub."""
