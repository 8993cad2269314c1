"""Who may do what: the permission vocabulary and the check against a person's roles."""

from __future__ import annotations

from crmctl.domain.model import Definitions

# permission -> what it lets a person do (the 1C Service Desk role list, plus record-level permissions)
PERMISSIONS = {
    "tasks.read": "read tasks",
    "tasks.add": "add tasks",
    "tasks.execute": "execute tasks",
    "tasks.view_others": "view others' tasks",
    "tasks.view_unassigned": "view undistributed tasks",
    "tasks.assign": "distribute tasks",
    "tasks.manage_others": "work on others' tasks",
    "processes.manage": "manage processes and stages",
    "reports.view": "view reports",
    "mail.evaluate": "evaluate tasks from e-mail",
    "sprints.manage": "manage sprints",
    "records.read": "read records",
    "records.create": "create records",
    "records.update": "change records",
    "records.comment": "comment on records",
    "records.advance": "move records through their process",
    "records.assign": "hand a record's stage to another person",
    "records.delete": "delete records (to the archive) and restore them",
    "records.import": "import records",
    "records.export": "export records",
    "team.manage": "manage the team's tokens",
    "announcements.manage": "make and withdraw announcements",
    "files.delete": "delete attached files",
}


def allowed(defs: Definitions, actor: str | None, permission: str, form: str | None = None) -> bool:
    """Single-user mode (no Team) allows everything; otherwise one of the actor's roles must grant it."""
    if not defs.has_team:
        return True
    if actor is None or actor not in defs.people:
        return False
    for role_id in defs.people[actor].roles:
        role = defs.roles.get(role_id)
        if role is None:
            continue
        granted = set(role.permissions)
        if "*" in granted or permission in granted or (form is not None and f"{permission}:{form}" in granted):
            return True
    return False


def granted(defs: Definitions, person: str) -> set[str]:
    """What a person's roles grant, as written: "records.read", "records.read:order", "*"."""
    found = defs.people.get(person)
    if found is None:
        return set()
    return {p for role_id in found.roles if role_id in defs.roles for p in defs.roles[role_id].permissions}


def _holds(defs: Definitions, actor: str | None, permission: str) -> bool:
    if permission == "*":
        return actor is not None and "*" in granted(defs, actor)
    name, _, form = permission.partition(":")
    return allowed(defs, actor, name, form or None)


def promotions(old: Definitions, new: Definitions, actor: str | None) -> list[str]:
    """What a new Team gives anyone that the person applying it does not hold under the Team in force: no one
    hands out more than they have, themselves included ("anna would get team.manage"). The first Team of a
    workspace is the administrator's to write."""
    if not old.has_team:
        return []
    found = []
    for person in sorted(new.people):
        gained = granted(new, person) - granted(old, person)
        found += [f"{person} would get {p}" for p in sorted(gained) if not _holds(old, actor, p)]
    return found


def members(defs: Definitions, role: str) -> list[str]:
    return sorted(p.id for p in defs.people.values() if role in p.roles)


def require(defs: Definitions, actor: str | None, permission: str, doing: str, form: str | None = None) -> None:
    """InputError unless the actor holds the permission: '<who> may not <doing>: permission <p> is missing'."""
    if not allowed(defs, actor, permission, form):
        from crmctl.errors import InputError

        who = actor or "nobody (give --as or CRMCTL_USER)"
        raise InputError(f"{who} may not {doing}: permission {permission} is missing")


def task_refusal(defs: Definitions, actor: str | None, assignee: str | None) -> str | None:
    """The permission the actor lacks to read a task given to assignee, or None if they may read it: tasks.read
    always; for someone else's task tasks.view_others; for a task of nobody tasks.view_unassigned (or
    tasks.view_others)."""
    if not allowed(defs, actor, "tasks.read"):
        return "tasks.read"
    if (assignee is not None and assignee == actor) or allowed(defs, actor, "tasks.view_others"):
        return None
    if assignee is None:
        return None if allowed(defs, actor, "tasks.view_unassigned") else "tasks.view_unassigned"
    return "tasks.view_others"
