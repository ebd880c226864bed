"""Rendering of a `diff.DiffReport`: plain text (terminal), markdown (one pull-request comment), JSON.

The markdown starts with MARKER so that CI finds and updates its previous comment; it stays
readable for many models: the summary table and the detailed sections cover the first
MAX_DETAILED changed models (the rest get one line each), each SQL diff is cut at MAX_DIFF_LINES,
and diffs are dropped once the body would pass MAX_COMMENT_CHARS (GitHub refuses > 65,536).
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict

from .diff import (EXIT_NEEDS_ACK, INCOMPATIBLE, JOB_REMOVED, NEW_JOB, PARTIAL, SEVERITY,
                   DiffReport, ModelDiff)

MARKER = "<!-- streammetrics-diff -->"
MAX_DETAILED = 50
MAX_DIFF_LINES = 300
MAX_COMMENT_CHARS = 60_000

FORMATS = ("text", "markdown", "json")


def render(report: DiffReport, fmt: str) -> str:
    if fmt == "text":
        return render_text(report)
    if fmt == "markdown":
        return render_markdown(report)
    if fmt == "json":
        return render_json(report)
    raise ValueError(f"unknown format '{fmt}'; use one of {', '.join(FORMATS)}")


def _counts(report: DiffReport) -> str:
    counts = Counter(m.effect for m in report.changed)
    parts = [f"{n} {effect}" for effect, n in sorted(counts.items(), key=lambda kv: -SEVERITY[kv[0]])]
    unchanged = len(report.models) - len(report.changed)
    return (f"{len(report.changed)} model(s) changed" + (f" ({', '.join(parts)})" if parts else "")
            + f", {unchanged} unchanged")


def _verdict(report: DiffReport) -> str:
    if report.attention:
        names = ", ".join(m.name for m in report.attention)
        return (f"{len(report.attention)} model(s) need attention ({names}): incompatible with the running job's "
                f"state or destructive to the sink. Set `accept_state_reset: true` in the model to accept it "
                f"(exit {EXIT_NEEDS_ACK}).")
    return "Nothing needs attention."


def _sink_summary(model: ModelDiff) -> str:
    if model.effect == NEW_JOB:
        return "new table"
    if model.effect == JOB_REMOVED:
        return "table kept"
    if not model.sink_changes:
        return "unchanged"
    kinds = Counter(c.kind.replace("_", " ") for c in model.sink_changes)
    text = ", ".join(k if n == 1 else f"{k} ×{n}" for k, n in kinds.items())
    return text + (" (destructive)" if model.destructive else "")


# --- text ------------------------------------------------------------------------------------------

def render_text(report: DiffReport) -> str:
    lines = [f"streammetrics diff: base {report.base} → head {report.head}"]
    if report.errors:
        return "\n".join(lines + [f"Error: {report.errors[0]}", *(f"  {e}" for e in report.errors[1:])]) + "\n"
    lines += [_counts(report), _verdict(report).replace("`", "")]
    lines += [f"Macros edited: {', '.join(report.macros_edited)}"] if report.macros_edited else []
    for m in report.changed:
        flag = "  NEEDS ATTENTION" if m.attention else ("  (reset accepted)" if m.needs_ack else "")
        lines += ["", f"== {m.name} ({m.file}): {m.change}, {m.effect}{flag}", f"  deploy: {m.deploy_action}"]
        lines += [f"  - {r}" for r in m.reasons]
        lines += [f"  sink: {c.describe()}" for c in m.sink_changes]
        lines += [f"  partial windows: {m.cutoff}"] if m.cutoff else []
        lines += [f"  note: {n}" for n in m.notes]
        for label, text in (("Flink SQL", m.flink_diff), ("Trino query", m.trino_diff)):
            if text and m.effect != JOB_REMOVED:
                lines += [f"  {label} diff:", *("    " + line for line in _capped(text).splitlines())]
    return "\n".join(lines) + "\n"


def _capped(diff: str) -> str:
    lines = diff.splitlines()
    if len(lines) <= MAX_DIFF_LINES:
        return diff
    return "\n".join(lines[:MAX_DIFF_LINES] + [f"... {len(lines) - MAX_DIFF_LINES} more line(s) cut; run "
                                               "`python compile.py diff` locally for the whole diff"])


# --- markdown --------------------------------------------------------------------------------------

def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _code(text: str) -> str:
    return f"`{text}`" if "`" not in text else text


def _fence(text: str) -> str:
    ticks = "```"
    while ticks in text:
        ticks += "`"
    return f"{ticks}diff\n{text}\n{ticks}"


def _effect_cell(m: ModelDiff) -> str:
    if m.attention:
        return f"**{m.effect}** :x:"
    if m.needs_ack:
        return f"{m.effect} (accepted)"
    return f"**{m.effect}**" if m.effect in (INCOMPATIBLE, PARTIAL) else m.effect


def _details(m: ModelDiff, with_diffs: bool) -> str:
    out = [f"<details><summary><code>{m.name}</code> — {m.change}: {m.effect}"
           f"{' (needs accept_state_reset)' if m.attention else ''}</summary>", "",
           f"File `{m.file}`. Deploy: **{m.deploy_action}**.", ""]
    if m.reasons:
        out += ["Why:", *(f"- {_cell(r)}" for r in m.reasons), ""]
    if m.sink_changes:
        out += ["Sink schema:", *(f"- {_cell(c.describe())}" for c in m.sink_changes), ""]
    if m.cutoff:
        out += [f"Partial windows: {m.cutoff}.", ""]
    out += [f"> {n}" for n in m.notes] + ([""] if m.notes else [])
    if m.effect != JOB_REMOVED:
        for label, text in (("Flink SQL", m.flink_diff), ("Trino query", m.trino_diff)):
            if not text:
                continue
            if with_diffs:
                out += [f"**{label}**", "", _fence(_capped(text)), ""]
            else:
                out += [f"*{label} diff omitted to keep this comment under GitHub's size limit; run "
                        f"`python compile.py diff` locally.*", ""]
    out += ["</details>", ""]
    return "\n".join(out)


def render_markdown(report: DiffReport) -> str:
    head = [MARKER, "### streammetrics diff", "",
            f"base `{report.base}` → head `{report.head}`", ""]
    if report.errors:
        return "\n".join(head + [f":x: **{report.errors[0]}**", "", *(f"- `{e}`" for e in report.errors[1:]),
                                 "", "Exit code 1: fix the errors, then the diff is computed."]) + "\n"
    changed = report.changed
    verdict = _verdict(report)
    head += [(":x: " if report.attention else ":white_check_mark: ") + verdict, "", _counts(report) + ".", ""]
    if report.macros_edited:
        head += ["Macros edited: " + ", ".join(f"`{m}`" for m in report.macros_edited) + ".", ""]
    if not changed:
        return "\n".join(head + ["No model changed."]) + "\n"
    shown, rest = changed[:MAX_DETAILED], changed[MAX_DETAILED:]
    table = ["| model | change | sink schema | state effect | deploy action |", "|---|---|---|---|---|"]
    table += [f"| `{m.name}` | {m.change} | {_cell(_sink_summary(m))} | {_effect_cell(m)} | {_cell(m.deploy_action)} |"
              for m in shown]
    tail = []
    if rest:
        counts = Counter(m.effect for m in rest)
        tail = ["", f"<details><summary>{len(rest)} more changed model(s), not detailed: "
                    + ", ".join(f"{n} {e}" for e, n in counts.most_common()) + "</summary>", "",
                *(f"- `{m.name}`: {m.change}, {m.effect}; sink {_sink_summary(m)}; {_cell(m.deploy_action)}"
                  for m in rest), "", "</details>"]
    legend = ["", "<sub>metadata only: deploy is a no-op · state compatible: upgrade from a savepoint · partially "
                  "compatible: new metrics start from zero in the windows open at the deploy · incompatible: the job "
                  "restarts from empty state (or a replay), windows around the deploy diverge.</sub>", ""]
    body = "\n".join(head + table + tail + legend) + "\n"
    # Every detailed section at least without its diffs (as many as fit), then diffs while they fit.
    sections = [_details(m, with_diffs=False) for m in shown]
    total = len(body) + sum(len(s) + 1 for s in sections)
    dropped = 0
    while sections and total > MAX_COMMENT_CHARS:
        total -= len(sections.pop()) + 1
        dropped += 1
    for i, m in enumerate(shown[: len(sections)]):
        full = _details(m, with_diffs=True)
        if total - len(sections[i]) + len(full) <= MAX_COMMENT_CHARS:
            total += len(full) - len(sections[i])
            sections[i] = full
    if dropped:
        sections.append(f"*{dropped} more section(s) omitted (comment size limit); run `python compile.py diff` locally.*\n")
    return body + "\n".join(sections)


# --- json ------------------------------------------------------------------------------------------

def render_json(report: DiffReport) -> str:
    data = {
        "base": report.base,
        "head": report.head,
        "exit_code": report.exit_code,
        "errors": list(report.errors),
        "macros_edited": list(report.macros_edited),
        "summary": {
            "changed": len(report.changed),
            "unchanged": len(report.models) - len(report.changed),
            "needs_attention": [m.name for m in report.attention],
            "by_effect": dict(Counter(m.effect for m in report.models)),
        },
        "models": [
            {**asdict(m), "attention": m.attention, "destructive": m.destructive,
             "sink_changes": [{**asdict(c), "description": c.describe()} for c in m.sink_changes]}
            for m in report.models
        ],
    }
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


__all__ = ["render", "render_text", "render_markdown", "render_json", "MARKER", "FORMATS"]
