"""Dated blocklists: the data model, loading, indexing and time."""
