"""A compiled Flink script as data: its SET options and its statements (Flink-dialect ASTs).

Used wherever a compiled script is executed somewhere else than the cluster it was written for:
the embedded runner and the planner check in CI swap the Kafka source and the Iceberg sink for
connectors that ship with PyFlink, without touching the query itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import sqlglot
from sqlglot import exp

from .dialects.flink import StatementSet

D = "flink"


@dataclass
class FlinkScript:
    settings: dict[str, str]
    statements: list[exp.Expr] = field(default_factory=list)

    @classmethod
    def parse(cls, text: str) -> "FlinkScript":
        settings: dict[str, str] = {}
        statements: list[exp.Expr] = []
        for statement in sqlglot.parse(text, read=D):
            if statement is None:
                continue
            if isinstance(statement, exp.Set):
                for item in statement.expressions:
                    settings[item.this.this.name] = item.this.expression.name
                continue
            statements.append(statement)
        return cls(settings, statements)

    def tables(self) -> list[exp.Create]:
        return [s for s in self.statements if isinstance(s, exp.Create) and s.kind == "TABLE"]

    def inserts(self) -> list[exp.Insert]:
        """Every INSERT, those inside an EXECUTE STATEMENT SET included, in order."""
        found: list[exp.Insert] = []
        for statement in self.statements:
            if isinstance(statement, exp.Insert):
                found.append(statement)
            elif isinstance(statement, StatementSet):
                found += [s for s in statement.expressions if isinstance(s, exp.Insert)]
        return found

    def with_connectors(self, source_options: dict[str, str], sink_options: dict[str, str]) -> "FlinkScript":
        """A copy where every Kafka source reads `source_options` and every catalog sink becomes a
        temporary table named <table>__sink with `sink_options`; catalog/database DDL is dropped."""
        renamed: dict[str, exp.Table] = {}
        statements: list[exp.Expr] = []
        for statement in self.statements:
            if isinstance(statement, exp.Create) and statement.kind in ("CATALOG", "DATABASE", "SCHEMA"):
                continue
            statement = statement.copy()
            if isinstance(statement, exp.Create) and statement.kind == "TABLE":
                table = statement.this.this if isinstance(statement.this, exp.Schema) else statement.this
                options = dict(table_options(statement))
                if options.get("connector") == "kafka":
                    _set_options(statement, source_options, temporary=True)
                elif table.catalog:
                    local = exp.to_table(f"{table.name}__sink")
                    renamed[table.sql(D)] = local
                    table.replace(local)
                    statement.set("exists", False)
                    _set_options(statement, sink_options, temporary=True)
            else:
                for insert in [statement] if isinstance(statement, exp.Insert) else statement.find_all(exp.Insert):
                    target = insert_target(insert)
                    local = renamed.get(target.sql(D))
                    if local is not None:
                        target.replace(local.copy())
            statements.append(statement)
        return FlinkScript(dict(self.settings), statements)

    def sql(self) -> list[str]:
        return [s.sql(D) for s in self.statements]


def insert_target(insert: exp.Insert) -> exp.Table:
    """The table an INSERT writes (INSERT INTO t (cols) ... wraps it in a Schema)."""
    return insert.this if isinstance(insert.this, exp.Table) else insert.this.this


def table_options(create: exp.Create) -> list[tuple[str, str]]:
    properties = create.args.get("properties")
    if not properties:
        return []
    return [(p.this.name, p.args["value"].name) for p in properties.expressions
            if type(p) is exp.Property and isinstance(p.this, exp.Literal)]


def _set_options(create: exp.Create, options: dict[str, str], temporary: bool) -> None:
    items: list[exp.Expr] = [exp.TemporaryProperty()] if temporary else []
    items += [exp.Property(this=exp.Literal.string(k), value=exp.Literal.string(v)) for k, v in options.items()]
    create.set("properties", exp.Properties(expressions=items))
