"""Segments: typed conditions over context attributes, and their exact membership."""

from __future__ import annotations

from contextsvc.segments.model import LiveSegment, SegmentSpec
from contextsvc.segments.membership import SegmentView, Segments, Transition, members_page, midnight_rolls

__all__ = ["LiveSegment", "members_page", "midnight_rolls", "Segments", "SegmentSpec", "SegmentView", "Transition"]
