"""Identity stage: normalise identifiers and resolve every call to one unified person."""
