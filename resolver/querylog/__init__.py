"""The query log: one JSON line per answer, written off the query path by a thread.

The query path hands a tuple of raw values to `QueryLogWriter.submit`; formatting,
anonymising, writing and rotating all happen in the writer's thread.
"""
