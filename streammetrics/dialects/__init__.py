"""SQL dialects as shared instances: passing an instance to `.sql()` skips sqlglot's per-call
dialect lookup and construction (about 100 calls per compiled model).

Generating with `copy=False` (no defensive deep copy) is safe for the expression nodes we generate:
no transform of these dialects rewrites them in place. tests/test_golden.py compiles twice in one
process (parsed fragments are cached and shared) and compares byte for byte.
"""

from sqlglot.dialects.duckdb import DuckDB
from sqlglot.dialects.trino import Trino

from .flink import Flink

FLINK = Flink()
TRINO = Trino()
DUCKDB = DuckDB()
