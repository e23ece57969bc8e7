"""Reading list files: YAML with file:line marks, sources and their formats, the loader."""
