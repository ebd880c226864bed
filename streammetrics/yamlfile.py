"""YAML loading that remembers where every key and value came from.

PyYAML's composer gives each node a start mark; we turn the node tree into plain Python data and a
map from a data path (("models", 0, "metrics", 2, "kind")) to the line and column of that value and of
its key, so that pydantic errors and semantic errors can point at `path:line:col`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

from .errors import Location

DataPath = tuple[Any, ...]


# libyaml's composer (10-20x faster) when PyYAML was built with it; its nodes carry the same marks.
_COMPOSER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_CONSTRUCTOR = yaml.constructor.SafeConstructor()


@dataclass
class YamlDocument:
    path: str
    data: Any
    value_marks: dict[DataPath, Location] = field(default_factory=dict)
    key_marks: dict[DataPath, Location] = field(default_factory=dict)
    duplicate_keys: list[tuple[Location, str]] = field(default_factory=list)
    # where the text of a string value starts (inside quotes, or on the first line of a block scalar)
    text_starts: dict[DataPath, tuple[Location, bool]] = field(default_factory=dict)
    # items (e.g. ("models", 0)) that lost invalid children during validation; see project._pruned
    partial: set[DataPath] = field(default_factory=set)
    # after pruning: for "models"/"sources", the original index of each remaining item
    index_map: dict[str, list[int]] = field(default_factory=dict)

    def original_index(self, section: str, index: int) -> int:
        mapping = self.index_map.get(section)
        return mapping[index] if mapping else index

    def where(self, data_path: DataPath, *, key: bool = False) -> Location:
        """The location of a value (or of its key), falling back to the nearest enclosing node."""
        marks = self.key_marks if key else self.value_marks
        probe = tuple(data_path)
        while probe:
            if probe in marks:
                return marks[probe]
            if not key and probe in self.key_marks:
                return self.key_marks[probe]
            probe = probe[:-1]
        return self.value_marks.get((), Location(self.path, 1, 1))


class YamlSyntaxError(Exception):
    def __init__(self, location: Location, problem: str):
        self.location = location
        self.problem = problem
        super().__init__(f"{location}: {problem}")


def load_yaml(text: str, path: str) -> YamlDocument:
    try:
        node = yaml.compose(text, Loader=_COMPOSER)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        problem = " ".join(p for p in (exc.context, exc.problem) if p)
        raise YamlSyntaxError(Location(path, line, col), f"invalid YAML: {problem}") from None
    doc = YamlDocument(path=path, data=None)
    if node is None:
        doc.data = {}
        return doc
    doc.data = _to_python(node, (), doc, text.splitlines())
    return doc


def _mark(node: yaml.Node, path: str) -> Location:
    return Location(path, node.start_mark.line + 1, node.start_mark.column + 1)


def _to_python(node: yaml.Node, data_path: DataPath, doc: YamlDocument, lines: list[str]) -> Any:
    doc.value_marks[data_path] = _mark(node, doc.path)
    if isinstance(node, yaml.ScalarNode):
        doc.text_starts[data_path] = _text_start(node, doc.path, lines)
    if isinstance(node, yaml.MappingNode):
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = _scalar(key_node)
            child = data_path + (key,)
            if key in result:
                doc.duplicate_keys.append((_mark(key_node, doc.path), str(key)))
            doc.key_marks[child] = _mark(key_node, doc.path)
            result[key] = _to_python(value_node, child, doc, lines)
        return result
    if isinstance(node, yaml.SequenceNode):
        return [_to_python(item, data_path + (i,), doc, lines) for i, item in enumerate(node.value)]
    return _scalar(node)


def _scalar(node: yaml.Node) -> Any:
    """Plain values as PyYAML's safe loader makes them (ints, floats, bools, null, strings)."""
    if not isinstance(node, yaml.ScalarNode):
        return str(node.value)
    construct = _CONSTRUCTOR.yaml_constructors.get(node.tag) or _CONSTRUCTOR.yaml_constructors[None]
    return construct(_CONSTRUCTOR, node)


def _text_start(node: yaml.ScalarNode, path: str, lines: list[str]) -> tuple[Location, bool]:
    line, col = node.start_mark.line, node.start_mark.column
    if node.style in ("|", ">"):
        for number in range(line + 1, len(lines)):
            if lines[number].strip():
                indent = len(lines[number]) - len(lines[number].lstrip())
                return Location(path, number + 1, indent + 1), True
        return Location(path, line + 2, 1), True
    if node.style in ("'", '"'):
        col += 1
    return Location(path, line + 1, col + 1), False


def fragment_location(doc: YamlDocument, data_path: DataPath, line: int, col: int) -> Location:
    """Map (line, col), 1-based inside a string value, back to the YAML file.

    Exact for single-line plain and quoted scalars and for block scalars (| and >); approximate
    for multi-line flow scalars, which YAML folds.
    """
    start, block = doc.text_starts.get(tuple(data_path), (doc.where(data_path), False))
    if line <= 1:
        return Location(start.path, start.line, start.col + col - 1)
    if block:
        return Location(start.path, start.line + line - 1, start.col + col - 1)
    return Location(start.path, start.line + line - 1, col)
