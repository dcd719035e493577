"""One folder per AWS service; each `__init__` defines `SERVICE` (see core/registry.py)."""
