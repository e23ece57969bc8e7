"""Dated blocklists: the pure engine (model, names, index, regexes, time)."""
