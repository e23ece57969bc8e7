"""The query log: writing records off the query path, and reading them back."""
