"""Storage: paths and file systems (fsspec), keys, content hashing, copying, loading by suffix."""
