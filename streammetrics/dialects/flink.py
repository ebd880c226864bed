"""sqlglot dialect for Apache Flink SQL (Calcite based, streaming flavoured).

Registered as the ``flink`` entry point of the ``sqlglot.dialects`` group, so
``sqlglot.parse_one(sql, read="flink")`` and ``expr.sql(dialect="flink")`` work.
"""

from __future__ import annotations

import typing as t

from sqlglot import exp, generator, parser, tokens
from sqlglot.dialects.dialect import Dialect, NormalizationStrategy, build_formatted_time
from sqlglot.dialects.hive import Hive
from sqlglot.tokens import Token, TokenType


class Descriptor(exp.Expression, exp.Func):
    """``DESCRIPTOR(col, ...)``: names the time attribute column of a window TVF."""

    arg_types = {"expressions": True}
    is_var_len_args = True


class TableArgument(exp.Expression):
    """``TABLE name [PARTITION BY expr, ...]``: the table argument of a table-valued function."""

    arg_types = {"this": True, "partition_by": False}


class WindowTVF(exp.Property):
    """A windowing table-valued function: TUMBLE, HOP, CUMULATE or SESSION.

    ``this`` is the function name (exp.Var), ``expressions`` the (positional or exp.Kwarg)
    arguments. It sits inside exp.TableFromRows (``FROM TABLE(...)``). It derives from
    exp.Property only so that other dialects, which have no generator for it, report it
    through sqlglot's unsupported channel (UnsupportedError under ErrorLevel.RAISE).
    """

    arg_types = {"this": True, "expressions": True}


class MetadataColumnConstraint(exp.Expression, exp.ColumnConstraintKind):
    """``METADATA [FROM 'key'] [VIRTUAL]`` on a column definition."""

    arg_types = {"this": False, "virtual": False}


class StatementSet(exp.Expression):
    """``EXECUTE STATEMENT SET BEGIN <insert>; ... END`` (also read from ``BEGIN STATEMENT SET;``)."""

    arg_types = {"expressions": True}


class Explain(exp.Expression):
    """``EXPLAIN [PLAN FOR | detail, ...] <statement>``."""

    arg_types = {"this": True, "details": False, "plan_for": False}


class StopJob(exp.Expression):
    """``STOP JOB 'id' [WITH SAVEPOINT] [WITH DRAIN]``."""

    arg_types = {"this": True, "savepoint": False, "drain": False}


class CreateFunction(exp.Expression):
    """``CREATE [TEMPORARY [SYSTEM]] FUNCTION [IF NOT EXISTS] name AS 'class' [LANGUAGE lang]
    [USING JAR 'path' [, JAR 'path']*]``."""

    arg_types = {"this": True, "class_name": True, "temporary": False, "system": False, "exists": False,
                 "language": False, "jars": False}


class AddJar(exp.Expression):
    """``ADD JAR 'path'``: adds a jar to the session's class path (and to the jobs it submits)."""

    arg_types = {"this": True}


WINDOW_TVFS = ("CUMULATE", "HOP", "SESSION", "TUMBLE")
SHOW_WORDS = ("CATALOGS", "COLUMNS", "CREATE", "CURRENT", "DATABASES", "FULL", "FUNCTIONS")
SHOW_WORDS += ("JARS", "JOBS", "MODULES", "PARTITIONS", "TABLES", "USER", "VIEWS")
SHOW_TARGETS = ("CATALOG", "DATABASE", "FROM", "IN", "TABLE", "VIEW")
EXPLAIN_DETAILS = ("CHANGELOG_MODE", "ESTIMATED_COST", "JSON_EXECUTION_PLAN", "PLAN_ADVICE")

