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
    "records.delete": "delete records (to the archive) and restore them",
    "records.import": "import records",
    "records.export": "export records",
    "team.manage": "manage the team's tokens",
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
