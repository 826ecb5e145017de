"""Segments: typed conditions over context attributes, and their exact membership."""
