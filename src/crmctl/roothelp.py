# ruff: noqa: E501
"""What `crmctl --help` shows: the usage, the description, the global options' help (term, text) and each
command's first paragraph of help, in the page's order; crmctl.entry lays them out as typer would. Written
by scripts/roothelp.py from the command line: do not edit by hand."""

from __future__ import annotations

USAGE = '[OPTIONS] COMMAND [ARGS]...'
DESCRIPTION = 'A command-line CRM and business-process engine: processes as code, data in one DuckDB file.'
OPTIONS: tuple[tuple[str, str], ...] = (
    ('-w, --workspace FOLDER', 'Workspace folder (default: found upwards).  [env var: CRMCTL_WORKSPACE]'),
    ('--db FILE', "DuckDB file (default: the workspace's).  [env var: CRMCTL_DB]"),
    ('--as PERSON', 'Act as this person of the Team.  [env var: CRMCTL_USER]'),
    ('--now DATETIME', 'Pretend the time is this ISO date-time (scripts, tests).  [env var: CRMCTL_NOW]'),
    ('-f, --format FORMAT', 'Default output format of every command.  [env var: CRMCTL_FORMAT]'),
    ('--wide', "Tables show every column and cell whole, whatever the terminal's width."),
    ('-q, --quiet', 'No progress lines, even on a terminal.  [env var: CRMCTL_QUIET]'),
    ('--debug', 'Show tracebacks of errors.'),
    ('--version', 'Print the version and exit.'),
    ('-h, --help', 'Show this message and exit.'),
)
COMMANDS: tuple[tuple[str, str], ...] = (
    ('init', 'Create a workspace (a bundled example or a minimal one) and its database.'),
    ('validate', 'Check workspace definitions: YAML, JSON Schema and semantic checks; report every problem at once.'),
    ('schema', 'Print the JSON Schema (draft 2020-12) of one configuration kind, self-contained.'),
    ('plan', 'Show what `crmctl apply` would change in the database, and what it would refuse.'),
    ('apply', 'Validate the workspace and apply its definitions to the database in one transaction.'),
    ('comment', "Add a comment to a record's history."),
    ('remind', 'Set a reminder on a record (the next call, the next meeting), a recurring one with --every; mark one done\nwith --done ID, stop a recurring one with --stop ID, list them with --list.'),
    ('agenda', 'What is due today (and in the next --days), and what is overdue, in red on a terminal.'),
    ('attach', 'Attach files to a record, a task or a project; each content is stored once.'),
    ('files', 'List the files attached to a record, a task or a project.'),
    ('advance', 'Move a record along an allowed transition of its process; says which projects entering launched.'),
    ('approve', "Approve the record's current stage as one of its pending approvers (or hand it on with --delegate)."),
    ('reject', "Reject the record's current stage; it goes where the stage's on_reject says."),
    ('board', 'The kanban board of a process: a column per stage with counts and cards (table, json or html).'),
    ('simulate', 'Show, without writing anything, the stages and approvers a record with these values would meet.'),
    ('inbox', 'Approval requests, stage entries and passed deadlines for a person, for scripts to forward.'),
    ('tick', 'Do everything that is due now: timed transitions, recurring tasks, reminders and scheduled launches,\nannouncements that end, notices of passed stage deadlines and of reminders that have come. Safe to run\nfrom cron as often as you like: run twice at the same time, the second run changes nothing.'),
    ('announce', "Make an announcement shown at the top of its audience's agenda and inbox until it ends; withdraw one;\nlist them. Making and withdrawing take announcements.manage."),
    ('queue', "A person's open, unblocked tasks in the order to do them, with computed start and finish."),
    ('eta', 'When a task, project or record will be ready, computed from queues, estimates, calendars and dependencies.'),
    ('load', "The team at a glance: each person's queued work, when their queue empties, their working hours in a\nperiod and how much of them the work takes; overloaded people flagged."),
    ('import', 'Import records of a form (or tasks, or time intervals) from a file: every row is checked first, all\nproblems are reported at once, and the import writes everything or nothing (--on-error skip: the good rows).\nWith --key, running the same import twice changes nothing the second time.'),
    ('export', "Write data out: a form's records, tasks or time intervals as csv, json (JSON Lines) or parquet, ready\nfor `crmctl import`; `export tjp` gives TaskJuggler (tj3) the open tasks, people, calendars, holidays and\nabsences."),
    ('whoami', "Who your commands act as: the token's person against a server, the --as person locally."),
    ('notices', 'Notices delivered by mail by the team server: sent, waiting for a retry, or failed for good.'),
    ('backup', 'Write a consistent copy of the whole database to a new file, while others work (needs team.manage).\nAgainst a team server the copy is made there and downloaded.'),
    ('serve', "Serve the workspace's database to the team over HTTP(S): the server is the only process that opens the\nfile; people sign in with tokens (crmctl token create, crmctl login) and act as themselves."),
    ('login', 'Sign in to a team server with your token; later commands outside a local workspace go to it.'),
    ('logout', 'Forget the token of a server on this machine (revoke it with `crmctl token revoke` to end it).'),
    ('completion', "Print the script that makes the shell complete crmctl's commands, options, and the workspace's forms,\nprocesses, templates, people and record keys."),
    ('template', "The workspace's project templates and their parameters."),
    ('process', "The workspace's processes and their stages."),
    ('form', "The workspace's forms and their fields."),
    ('record', 'Create, change, show and list records.'),
    ('file', 'Get or delete one attached file by its id.'),
    ('project', 'Projects: create, list, show, and launch project templates.'),
    ('task', 'Tasks: add, assign, chain, work on and finish them.'),
    ('time', 'Time worked on tasks: log past work, list, correct and delete intervals.'),
    ('sprint', 'Sprints: time boxes of tasks.'),
    ('report', 'Reports: efficiency, estimate revision, stage funnel.'),
    ('intake', 'Take in work from outside: e-mail messages by intake rules.'),
    ('token', 'Personal access tokens for the team server.'),
    ('audit', "The event log's integrity."),
)