# Words Flink 2.2 rejects as plain identifiers (checked with PyFlink 2.2.1): they get backticks.
RESERVED_KEYWORDS = set(
    """
    abs all allocate allow alter and any are array array_max_cardinality as asensitive
    asymmetric at atomic authorization avg begin begin_frame begin_partition between bigint
    binary bit blob boolean both buckets by bytes call called cardinality cascaded case cast
    catalogs ceil ceiling char character character_length char_length check classifier clob
    close coalesce collate collect column comment commit condition connect constraint
    contains continuous convert corr corresponding count covar_pop covar_samp create cross
    cube cume_dist current current_catalog current_date current_default_transform_group
    current_path current_role current_row current_schema current_time current_timestamp
    current_transform_group_for_type current_user cursor cycle databases date day deallocate
    dec decimal declare default define delete dense_rank deref describe deterministic
    disallow disconnect distinct distributed distribution double drop dynamic each element
    else empty end end_frame end_partition equals escape every except exec execute exists
    exp explain extend external extract false fetch filter first_value float floor for
    foreign frame_row free freshness from full function functions fusion get global grant
    group grouping groups having hold hour identity import in indicator initial inner inout
    insensitive insert int integer intersect intersection interval into is join json_array
    json_arrayagg json_exists json_object json_objectagg json_query json_value lag language
    large last_value lateral lead leading left like like_regex limit ln local localtime
    localtimestamp lower match matches match_number match_recognize materialized max
    measures member merge method min minus minute mod models modifies module modules month
    multiset national natural nchar nclob new next no none normalize not nth_value ntile
    null nullif numeric occurrences_regex octet_length of offset old omit on one only open
    or order out outer over overlaps overlay parameter partition pattern per percent
    percentile_cont percentile_disc percent_rank period permute portion position
    position_regex power precedes precision prepare prev primary procedure range rank raw
    reads real recursive ref references referencing refresh regr_avgx regr_avgy regr_count
    regr_intercept regr_r2 regr_slope regr_sxx regr_sxy regr_syy release reset result return
    returns revoke right rollback rollup row rows row_number running savepoint scope scroll
    search second seek select sensitive session_user set show similar skip smallint some
    specific specifictype sql sqlexception sqlstate sqlwarning sqrt start statement static
    stddev_pop stddev_samp stream string submultiset subset substring substring_regex
    succeeds sum symmetric system system_time system_user table tables tablesample then time
    timestamp timestamp_ltz timezone_hour timezone_minute tinyint to trailing translate
    translate_regex translation treat trigger trim trim_array true truncate uescape union
    unique unknown unnest update upper upsert use user using value values value_of varbinary
    varchar varying var_pop var_samp versioning views watermark watermarks when whenever
    where width_bucket window with within without year
    """.split()
)


def _unsupported(message: str) -> t.Callable[[generator.Generator, exp.Expr], str]:
    def _sql(self: generator.Generator, expression: exp.Expr) -> str:
        self.unsupported(message)
        return ""

    return _sql


def _window_tvf_parser(kind: str) -> t.Callable[[parser.Parser], exp.Expr]:
    return lambda self: self._parse_window_tvf(kind)  # type: ignore[attr-defined]


