"""The stages a query passes through, one job each; assembled in resolver.pipeline."""
