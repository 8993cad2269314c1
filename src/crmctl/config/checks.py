"""Semantic checks: what the JSON Schemas cannot say. Every problem gets a stable code (docs/diagnostics.md)."""

from __future__ import annotations

import datetime as dt
import itertools
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from crmctl.config.diagnostics import Diagnostic
from crmctl.config.yamlload import Document, Path_
from crmctl.domain import calendars, conditions, projects, templating
from crmctl.domain.durations import HOURS_PER_DAY, parse_duration
from crmctl.domain.graph import find_cycle
from crmctl.domain.model import SYSTEM_COLUMNS
from crmctl.domain.values import NUMERIC, ORDERED, TEXTUAL, FieldSpec, convert

RESERVED_PEOPLE = frozenset({"author", "actor", "responsible"})
RECORD_BUILTINS = ("key", "stage", "author", "created_at")  # what a template sees on `record` besides fields


@dataclass
class Index:
    """Every named thing of a workspace, found in schema-valid documents."""

    named: dict[tuple[str, str], Document] = field(default_factory=dict)  # (kind, name) -> document
    people: dict[str, tuple[Document, Path_]] = field(default_factory=dict)
    roles: dict[str, tuple[Document, Path_]] = field(default_factory=dict)

    def of(self, kind: str) -> dict[str, Document]:
        return {name: doc for (k, name), doc in self.named.items() if k == kind}

    def get(self, kind: str, name: str) -> Document | None:
        return self.named.get((kind, name))