class Flink(Dialect):
    NORMALIZATION_STRATEGY = NormalizationStrategy.CASE_SENSITIVE
    ON_CONDITION_EMPTY_BEFORE_ERROR = True
    TIME_MAPPING = Hive.TIME_MAPPING
    DATE_FORMAT = "'yyyy-MM-dd'"
    TIME_FORMAT = "'yyyy-MM-dd HH:mm:ss'"

    class Tokenizer(tokens.Tokenizer):
        QUOTES = ["'"]
        IDENTIFIERS = ["`"]
        STRING_ESCAPES = ["'"]
        TOKENS_PRECEDING_HINT = {
            *tokens.Tokenizer.TOKENS_PRECEDING_HINT,
            TokenType.IDENTIFIER,
            TokenType.VAR,
        }

        KEYWORDS = {
            **tokens.Tokenizer.KEYWORDS,
            "BYTES": TokenType.VARBINARY,
            "ROW": TokenType.STRUCT,
            "STRING": TokenType.TEXT,
            "TIMESTAMP_LTZ": TokenType.TIMESTAMPTZ,
        }
        KEYWORDS.pop("EXPLAIN")

        COMMANDS = tokens.Tokenizer.COMMANDS - {TokenType.EXECUTE, TokenType.SHOW}

    class Parser(parser.Parser):
        FUNCTIONS = {
            **parser.Parser.FUNCTIONS,
            "DATE_FORMAT": build_formatted_time(exp.TimeToStr, "flink"),
            "DESCRIPTOR": lambda args: Descriptor(expressions=args),
            "TABLE": lambda args: exp.TableFromRows(this=args[0] if args else None),
        }

        FUNC_TOKENS = {*parser.Parser.FUNC_TOKENS, TokenType.SESSION}

        # TIMESTAMP(p) WITH LOCAL TIME ZONE is TIMESTAMP_LTZ(p), kept as TIMESTAMPTZ (an instant)
        TYPE_CONVERTERS = {
            exp.DType.TIMESTAMPLTZ: lambda dt: exp.DataType(
                this=exp.DType.TIMESTAMPTZ, expressions=dt.expressions
            ),
        }

        FUNCTION_PARSERS = {
            **parser.Parser.FUNCTION_PARSERS,
            "JSON_VALUE": lambda self: self._parse_flink_json_value(),
            **{name: _window_tvf_parser(name) for name in WINDOW_TVFS},
        }

        CONSTRAINT_PARSERS = {
            **parser.Parser.CONSTRAINT_PARSERS,
            "METADATA": lambda self: self._parse_metadata_constraint(),
            "WATERMARK": lambda self: self.expression(
                exp.WatermarkColumnConstraint(
                    this=self._match(TokenType.FOR) and self._parse_column(),
                    expression=self._match(TokenType.ALIAS) and self._parse_disjunction(),
                )
            ),
        }

        SCHEMA_UNNAMED_CONSTRAINTS = {*parser.Parser.SCHEMA_UNNAMED_CONSTRAINTS, "WATERMARK"}

        STATEMENT_PARSERS = {
            **parser.Parser.STATEMENT_PARSERS,
            TokenType.BEGIN: lambda self: self._parse_statement_set(begin=True),
            TokenType.EXECUTE: lambda self: self._parse_statement_set(begin=False),
            TokenType.SHOW: lambda self: self._parse_show(),
        }

        # Statements whose leading word is a plain identifier token in sqlglot's tokenizer
        WORD_STATEMENT_PARSERS = {
            "ADD": lambda self: self._parse_add_jar(),
            "EXPLAIN": lambda self: self._parse_explain(),
            "RESET": lambda self: self._parse_reset(),
            "STOP": lambda self: self._parse_stop_job(),
        }

        def _parse(self, parse_method, raw_tokens, sql=None):  # type: ignore[no-untyped-def]
            # same as the base method, but semicolons inside a statement set do not split
            self.reset()
            self.sql = sql or ""
            self._chunks = _statement_chunks(raw_tokens)
            return self._parse_batch_statements(parse_method=parse_method, sep_first_statement=False)

        def _parse_statement(self) -> exp.Expr | None:
            word = self._curr and self._curr.token_type == TokenType.VAR and self._curr.text
            if word and word.upper() in self.WORD_STATEMENT_PARSERS:
                self._advance()
                return self.WORD_STATEMENT_PARSERS[word.upper()](self)
            return super()._parse_statement()

        def _parse_create(self) -> exp.Expr:
            function = self._parse_create_function()
            if function is not None:
                return function
            if not self._match_text_seq("CATALOG"):
                return super()._parse_create()
            exists = self._parse_exists(not_=True)
            this = self._parse_id_var()
            self._match(TokenType.WITH)
            props = self._parse_wrapped_properties()
            properties = self.expression(exp.Properties(expressions=props)) if props else None
            return self.expression(
                exp.Create(this=this, kind="CATALOG", exists=exists, properties=properties)
            )

        def _parse_create_function(self) -> CreateFunction | None:
            index = self._index
            temporary = self._match_text_seq("TEMPORARY")
            system = temporary and self._match_text_seq("SYSTEM")
            if not self._match_text_seq("FUNCTION"):
                self._retreat(index)
                return None
            exists = self._parse_exists(not_=True)
            this = self._parse_table_parts()
            if not self._match(TokenType.ALIAS) or not self._match(TokenType.STRING):
                self.raise_error("Expected AS '<class name>' after CREATE FUNCTION <name>")
            class_name = exp.Literal.string(self._prev.text)
            language = self._match_text_seq("LANGUAGE") and self._advance_any() and exp.var(self._prev.text.upper())
            jars = []
            if self._match_text_seq("USING"):
                while self._match_text_seq("JAR"):
                    jars.append(self._parse_string())
                    if not self._match(TokenType.COMMA):
                        break
            return self.expression(CreateFunction(
                this=this, class_name=class_name, temporary=temporary or None, system=system or None,
                exists=exists or None, language=language or None, jars=jars or None,
            ))

        def _parse_add_jar(self) -> AddJar:
            if not self._match_text_seq("JAR") or not self._match(TokenType.STRING, advance=False):
                self.raise_error("Expected ADD JAR '<path>'")
            return self.expression(AddJar(this=self._parse_string()))

        def _parse_create_like(self) -> exp.LikeProperty:
            table = self._parse_table_parts(schema=True)
            options = []
            if self._match(TokenType.L_PAREN):
                while self._match_texts(("INCLUDING", "EXCLUDING")):
                    kind = self._prev.text.upper()
                    option = self._advance_any() and exp.var(self._prev.text.upper())
                    options.append(self.expression(exp.Property(this=kind, value=option)))
                self._match_r_paren()
            return self.expression(exp.LikeProperty(this=table, expressions=options))

        def _parse_flink_json_value(self) -> exp.Expr:
            node = self._parse_json_value()
            if node.args.get("returning") or node.args.get("on_condition"):
                return node
            return self.expression(exp.JSONExtractScalar(this=node.this, expression=node.args["path"]))

        def _parse_window_tvf(self, kind: str) -> exp.Expr:
            name = exp.var(kind)
            args = self._parse_csv(self._parse_window_tvf_arg)
            if not any(isinstance(a, (TableArgument, exp.Kwarg)) for a in args):
                # legacy group window function, e.g. GROUP BY TUMBLE(ts, INTERVAL '1' HOUR)
                return self.expression(exp.Anonymous(this=name.name, expressions=args))
            return self.expression(WindowTVF(this=name, expressions=args))

        def _parse_window_tvf_arg(self) -> exp.Expr | None:
            if self._match(TokenType.TABLE):
                table = self._parse_table_parts()
                partition = self._match(TokenType.PARTITION_BY) and self._parse_csv(
                    self._parse_disjunction
                )
                return self.expression(TableArgument(this=table, partition_by=partition or None))
            if self._next and self._next.token_type == TokenType.FARROW:
                name = self._parse_id_var(any_token=True)
                self._advance()
                return self.expression(exp.Kwarg(this=name, expression=self._parse_window_tvf_arg()))
            return self._parse_disjunction()

        def _parse_metadata_constraint(self) -> MetadataColumnConstraint:
            key = self._match(TokenType.FROM) and self._parse_string()
            virtual = self._match_text_seq("VIRTUAL")
            return self.expression(MetadataColumnConstraint(this=key, virtual=virtual))

        def _parse_table_parts(self, schema=False, is_db_reference=False, wildcard=False, fast=False):  # type: ignore[no-untyped-def]
            table = super()._parse_table_parts(schema, is_db_reference, wildcard, fast)
            if table and self._curr and self._curr.token_type == TokenType.HINT:
                self._advance()
                hint = exp.maybe_parse(self._prev_comments[0], into=exp.Hint, dialect=self.dialect)
                self._prev_comments = []  # the hint text is not also a comment
                table.set("hints", [hint])
                self._hinted_table = None if schema else table
            return table

        def _parse_table_hints(self) -> list[exp.Expr] | None:
            # table hints were attached right after the table name (before the alias)
            table, self._hinted_table = getattr(self, "_hinted_table", None), None
            return table.args.get("hints") if table else super()._parse_table_hints()

        def _parse_reset(self) -> exp.Set:
            key = self._parse_string()
            items = [self.expression(exp.SetItem(this=key))] if key else []
            return self.expression(exp.Set(expressions=items, unset=True))

        def _parse_statement_set(self, begin: bool) -> exp.Expr | None:
            if not self._match_text_seq("STATEMENT", "SET"):
                self.raise_error("Only BEGIN/EXECUTE STATEMENT SET is supported")
            self._match(TokenType.SEMICOLON) if begin else self._match(TokenType.BEGIN)
            statements = []
            while self._curr and not self._match(TokenType.END):
                statements.append(self._parse_statement())
                self._match(TokenType.SEMICOLON)
            return self.expression(StatementSet(expressions=statements))

        def _parse_explain(self) -> Explain:
            plan_for = self._match_text_seq("PLAN", "FOR")
            details = self._parse_csv(
                lambda: self._match_texts(EXPLAIN_DETAILS) and exp.var(self._prev.text.upper())
            )
            return self.expression(
                Explain(this=self._parse_statement(), details=details or None, plan_for=plan_for)
            )

        def _parse_stop_job(self) -> StopJob:
            if not self._match_text_seq("JOB"):
                self.raise_error("Expected STOP JOB")
            this = self._parse_string()
            savepoint = self._match_text_seq("WITH", "SAVEPOINT")
            drain = self._match_text_seq("WITH", "DRAIN")
            return self.expression(StopJob(this=this, savepoint=savepoint, drain=drain))

        def _parse_show(self) -> exp.Show:
            words = []
            while self._match_texts(SHOW_WORDS) or (words and self._match_texts(SHOW_TARGETS[:2])):
                words.append(self._prev.text.upper())
            if not words:
                self.raise_error("Unsupported SHOW statement")
            target = None
            if self._match_texts(SHOW_TARGETS):
                words.append(self._prev.text.upper()) if words[-1] == "CREATE" else None
                target = self._parse_table_parts()
            not_like = self._match_text_seq("NOT", "LIKE")
            like = (not_like or self._match(TokenType.LIKE)) and self._parse_string()
            like = exp.Not(this=like) if like and not_like else like
            return self.expression(exp.Show(this=" ".join(words), target=target, like=like))

    class Generator(generator.Generator):
        INSERT_OVERWRITE = " OVERWRITE"
        JSON_KEY_VALUE_PAIR_SEP = ","
        LIMIT_FETCH = "LIMIT"
        NVL2_SUPPORTED = False
        TABLE_HINTS = False  # emitted by table_parts, before the alias
        TRY_SUPPORTED = False

        RESERVED_KEYWORDS = RESERVED_KEYWORDS

        TYPE_MAPPING = {
            **generator.Generator.TYPE_MAPPING,
            exp.DType.STRUCT: "ROW",
            exp.DType.TIMESTAMPLTZ: "TIMESTAMP_LTZ",
            exp.DType.TIMESTAMPTZ: "TIMESTAMP_LTZ",
        }

        TRANSFORMS = {
            **generator.Generator.TRANSFORMS,
            Descriptor: lambda self, e: self.func("DESCRIPTOR", *e.expressions),
            Explain: lambda self, e: self.explain_sql(e),
            MetadataColumnConstraint: lambda self, e: self.metadatacolumnconstraint_sql(e),
            StatementSet: lambda self, e: self.statementset_sql(e),
            StopJob: lambda self, e: self.stopjob_sql(e),
            CreateFunction: lambda self, e: self.createfunction_sql(e),
            AddJar: lambda self, e: self.addjar_sql(e),
            TableArgument: lambda self, e: self.tableargument_sql(e),
            WindowTVF: lambda self, e: self.func(e.this.name, *e.expressions),
            exp.Array: lambda self, e: f"ARRAY[{self.expressions(e, flat=True)}]",
            exp.DateBin: _unsupported("DATE_BIN is not supported in Flink SQL"),
            exp.Filter: lambda self, e: f"{self.sql(e, 'this')} FILTER ({self.sql(e, 'expression').strip()})",
            exp.JSONExtractScalar: lambda self, e: self.func("JSON_VALUE", e.this, e.expression),
            exp.SchemaCommentProperty: lambda self, e: f"COMMENT {self.sql(e, 'this')}",
            exp.Qualify: _unsupported("QUALIFY is not supported in Flink SQL"),
            exp.TimeToStr: lambda self, e: self.func("DATE_FORMAT", e.this, self.format_time(e)),
        }

        PROPERTIES_LOCATION = {
            **generator.Generator.PROPERTIES_LOCATION,
            exp.LikeProperty: exp.Properties.Location.POST_SCHEMA,
            exp.PartitionedByProperty: exp.Properties.Location.POST_SCHEMA,
        }

        def datatype_sql(self, expression: exp.DataType) -> str:
            if not expression.expressions:
                if expression.is_type(exp.DType.VARCHAR, exp.DType.TEXT):
                    return "STRING"
                if expression.is_type(exp.DType.VARBINARY, exp.DType.BLOB):
                    return "BYTES"
            return super().datatype_sql(expression)

        def table_parts(self, expression: exp.Table) -> str:
            hints = "".join(self.sql(h) for h in expression.args.get("hints") or [])
            return f"{super().table_parts(expression)}{hints}"

        def tableargument_sql(self, expression: TableArgument) -> str:
            partition = self.expressions(expression, key="partition_by", flat=True)
            partition = f" PARTITION BY {partition}" if partition else ""
            return f"TABLE {self.sql(expression, 'this')}{partition}"

        def metadatacolumnconstraint_sql(self, expression: MetadataColumnConstraint) -> str:
            key = self.sql(expression, "this")
            key = f" FROM {key}" if key else ""
            return f"METADATA{key}{' VIRTUAL' if expression.args.get('virtual') else ''}"

        def lateral_sql(self, expression: exp.Lateral) -> str:
            if expression.args.get("view"):
                self.unsupported("LATERAL VIEW is not supported in Flink SQL")
            return super().lateral_sql(expression)

        def property_sql(self, expression: exp.Property) -> str:
            if type(expression) is exp.Property and isinstance(expression.parent, exp.LikeProperty):
                return f"{expression.name} {self.sql(expression, 'value')}"
            if type(expression) is exp.Property:
                return f"{self.property_name(expression, string_key=True)} = {self.sql(expression, 'value')}"
            return super().property_sql(expression)

        def likeproperty_sql(self, expression: exp.LikeProperty) -> str:
            options = " ".join(self.sql(e) for e in expression.expressions)
            return f"LIKE {self.sql(expression, 'this')}{f' ({options})' if options else ''}"

        def properties_sql(self, expression: exp.Properties) -> str:
            # Flink clause order: COMMENT, PARTITIONED BY, WITH (...), LIKE
            props = expression.expressions
            options = [p for p in props if type(p) is exp.Property]
            likes = [p for p in props if isinstance(p, exp.LikeProperty)]
            others = [p for p in props if p not in options and p not in likes]
            others.sort(key=lambda p: not isinstance(p, exp.SchemaCommentProperty))
            parts = [self.sql(p) for p in others]
            if options:
                sep = ",\n" if self.pretty else ", "
                body = sep.join(self.sql(p) for p in options)
                body = f"\n{self.indent(body)}\n" if self.pretty else body
                parts.append(f"WITH ({body})")
            parts.extend(self.sql(p) for p in likes)
            return self.sep().join(parts)

        def partitionedbyproperty_sql(self, expression: exp.PartitionedByProperty) -> str:
            this = expression.this
            cols = this.expressions if isinstance(this, (exp.Schema, exp.Tuple)) else [this]
            return f"PARTITIONED BY ({self.expressions(sqls=cols, flat=True)})"

        def insert_sql(self, expression: exp.Insert) -> str:
            # Flink only accepts the CTEs after INSERT INTO: INSERT INTO t WITH a AS (...) SELECT
            query = expression.expression
            if expression.args.get("with_") and isinstance(query, exp.Query) and not query.ctes:
                expression = expression.copy()
                expression.expression.set("with_", expression.args["with_"].pop())
            return super().insert_sql(expression)

        def create_sql(self, expression: exp.Create) -> str:
            if expression.kind != "CATALOG":
                return super().create_sql(expression)
            exists = " IF NOT EXISTS" if expression.args.get("exists") else ""
            props = self.sql(expression, "properties")
            props = f"{self.sep()}{props}" if props else ""
            return f"CREATE CATALOG{exists} {self.sql(expression, 'this')}{props}"

        def set_sql(self, expression: exp.Set) -> str:
            items = self.expressions(expression, flat=True)
            keyword = "RESET" if expression.args.get("unset") else "SET"
            return f"{keyword} {items}" if items else keyword

        def show_sql(self, expression: exp.Show) -> str:
            target = self.sql(expression, "target")
            like = expression.args.get("like")
            like_sql = ""
            if like:
                negate = isinstance(like, exp.Not)
                like_sql = f" {'NOT ' if negate else ''}LIKE {self.sql(like.this if negate else like)}"
            this = expression.name
            if target:
                sep = " " if this.startswith("CREATE") else " FROM "
                target = f"{sep}{target}"
            return f"SHOW {this}{target}{like_sql}"

        def statementset_sql(self, expression: StatementSet) -> str:
            stmts = [f"{self.sql(e)};" for e in expression.expressions]
            body = self.indent("\n".join(stmts)) if self.pretty else " ".join(stmts)
            return f"EXECUTE STATEMENT SET{self.sep()}BEGIN{self.sep()}{body}{self.sep()}END"

        def explain_sql(self, expression: Explain) -> str:
            details = self.expressions(expression, key="details", flat=True)
            prefix = " PLAN FOR" if expression.args.get("plan_for") else ""
            prefix += f" {details}" if details else ""
            return f"EXPLAIN{prefix}{self.sep()}{self.sql(expression, 'this')}"

        def createfunction_sql(self, expression: CreateFunction) -> str:
            kind = "TEMPORARY SYSTEM " if expression.args.get("system") else "TEMPORARY " if expression.args.get("temporary") else ""
            exists = " IF NOT EXISTS" if expression.args.get("exists") else ""
            language = f" LANGUAGE {self.sql(expression, 'language')}" if expression.args.get("language") else ""
            jars = expression.args.get("jars") or []
            using = " USING " + ", ".join(f"JAR {self.sql(j)}" for j in jars) if jars else ""
            return (f"CREATE {kind}FUNCTION{exists} {self.sql(expression, 'this')} AS "
                    f"{self.sql(expression, 'class_name')}{language}{using}")

        def addjar_sql(self, expression: AddJar) -> str:
            return f"ADD JAR {self.sql(expression, 'this')}"

        def stopjob_sql(self, expression: StopJob) -> str:
            savepoint = " WITH SAVEPOINT" if expression.args.get("savepoint") else ""
            drain = " WITH DRAIN" if expression.args.get("drain") else ""
            return f"STOP JOB {self.sql(expression, 'this')}{savepoint}{drain}"


def _statement_chunks(raw_tokens: list[Token]) -> list[list[Token]]:
    """Split tokens into statements at semicolons, except inside ``STATEMENT SET ... END``."""
    chunks: list[list[Token]] = [[]]
    inside = False
    for i, token in enumerate(raw_tokens):
        chunk = chunks[-1]
        head = [tok.text.upper() for tok in chunk[:4]]
        # opens right after its head only, so that the semicolon after END still ends the statement
        if not inside and (len(chunk) == 4 and head[1:] == ["STATEMENT", "SET", "BEGIN"]
                           or len(chunk) == 3 and head == ["BEGIN", "STATEMENT", "SET"]):
            inside = True
        if inside and token.token_type == TokenType.END and chunk[-1].token_type == TokenType.SEMICOLON:
            inside = False
        if token.token_type != TokenType.SEMICOLON or inside:
            chunk.append(token)
            continue
        if token.comments:
            chunks.append([token])
        if i < len(raw_tokens) - 1:
            chunks.append([])
    return chunks
