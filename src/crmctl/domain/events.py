"""The kinds of event crmctl writes to a record's history (crm.events.action).

Each value is the action string stored in the database, so the names here are the names in every database
written so far; render/records.py holds the one-line wording of each.
"""

from __future__ import annotations

from enum import StrEnum


class Event(StrEnum):
    # records
    RECORD_CREATED = "record.created"
    RECORD_UPDATED = "record.updated"
    RECORD_IMPORTED = "record.imported"  # not stored: `record history` derives it from crm.imports
    COMMENT_ADDED = "comment.added"
    REMINDER_ADDED = "reminder.added"
    REMINDER_DONE = "reminder.done"
    REMINDER_CLOSED = "reminder.closed"  # the record left the stage whose on_enter made them
    MAIL_RECEIVED = "mail.received"
    RECORD_DELETED = "record.deleted"
    RECORD_RESTORED = "record.restored"
    PERMISSION_REFUSED = "permission.refused"
    TEAM_CHANGED = "team.changed"  # apply changed a person or a role: what it was and what it is
    FILE_ATTACHED = "file.attached"
    FILE_DELETED = "file.deleted"
    RECORD_LINKED = "record.linked"
    NOTICE_SENT = "notice.sent"
    # processes
    STAGE_ENTERED = "stage.entered"
    STAGE_SKIPPED = "stage.skipped"
    STAGE_PASSED = "stage.passed"
    APPROVAL_GIVEN = "approval.given"
    APPROVAL_REJECTED = "approval.rejected"
    APPROVAL_MOVED = "approval.moved"
    APPROVERS_CHANGED = "approvers.changed"
    RESPONSIBLE_CHANGED = "responsible.changed"
    TRANSITION_TIMED = "transition.timed"  # a stage's timed rule moved the record (tick)
    # projects, tasks and time
    PROJECT_CREATED = "project.created"
    PROJECT_LAUNCHED = "project.launched"
    PROJECT_UPDATED = "project.updated"
    TASK_CREATED = "task.created"
    TASK_UPDATED = "task.updated"
    TASK_ASSIGNED = "task.assigned"
    TASK_STATUS = "task.status"
    TASK_DEPENDENCIES = "task.dependencies"
    TASK_COMMENTED = "task.commented"
    TIMER_STARTED = "timer.started"
    TIMER_STOPPED = "timer.stopped"
    TIME_LOGGED = "time.logged"
    TIME_EDITED = "time.edited"
    TIME_DELETED = "time.deleted"
    SPRINT_CREATED = "sprint.created"
    SPRINT_TASKS = "sprint.tasks"
    # recurring work and announcements
    SERIES_STARTED = "series.started"
    SERIES_NEXT = "series.next"  # the next occurrence of a series was made
    SERIES_STOPPED = "series.stopped"
    ANNOUNCEMENT_MADE = "announcement.made"
    ANNOUNCEMENT_WITHDRAWN = "announcement.withdrawn"
    ANNOUNCEMENT_EXPIRED = "announcement.expired"