class Checker:
    """Semantic checks over the schema-valid documents of one unit.

    `known` are all documents with a readable kind and name, valid or not: they resolve references,
    so that one schema error does not cascade into unknown-reference errors elsewhere. With
    `partial`, some file could not be read at all, and unknown-reference errors are left out for the
    same reason.
    """

    def __init__(self, documents: list[Document], known: list[Document] | None = None, partial: bool = False):
        self.docs = documents
        self.known = known if known is not None else documents
        self.partial = partial
        self.out: list[Diagnostic] = []
        self.index = Index()
        self.hours_per_day: float = HOURS_PER_DAY
        self.record_view: dict[str, FieldSpec] | None = None  # what `record` shows templates of the current process
        self.process_form: str | None = None  # the form of the process being checked

    def run(self) -> list[Diagnostic]:
        self._index()
        for doc in self.docs:
            getattr(self, "_check_" + doc.data["kind"].lower())(doc)
        if self.partial:
            return [d for d in self.out if d.code != "R001"]
        return self.out

    # -- helpers ---------------------------------------------------------------------------------
    def report(
        self,
        doc: Document,
        path: Path_,
        code: str,
        message: str,
        *,
        key: bool = False,
        inside: tuple[int, int] | None = None,
    ) -> None:
        self.out.append(doc.diagnostic(path, code, message, key=key, inside=inside))

    def _where(self, doc: Document, path: Path_) -> str:
        loc = doc.loc(path)
        return f"{loc.file}:{loc.line}"

    def _unique(self, doc: Document, items: Iterable[tuple[Path_, str]], what: str) -> None:
        seen: dict[str, Path_] = {}
        for path, ident in items:
            if ident in seen:
                first = self._where(doc, seen[ident])
                self.report(doc, path, "R002", f"duplicate {what} '{ident}' (first at {first})")
            else:
                seen[ident] = path

    def _index(self) -> None:
        clean = {id(doc) for doc in self.docs}
        for doc in self.known:
            kind, name = doc.data.get("kind"), doc.data.get("name")
            if not isinstance(kind, str) or not isinstance(name, str):
                continue
            if id(doc) in clean:
                self._index_valid(doc, kind, name)
            else:
                self._index_known(doc, kind, name)
        self._check_key_prefixes()

    def _index_known(self, doc: Document, kind: str, name: str) -> None:
        """A document that failed its schema: whatever it names resolves references, quietly."""
        self.index.named.setdefault((kind, name), doc)
        if kind == "Team":
            for key, table in (("people", self.index.people), ("roles", self.index.roles)):
                items = doc.data.get(key)
                for i, item in enumerate(items if isinstance(items, list) else []):
                    if isinstance(item, dict) and isinstance(item.get("id"), str):
                        table.setdefault(item["id"], (doc, (key, i, "id")))

    def _index_valid(self, doc: Document, kind: str, name: str) -> None:
        first = self.index.named.get((kind, name))
        if first is not None:
            where = self._where(first, ("name",))
            self.report(doc, ("name",), "R002", f"duplicate {kind} '{name}' (first at {where})")
            return
        self.index.named[(kind, name)] = doc
        if kind == "Team":
            self._index_team(doc)
        if kind == "Workspace":
            self.hours_per_day = doc.data.get("hours_per_day", HOURS_PER_DAY)

    def _index_team(self, doc: Document) -> None:
        for table, key in ((self.index.people, "people"), (self.index.roles, "roles")):
            what = "person" if key == "people" else "role"
            for i, item in enumerate(doc.data.get(key, [])):
                path = (key, i, "id")
                if item["id"] in table:
                    other, opath = table[item["id"]]
                    where = self._where(other, opath)
                    self.report(doc, path, "R002", f"duplicate {what} '{item['id']}' (first at {where})")
                else:
                    table[item["id"]] = (doc, path)

    def _check_key_prefixes(self) -> None:
        prefixes: dict[str, Document] = {}
        for form in self.docs:
            if form.data["kind"] != "Form" or self.index.get("Form", form.data["name"]) is not form:
                continue
            name = form.data["name"]
            prefix = form.data["key_prefix"]
            if prefix in prefixes:
                other = prefixes[prefix]
                where = self._where(other, ("key_prefix",))
                self.report(
                    form, ("key_prefix",), "R002", f"key prefix '{prefix}' of form '{name}' is used already ({where})"
                )
            else:
                prefixes[prefix] = form

    def _ref(self, doc: Document, path: Path_, kind: str, name: str, what: str | None = None) -> bool:
        if self.index.get(kind, name) is not None:
            return True
        known = sorted(self.index.of(kind))
        self.report(doc, path, "R001", f"unknown {what or kind.lower()} '{name}'{_hint(name, known)}")
        return False

    def _actor(self, doc: Document, path: Path_, actor: str, *, acting: bool = False, approver: bool = False) -> None:
        """`acting`: where `actor` (the person whose command launches) may stand, a template's tasks; `approver`:
        where `responsible` (the stage's responsible person) may, a stage's approvers."""
        if actor == "author" or (actor == "actor" and acting) or (actor == "responsible" and approver):
            return
        if actor == "actor":
            self.report(doc, path, "R001", "'actor' (the person acting) names an assignee of a template's task only")
            return
        if actor == "responsible":
            self.report(doc, path, "R001", "'responsible' (the stage's responsible person) names an approver only")
            return
        if actor.startswith("role:"):
            role = actor[5:]
            if role not in self.index.roles:
                self.report(doc, path, "R001", f"unknown role '{role}'{_hint(role, self.index.roles)}")
        elif actor not in self.index.people:
            self.report(doc, path, "R001", f"unknown person '{actor}'{_hint(actor, self.index.people)}")

    def _duration(self, doc: Document, path: Path_, text: str) -> None:
        try:
            parse_duration(text, self.hours_per_day)
        except ValueError as exc:
            self.report(doc, path, "K801", str(exc))

    def _date(self, doc: Document, path: Path_, text: str) -> dt.date | None:
        try:
            return dt.date.fromisoformat(text)
        except ValueError:
            self.report(doc, path, "K805", f"'{text}' is not a real date")
            return None

    def _span(self, doc: Document, path: Path_, item: dict[str, Any]) -> None:
        start = self._date(doc, (*path, "from"), item["from"])
        end = self._date(doc, (*path, "to"), item["to"])
        if start and end and end < start:
            self.report(doc, (*path, "to"), "K805", f"period ends ({end}) before it starts ({start})")

    def _timezone(self, doc: Document, path: Path_, name: str) -> None:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            self.report(doc, path, "K804", f"unknown time zone '{name}' (use an IANA name such as Europe/Moscow)")

    def _regex(self, doc: Document, path: Path_, pattern: str) -> bool:
        try:
            re.compile(pattern)
        except re.error as exc:
            self.report(doc, path, "F603", f"invalid regular expression '{pattern}': {exc}")
            return False
        return True

    def _fields(self, doc: Document, key: str, what: str) -> dict[str, FieldSpec]:
        """Check a list of typed fields (form fields or template parameters); return the usable ones."""
        items = doc.data.get(key, [])
        self._unique(doc, [((key, i, "id"), f["id"]) for i, f in enumerate(items)], what)
        specs: dict[str, FieldSpec] = {}
        for i, raw in enumerate(items):
            path: Path_ = (key, i)
            if what == "field" and raw["id"] in SYSTEM_COLUMNS:
                self.report(
                    doc, (*path, "id"), "R003", f"'{raw['id']}' is reserved for every record and cannot be a field id"
                )
            kind = raw["type"]
            misplaced = {
                "options": kind == "list",
                "form": kind == "ref",
                "currency": kind == "money",
                "mask": kind in TEXTUAL,
                "max_length": kind in TEXTUAL,
                "min": kind in NUMERIC,
                "max": kind in NUMERIC,
                "contact_date": kind in ("date", "datetime") and what == "field",
            }
            for option, allowed in misplaced.items():
                if option in raw and not allowed:
                    self.report(doc, (*path, option), "F604", f"'{option}' does not apply to a {kind} field", key=True)
            mask_ok = "mask" not in raw or self._regex(doc, (*path, "mask"), raw["mask"])
            if kind == "ref" and "form" in raw:
                self._ref(doc, (*path, "form"), "Form", raw["form"])
            if kind == "list":
                values = [o["value"] if isinstance(o, dict) else o for o in raw.get("options", [])]
                self._unique(doc, [((*path, "options", j), v) for j, v in enumerate(values)], "option")
            spec = FieldSpec.from_dict(raw) if mask_ok else FieldSpec.from_dict({**raw, "mask": None})
            if "default" in raw:
                self._default(doc, (*path, "default"), spec, raw["default"])
            specs.setdefault(spec.id, spec)
        return specs

    def _default(self, doc: Document, path: Path_, spec: FieldSpec, value: Any) -> None:
        if spec.type == "list":
            if value not in spec.options:
                self.report(
                    doc, path, "F601", f"default {_quote(value)} is not among the options: {', '.join(spec.options)}"
                )
            return
        if (problem := self._misfit(spec, value)) is not None:
            self.report(doc, path, "F602", f"default does not fit field '{spec.id}': {problem}")

    def _misfit(self, spec: FieldSpec, value: Any) -> str | None:
        """Why a value from the YAML does not fit the field (None when it does)."""
        try:
            convert(spec, value, people=set(self.index.people))
        except ValueError as exc:
            return str(exc)
        return None

    def _condition(
        self, doc: Document, path: Path_, cond: dict[str, Any], specs: dict[str, FieldSpec], what: str
    ) -> None:
        for comparison, sub in conditions.comparisons(cond):
            name = comparison["field"]
            cpath = (*path, *sub)
            spec = specs.get(name)
            if spec is None:
                self.report(doc, (*cpath, "field"), "R001", f"unknown {what} '{name}'{_hint(name, specs)}")
                continue
            op = conditions.operator_of(comparison)
            if not conditions.fits(spec, op):
                self.report(
                    doc, (*cpath, op), "C501", f"operator '{op}' does not apply to {spec.type} field '{name}'", key=True
                )
                continue
            problem = conditions.operand_problem(spec, op, comparison[op], set(self.index.people))
            if problem:
                code = "F603" if op == "matches" else "C502"
                self.report(doc, (*cpath, op), code, f"value for '{name}' ({spec.type}): {problem}")

    def _template(
        self, doc: Document, path: Path_, source: str, allowed: set[str], record_fields: dict[str, FieldSpec] | None
    ) -> None:
        try:
            names = templating.inspect(source)
        except templating.TemplateProblem as exc:
            self.report(doc, path, "T701", str(exc), inside=(exc.line, exc.column))
            return
        for name in sorted(names.variables - allowed):
            hint = _hint(name, allowed)
            message = f"template uses '{name}', which is not a parameter{hint}"
            self.report(doc, path, "T702", message, inside=templating.where(source, name))
        if record_fields is not None:
            for base, attr in sorted(names.attributes):
                if base == "record" and not attr.startswith("_") and attr not in (*record_fields, *RECORD_BUILTINS):
                    message = f"template uses record.{attr}, which is not a field{_hint(attr, record_fields)}"
                    self.report(doc, path, "T702", message, inside=templating.where(source, "record", attr))
        for attr in sorted(names.private):
            message = f"template reaches for the internal attribute '{attr}'"
            self.report(doc, path, "T705", message, inside=templating.where(source, None, attr))

    # -- kinds -----------------------------------------------------------------------------------
    def _check_workspace(self, doc: Document) -> None:
        data = doc.data
        if "timezone" in data:
            self._timezone(doc, ("timezone",), data["timezone"])
        if "calendar" in data:
            self._ref(doc, ("calendar",), "Calendar", data["calendar"])
        if "timer_cap" in data:
            self._duration(doc, ("timer_cap",), data["timer_cap"])
        for kind, text in data.get("estimates", {}).items():
            self._duration(doc, ("estimates", kind), text)

    def _check_calendar(self, doc: Document) -> None:
        data = doc.data
        if "timezone" in data:
            self._timezone(doc, ("timezone",), data["timezone"])
        owner: dict[int, str] = {}
        any_hours = broken = False
        for key, intervals in data["hours"].items():
            path = ("hours", key)
            try:
                days = calendars.parse_day_key(key)
            except ValueError as exc:
                self.report(doc, path, "K803", str(exc), key=True)
                broken = True
                continue
            for day in days:
                if day in owner:
                    self.report(
                        doc, path, "K802", f"{calendars.DAYS[day]} is given twice (also in '{owner[day]}')", key=True
                    )
                owner.setdefault(day, key)
            spans: list[tuple[int, int, int]] = []
            for i, text in enumerate(intervals):
                try:
                    start, end = calendars.parse_interval(text)
                except ValueError as exc:
                    self.report(doc, (*path, i), "K803", str(exc))
                    broken = True
                    continue
                spans.append((start, end, i))
                any_hours = True
            spans.sort()
            for (_, end_a, ia), (start_b, _, ib) in itertools.pairwise(spans):
                if start_b < end_a:
                    self.report(doc, (*path, ib), "K802", f"'{intervals[ib]}' overlaps '{intervals[ia]}'")
        if not any_hours and not broken:
            self.report(doc, ("hours",), "K806", "calendar has no working hours at all")
        for i, item in enumerate(data.get("holidays", [])):
            if isinstance(item, str):
                self._date(doc, ("holidays", i), item)
            elif "date" in item:
                self._date(doc, ("holidays", i, "date"), item["date"])
            else:
                self._span(doc, ("holidays", i), item)

    def _check_team(self, doc: Document) -> None:
        data = doc.data
        self._unique(doc, [(("roles", i, "id"), r["id"]) for i, r in enumerate(data.get("roles", []))], "role")
        for i, role in enumerate(data.get("roles", [])):
            for j, perm in enumerate(role.get("permissions", [])):
                form = perm.partition(":")[2]
                if form:
                    self._ref(doc, ("roles", i, "permissions", j), "Form", form)
        for i, person in enumerate(data.get("people", [])):
            path: Path_ = ("people", i)
            if person["id"] in RESERVED_PEOPLE:
                self.report(doc, (*path, "id"), "R003", f"'{person['id']}' is reserved and cannot be a person id")
            for j, role in enumerate(person.get("roles", [])):
                if role not in self.index.roles:
                    self.report(
                        doc, (*path, "roles", j), "R001", f"unknown role '{role}'{_hint(role, self.index.roles)}"
                    )
            if "calendar" in person:
                self._ref(doc, (*path, "calendar"), "Calendar", person["calendar"])
            for j, absence in enumerate(person.get("absences", [])):
                self._span(doc, (*path, "absences", j), absence)
                deputy = absence.get("deputy")
                if deputy is not None and (deputy == person["id"] or deputy not in self.index.people):
                    why = "cannot be their own deputy" if deputy == person["id"] else "is not a person of the team"
                    self.report(doc, (*path, "absences", j, "deputy"), "R001", f"deputy '{deputy}' {why}")
        for gone, successor in data.get("successors", {}).items():
            if gone in self.index.people:
                self.report(
                    doc,
                    ("successors", gone),
                    "R005",
                    f"'{gone}' is a person of the team: a successor is named for someone who left it",
                    key=True,
                )
            if successor not in self.index.people:
                hint = _hint(successor, self.index.people)
                self.report(doc, ("successors", gone), "R001", f"unknown person '{successor}'{hint}")

    def _form_specs(self, name: str, *, rollups: bool = False) -> dict[str, FieldSpec] | None:
        """The fields of a form (and, with rollups, its computed values as number fields)."""
        form = self.index.get("Form", name)
        if form is None:
            return None
        specs = {f["id"]: FieldSpec.from_dict(f) for f in form.data["fields"]}
        if rollups:
            for rollup in form.data.get("rollups", []):
                specs.setdefault(rollup["id"], FieldSpec(rollup["id"], "number"))
        return specs

    def _promised(self, doc: Document, name: str, specs: dict[str, FieldSpec]) -> None:
        spec = specs.get(name)
        if spec is None:
            self.report(doc, ("promised",), "R001", f"unknown field '{name}'{_hint(name, specs)}")
        elif spec.type not in ("date", "datetime"):
            self.report(
                doc, ("promised",), "F604", f"'promised' names a {spec.type} field: it takes a date or datetime"
            )

    def _check_form(self, doc: Document) -> None:
        data = doc.data
        specs = self._fields(doc, "fields", "field")
        if "title_field" in data and data["title_field"] not in specs:
            name = data["title_field"]
            self.report(doc, ("title_field",), "R001", f"unknown field '{name}'{_hint(name, specs)}")
        if "promised" in data:
            self._promised(doc, data["promised"], specs)
        self._check_unique(doc, specs)
        for i, rollup in enumerate(data.get("rollups", [])):
            path: Path_ = ("rollups", i)
            if rollup["id"] in specs:
                self.report(doc, (*path, "id"), "R002", f"rollup '{rollup['id']}' has the id of a field")
            if not self._ref(doc, (*path, "from"), "Form", rollup["from"]):
                continue
            source = self._form_specs(rollup["from"]) or {}
            via = source.get(rollup["via"])
            if via is None:
                self.report(doc, (*path, "via"), "R001", f"unknown field '{rollup['via']}' of form '{rollup['from']}'")
            elif via.type != "ref" or via.form != data["name"]:
                self.report(
                    doc,
                    (*path, "via"),
                    "F605",
                    f"field '{rollup['via']}' of form '{rollup['from']}' is not a ref to form '{data['name']}'",
                )
            if "where" in rollup:
                self._condition(doc, (*path, "where"), rollup["where"], source, "field")
            agg = rollup["aggregate"]
            if "field" in rollup:
                target = source.get(rollup["field"])
                if target is None:
                    self.report(
                        doc, (*path, "field"), "R001", f"unknown field '{rollup['field']}' of form '{rollup['from']}'"
                    )
                elif agg != "count" and target.type not in (NUMERIC if agg == "sum" else ORDERED):
                    self.report(
                        doc,
                        (*path, "field"),
                        "F605",
                        f"cannot take the {agg} of {target.type} field '{rollup['field']}'",
                    )
            elif agg != "count":
                self.report(doc, path, "F605", f"a {agg} rollup needs 'field'")

    def _check_unique(self, doc: Document, specs: dict[str, FieldSpec]) -> None:
        """`unique:` names fields of the form, each once per set, of a type whose values can be told apart."""
        seen: dict[tuple[str, ...], Path_] = {}
        for i, item in enumerate(doc.data.get("unique", [])):
            names = [item] if isinstance(item, str) else list(item)
            paths: list[Path_] = (
                [("unique", i)] if isinstance(item, str) else [("unique", i, j) for j in range(len(names))]
            )
            for path, name in zip(paths, names, strict=True):
                spec = specs.get(name)
                if spec is None:
                    self.report(doc, path, "R001", f"unknown field '{name}'{_hint(name, specs)}")
                elif spec.type == "bool":
                    self.report(doc, path, "F606", f"bool field '{name}' cannot be unique: it has two values")
                elif names.index(name) != paths.index(path):
                    self.report(doc, path, "F606", f"field '{name}' is named twice in one unique set")
            fields = tuple(sorted(set(names)))
            if fields in seen:
                self.report(
                    doc,
                    ("unique", i),
                    "F606",
                    f"unique set {', '.join(fields)} is declared twice (first at {self._where(doc, seen[fields])})",
                )
            else:
                seen[fields] = ("unique", i)

    def _check_process(self, doc: Document) -> None:
        data = doc.data
        stages = data["stages"]
        ids = [s["id"] for s in stages]
        self._unique(doc, [(("stages", i, "id"), s) for i, s in enumerate(ids)], "stage")
        known = set(ids)
        has_form = self._ref(doc, ("form",), "Form", data["form"])
        specs = self._form_specs(data["form"]) if has_form else None
        self.record_view = self._form_specs(data["form"], rollups=True) if has_form else None
        self.process_form = data["form"]
        initial = data.get("initial", ids[0])
        if initial not in known:
            self.report(doc, ("initial",), "P401", f"initial stage '{initial}' does not exist{_hint(initial, known)}")
        edges: dict[str, set[str]] = {}
        for i, stage in enumerate(stages):
            path: Path_ = ("stages", i)
            edges.setdefault(stage["id"], set()).update(self._stage_targets(doc, path, stage, known))
            self._stage_shape(doc, path, stage)
            self._stage_rules(doc, path, stage, specs)
        for old, new in data.get("migrate", {}).items():
            if new not in known:
                self.report(doc, ("migrate", old), "R001", f"unknown stage '{new}'{_hint(new, known)}")
        if initial in known:
            self._unreachable(doc, ids, edges, initial)
        self._board_columns(doc, known)

    def _board_columns(self, doc: Document, known: set[str]) -> None:
        """Each stage in at most one column of the board, every one a stage; the columns' ids unique among
        themselves and the stages that have columns of their own."""
        grouped: list[tuple[Path_, str]] = []
        for i, column in enumerate(doc.data.get("board_columns", [])):
            for j, stage in enumerate(column["stages"]):
                if stage not in known:
                    self.report(
                        doc, ("board_columns", i, "stages", j), "R001", f"unknown stage '{stage}'{_hint(stage, known)}"
                    )
                grouped.append((("board_columns", i, "stages", j), stage))
        self._unique(doc, grouped, "stage in board columns")
        columns = doc.data.get("board_columns", [])
        if not columns:
            return
        in_groups = {stage for _, stage in grouped}
        alone: dict[str, Path_] = {}  # a stage of its own column (a repeated stage id is reported as such)
        for i, s in enumerate(doc.data["stages"]):
            if s["id"] not in in_groups:
                alone.setdefault(s["id"], ("stages", i, "id"))
        ids = [(("board_columns", i, "id"), c["id"]) for i, c in enumerate(columns)]
        self._unique(doc, [*((path, stage) for stage, path in alone.items()), *ids], "board column")

    def _stage_targets(self, doc: Document, path: Path_, stage: dict[str, Any], known: set[str]) -> set[str]:
        """The known stages a stage leads to (its transitions and on_reject); the unknown ones reported."""
        targets: set[str] = set()
        for j, target in enumerate(stage.get("transitions", [])):
            if target in known:
                targets.add(target)
            else:
                self.report(doc, (*path, "transitions", j), "R001", f"unknown stage '{target}'{_hint(target, known)}")
        if "on_reject" in stage:
            target = stage["on_reject"]
            if target in known:
                targets.add(target)
            else:
                self.report(doc, (*path, "on_reject"), "R001", f"unknown stage '{target}'{_hint(target, known)}")
        return targets

    def _stage_shape(self, doc: Document, path: Path_, stage: dict[str, Any]) -> None:
        """A terminal stage has no transitions, every other stage has some, and only a terminal one an outcome."""
        sid = stage["id"]
        if stage.get("terminal"):
            if stage.get("transitions"):
                self.report(doc, (*path, "transitions"), "P404", f"terminal stage '{sid}' has transitions", key=True)
        elif not stage.get("transitions"):
            message = f"stage '{sid}' is not terminal but has no transitions: records would be stuck there"
            self.report(doc, (*path, "id"), "P403", message)
        if "outcome" in stage and not stage.get("terminal"):
            message = f"stage '{sid}' has an outcome but is not terminal: only a final stage can be won or lost"
            self.report(doc, (*path, "outcome"), "P405", message, key=True)

    def _stage_rules(
        self, doc: Document, path: Path_, stage: dict[str, Any], specs: dict[str, FieldSpec] | None
    ) -> None:
        """Who is responsible and approves, the conditions, the due time, the required fields, the actions."""
        if "responsible" in stage:
            self._actor(doc, (*path, "responsible"), stage["responsible"])
        name = stage.get("responsible_field")
        if name is not None and specs is not None and (name not in specs or specs[name].type != "person"):
            people = [f for f, spec in specs.items() if spec.type == "person"]
            message = f"unknown person field '{name}'{_hint(name, people)}: responsible_field names a person field"
            self.report(doc, (*path, "responsible_field"), "R001", message)
        for j, group in enumerate(stage.get("approvals", [])):
            for k, actor in enumerate(group["approvers"]):
                self._actor(doc, (*path, "approvals", j, "approvers", k), actor, approver=True)
            if "when" in group and specs is not None:
                self._condition(doc, (*path, "approvals", j, "when"), group["when"], specs, "field")
        for key in ("skip_when", "enter_when"):
            if key in stage and specs is not None:
                self._condition(doc, (*path, key), stage[key], specs, "field")
        if "due_in" in stage:
            self._duration(doc, (*path, "due_in"), stage["due_in"])
        if specs is not None:
            lists: list[tuple[Path_, list[str]]] = [
                (("require",), stage.get("require", [])),
                (("entry", "require"), stage.get("entry", {}).get("require", [])),
            ]
            for where, required in lists:
                for j, name in enumerate(required):
                    if name not in specs:
                        self.report(doc, (*path, *where, j), "R001", f"unknown field '{name}'{_hint(name, specs)}")
        for j, action in enumerate(stage.get("on_enter", [])):
            self._action(doc, (*path, "on_enter", j), action, specs)
        for j, rule in enumerate(stage.get("timed", [])):
            self._timed(doc, (*path, "timed", j), stage, rule, specs)

    def _timed(
        self,
        doc: Document,
        path: Path_,
        stage: dict[str, Any],
        rule: dict[str, Any],
        specs: dict[str, FieldSpec] | None,
    ) -> None:
        """A timed transition goes to one of the stage's transitions, on exactly one of `after` and `when`, the
        latter a date or date-time field; its `if` is a condition over the form's fields."""
        if rule["to"] not in stage.get("transitions", []):
            allowed = ", ".join(stage.get("transitions", [])) or "none"
            message = f"timed transition to '{rule['to']}', which is not among the stage's transitions ({allowed})"
            self.report(doc, (*path, "to"), "P406", message)
        if ("after" in rule) == ("when" in rule):
            self.report(doc, path, "P407", "a timed transition needs exactly one of 'after' and 'when'", key=True)
        if "after" in rule:
            self._duration(doc, (*path, "after"), rule["after"])
        if "when" in rule and specs is not None:
            spec = specs.get(rule["when"])
            if spec is None:
                self.report(doc, (*path, "when"), "R001", f"unknown field '{rule['when']}'{_hint(rule['when'], specs)}")
            elif spec.type not in ("date", "datetime"):
                message = f"'when' names field '{spec.id}', a {spec.type} field: it must be a date or datetime field"
                self.report(doc, (*path, "when"), "P407", message)
        if "if" in rule and specs is not None:
            self._condition(doc, (*path, "if"), rule["if"], specs, "field")

    def _unreachable(self, doc: Document, ids: list[str], edges: dict[str, set[str]], initial: str) -> None:
        reached = {initial}
        todo = [initial]
        while todo:
            for nxt in edges[todo.pop()]:
                if nxt not in reached:
                    reached.add(nxt)
                    todo.append(nxt)
        for i, sid in enumerate(ids):
            if sid not in reached:
                message = f"stage '{sid}' cannot be reached from the initial stage '{initial}'"
                self.report(doc, ("stages", i, "id"), "P402", message)

    def _action(self, doc: Document, path: Path_, action: dict[str, Any], specs: dict[str, FieldSpec] | None) -> None:
        if "set" in action and specs is not None:
            name, value = action["set"]["field"], action["set"]["value"]
            spec = specs.get(name)
            if spec is None:
                self.report(doc, (*path, "set", "field"), "R001", f"unknown field '{name}'{_hint(name, specs)}")
            elif (problem := self._misfit(spec, value)) is not None:
                self.report(doc, (*path, "set", "value"), "C502", f"value for '{name}' ({spec.type}): {problem}")
        if "remind" in action:
            self._duration(doc, (*path, "remind", "in"), action["remind"]["in"])
            if "for" in action["remind"]:
                self._actor(doc, (*path, "remind", "for"), action["remind"]["for"])
        if "launch" in action:
            self._launch(doc, (*path, "launch"), action["launch"])
        if "notify" in action:
            self._actor(doc, (*path, "notify", "to"), action["notify"]["to"])
            self._template(doc, (*path, "notify", "text"), action["notify"]["text"], {"record"}, self.record_view)
        if "create" in action:
            self._create(doc, (*path, "create"), action["create"], specs)

    def _create(self, doc: Document, path: Path_, create: dict[str, Any], specs: dict[str, FieldSpec] | None) -> None:
        """A create: action's form exists, and each field it fills takes the value of the field it names (or
        the record's key, into a ref to this form or a text)."""
        if not self._ref(doc, (*path, "form"), "Form", create["form"]):
            return
        targets = self._form_specs(create["form"]) or {}
        for name, source in create.get("fields", {}).items():
            target = targets.get(name)
            if target is None:
                self.report(
                    doc,
                    (*path, "fields", name),
                    "R001",
                    f"unknown field '{name}' of form '{create['form']}'{_hint(name, targets)}",
                    key=True,
                )
                continue
            if source == "key":
                fits = target.type == "text" or (target.type == "ref" and target.form == self.process_form)
                given = f"the key of a {self.process_form} record"
            elif specs is None:
                continue
            elif source not in specs:
                self.report(doc, (*path, "fields", name), "R001", f"unknown field '{source}'{_hint(source, specs)}")
                continue
            else:
                fits = _carries(specs[source], target)
                given = f"'{source}' ({specs[source].type})"
            if not fits:
                self.report(
                    doc,
                    (*path, "fields", name),
                    "P408",
                    f"'{name}' of {create['form']} ({target.type}) cannot take {given}",
                )

    def _launch(self, doc: Document, path: Path_, launch: dict[str, Any]) -> None:
        name = launch["template"]
        template = self.index.get("ProjectTemplate", name)
        if template is None:
            self._ref(doc, (*path, "template"), "ProjectTemplate", name, "project template")
            return
        params = {p["id"]: p for p in template.data.get("parameters", [])}
        given = launch.get("params", {})
        for param, value in given.items():
            self._launch_param(doc, (*path, "params", param), name, params, param, value)
        for param, spec in params.items():
            if spec.get("required") and "default" not in spec and param not in given:
                message = f"template '{name}' needs parameter '{param}', which is not given"
                self.report(doc, path, "T704", message, key=True)
        if "name" in launch:
            self._template(doc, (*path, "name"), launch["name"], {"record"}, self.record_view)

    def _launch_param(
        self, doc: Document, path: Path_, template: str, params: dict[str, Any], name: str, value: Any
    ) -> None:
        """One parameter given to a project template: a literal fits its type, a template uses what it may."""
        literal = not isinstance(value, str) or "{" not in value
        if name in params and literal:
            spec = FieldSpec.from_dict(params[name])
            if (problem := self._misfit(spec, value)) is not None:
                self.report(doc, path, "C502", f"value for parameter '{name}' ({spec.type}): {problem}")
        elif name not in params:
            message = f"template '{template}' has no parameter '{name}'{_hint(name, params)}"
            self.report(doc, path, "R001", message, key=True)
        elif isinstance(value, str):
            self._template(doc, path, value, {"record"}, self.record_view)

    def _check_projecttemplate(self, doc: Document) -> None:
        data = doc.data
        params = self._fields(doc, "parameters", "parameter")
        record_fields = None
        if "form" in data and self._ref(doc, ("form",), "Form", data["form"]):
            record_fields = self._form_specs(data["form"], rollups=True)
        allowed = set(params) | {"params"}
        if "form" in data:
            allowed.add("record")
        if "title" in data.get("project", {}):
            self._template(doc, ("project", "title"), data["project"]["title"], allowed, record_fields)
        if isinstance(data.get("project", {}).get("priority"), dict):
            self._priority_binding(doc, data["project"]["priority"], record_fields)
        self._template_tasks(doc, data["tasks"], allowed, record_fields, params)
        if "schedule" in data:
            self._schedule(doc, data)

    def _template_tasks(
        self, doc: Document, tasks: list[dict[str, Any]], allowed: set[str], record_fields: Any, params: Any
    ) -> None:
        """A template's tasks: their texts, people, estimates and conditions, and dependencies without a cycle."""
        ids = [t["id"] for t in tasks]
        self._unique(doc, [(("tasks", i, "id"), t) for i, t in enumerate(ids)], "task")
        known = set(ids)
        graph: dict[str, list[str]] = {}
        for i, task in enumerate(tasks):
            path: Path_ = ("tasks", i)
            for key in ("title", "description", "start_after", "due"):
                if key in task:
                    self._template(doc, (*path, key), task[key], allowed, record_fields)
            for key in ("start_after", "due"):
                if key in task:
                    self._bound(doc, (*path, key), key, task[key], params, record_fields or {})
            if "assignee" in task:
                self._actor(doc, (*path, "assignee"), task["assignee"], acting=True)
            for j, actor in enumerate(task.get("watchers", [])):
                self._actor(doc, (*path, "watchers", j), actor, acting=True)
            if "estimate" in task:
                self._duration(doc, (*path, "estimate"), task["estimate"])
            if "when" in task:
                self._condition(doc, (*path, "when"), task["when"], params, "parameter")
            deps = graph.setdefault(task["id"], [])
            for j, dep in enumerate(task.get("depends_on", [])):
                if dep in known:
                    deps.append(dep)
                else:
                    self.report(doc, (*path, "depends_on", j), "R001", f"unknown task '{dep}'{_hint(dep, known)}")
        cycle = find_cycle(graph)
        if cycle:
            i = ids.index(cycle[0])
            self.report(doc, ("tasks", i, "depends_on"), "T703", "dependency cycle: " + " -> ".join(cycle), key=True)

    def _bound(
        self, doc: Document, path: Path_, key: str, source: str, params: dict[str, FieldSpec], fields: dict[str, Any]
    ) -> None:
        """A task's start_after or due gives a date: it reads a date or date-time parameter or field of the record,
        or it is a date itself (docs/projects.md)."""
        try:
            names = templating.inspect(source)
        except templating.TemplateProblem:
            return  # T701 said so
        used: list[tuple[str, str | None, str | None]] = []  # (name, attribute, its type: None where unknown)
        for name in sorted(names.variables - {"params", "record"}):
            used.append((name, None, params[name].type if name in params else None))
        for base, attr in sorted(names.attributes):
            if base == "params" or (base == "record" and attr in fields):
                spec = params.get(attr) if base == "params" else fields.get(attr)
                used.append((base, attr, spec.type if spec else None))
            elif base == "record" and attr in RECORD_BUILTINS:
                used.append((base, attr, "datetime" if attr == "created_at" else "text"))
        if not used:
            try:
                projects.bound_moment(source, key, dt.UTC)
            except ValueError:
                self.report(doc, path, "T707", f"{key} {source!r} is not {projects.BOUND_FORMS}")
            return
        if any(kind in (None, "date", "datetime") for _, _, kind in used):
            return  # a date to draw on, or a name T702 reports
        first, attribute, kind = used[0]
        shown = f"{first}.{attribute}" if attribute else first
        message = f"{key} uses '{shown}' ({kind}), but no date or date-time parameter or field"
        self.report(doc, path, "T707", message, inside=templating.where(source, first, attribute))

    def _schedule(self, doc: Document, data: dict[str, Any]) -> None:
        """A scheduled launch has no record to be launched for, nor an author: a person or a role it is for;
        its params are checked as a launch action's."""
        schedule = data["schedule"]
        if "form" in data:
            message = f"template '{data['name']}' is launched for {data['form']} records: a schedule has no record"
            self.report(doc, ("schedule",), "T706", message, key=True)
        if schedule.get("for") == "author":
            self.report(doc, ("schedule", "for"), "T706", "a scheduled launch has no author: name a person or a role")
        elif "for" in schedule:
            self._actor(doc, ("schedule", "for"), schedule["for"])
        self._launch(doc, ("schedule",), {"template": data["name"], "params": schedule.get("params", {})})

    def _priority_binding(self, doc: Document, binding: dict[str, Any], specs: dict[str, FieldSpec] | None) -> None:
        """A project priority bound to a field of the record: the template has a form, the form the field, and the
        field's values can become a priority (a number field by itself, others through map)."""
        path: Path_ = ("project", "priority")
        name = binding["field"]
        if "form" not in doc.data:
            message = f"the priority is bound to field '{name}', but the template names no form its records are of"
            self.report(doc, (*path, "field"), "R001", message)
            return
        if specs is None:
            return  # the unknown form is reported already
        spec = specs.get(name)
        if spec is None or name not in (self._form_specs(doc.data["form"]) or {}):
            self.report(doc, (*path, "field"), "R001", f"unknown field '{name}'{_hint(name, specs)}")
            return
        if "map" not in binding and spec.type != "number":
            message = f"field '{name}' is {spec.type}, not a number: give a map from its values to priorities"
            self.report(doc, (*path, "field"), "C501", message)
        known = {"bool": ("yes", "no"), "list": tuple(spec.options)}.get(spec.type)
        for value in binding.get("map", {}):
            if known is not None and value not in known:
                message = f"'{value}' is not a value of {spec.type} field '{name}' (values: {', '.join(known)})"
                self.report(doc, (*path, "map", value), "C502", message, key=True)

    def _check_intakerule(self, doc: Document) -> None:
        data = doc.data
        allowed = set(MAIL_VARIABLES)
        form_fields = None
        if data.get("creates") == "record" and "form" in data and self._ref(doc, ("form",), "Form", data["form"]):
            form_fields = self._form_specs(data["form"])
            process = data.get("process")
            if process is not None and self._ref(doc, ("process",), "Process", process):
                owner = self.index.get("Process", process)
                if owner is not None and owner.data.get("form") != data["form"]:
                    message = f"process '{process}' is not a process of form {data['form']}"
                    self.report(doc, ("process",), "I902", message)
        self._template_fields(doc, ("fields",), data.get("fields", {}), form_fields, allowed)
        task = data.get("task") or {}
        for key in ("title", "description", "project"):
            if key in task:
                self._template(doc, ("task", key), task[key], allowed, None)
        if "assignee" in task:
            self._actor(doc, ("task", "assignee"), task["assignee"])
        if "estimate" in task:
            self._duration(doc, ("task", "estimate"), task["estimate"])
        initiator = data.get("initiator") or {}
        for i, name in enumerate(initiator.get("search", [])):
            if self._ref(doc, ("initiator", "search", i), "Form", name):
                specs = self._form_specs(name) or {}
                if specs and not any(spec.type == "email" for spec in specs.values()):
                    self.report(doc, ("initiator", "search", i), "I901", f"form {name} has no e-mail field to search")
        create = initiator.get("create")
        if create and self._ref(doc, ("initiator", "create", "form"), "Form", create["form"]):
            create_specs = self._form_specs(create["form"])
            fields = create.get("fields", {})
            self._template_fields(doc, ("initiator", "create", "fields"), fields, create_specs, allowed)

    def _template_fields(
        self, doc: Document, path: Path_, values: dict[str, str], specs: dict[str, FieldSpec] | None, allowed: set[str]
    ) -> None:
        for name, source in values.items():
            if specs is not None and name not in specs:
                self.report(doc, (*path, name), "R001", f"unknown field '{name}'{_hint(name, specs)}", key=True)
            self._template(doc, (*path, name), source, allowed, None)


MAIL_VARIABLES = ("subject", "body", "sender", "sender_name", "date", "message_id", "to", "initiator")


def _carries(source: FieldSpec, target: FieldSpec) -> bool:
    """Whether every value of the source field is a value of the target: the same type (a list with the
    target's options, a ref to the same form), or any text-like value into a text."""
    if target.type == "text":
        return source.type in ("text", "email", "phone", "list")
    if source.type != target.type:
        return False
    if source.type == "list":
        return set(source.options) <= set(target.options)
    if source.type == "ref":
        return source.form == target.form
    return True


def _hint(name: str, choices: Iterable[str]) -> str:
    import difflib

    close = difflib.get_close_matches(name, list(choices), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _quote(value: Any) -> str:
    return f"'{value}'" if isinstance(value, str) else str(value)


def check(documents: list[Document], known: list[Document] | None = None, partial: bool = False) -> list[Diagnostic]:
    return Checker(documents, known, partial).run()
