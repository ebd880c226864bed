"""streammetrics: declarative streaming metrics compiled to Flink SQL and Trino reconciliation queries."""

__version__ = "0.1.0"
