"""Changing list files from the command line: only the changed lines, checked, atomically."""
