"""Ingest stage: wire types, the disposition picklist, validation and normalisation."""
