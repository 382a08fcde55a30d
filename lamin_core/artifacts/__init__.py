"""What artifacts do: create (from paths and objects), save (dedupe, version, copy), access (load, cache, open)."""
