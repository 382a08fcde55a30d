"""The `lamin` command line."""
