"""Calculated insights: aggregates over calls and people, kept incrementally. Pure parts."""
