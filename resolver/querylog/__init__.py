"""The query log: one JSON line per answer, written off the query path by a thread, and
read back for the report.

The query path hands a tuple of raw values to `QueryLogWriter.submit`; formatting,
anonymising, writing and rotating all happen in the writer's thread.
"""
