"""Segments: typed conditions over context attributes, and their exact membership."""

from __future__ import annotations

from contextsvc.segments.membership import Segments, SegmentView, Transition, members_page, midnight_rolls
from contextsvc.segments.model import LiveSegment, SegmentSpec

__all__ = ["LiveSegment", "members_page", "midnight_rolls", "Segments", "SegmentSpec", "SegmentView", "Transition"]
