"""Opening the database: the lock file, waiting in line in arrival order, read-only readers, and faults of the
machine (a full disk, a read-only file system, a damaged file) as their own exit code, 6."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .conftest import NOW, ROOT, chief
from .dbstate import dump, query

ADD = ("record", "create", "client", "--set", "name=A")
LIST = ("record", "list", "client")


def _lock_refused(lock: Path, kind: str) -> str:
    return f"crmctl: error: the lock file {lock} is {kind}; crmctl will not use it (remove it, no command needs it)\n"


def test_a_symlink_at_the_lock_file_is_refused_and_its_target_left_alone(cli, workspace: Path, tmp_path: Path):
    lock = workspace / "crmctl.duckdb.lock"
    precious = tmp_path / "precious.txt"
    precious.write_text("not yours\n")
    lock.unlink()
    lock.symlink_to(precious)
    before = dump(workspace / "crmctl.duckdb")
    for args in (ADD, LIST):
        result = cli(*args)
        assert (result.exit_code, result.stderr) == (6, _lock_refused(lock, "a symbolic link")), args
    assert precious.read_text() == "not yours\n"  # a truncation once emptied it
    assert dump(workspace / "crmctl.duckdb") == before
    lock.unlink()
    lock.symlink_to(tmp_path / "nothing-here")  # a dangling link: nothing is created where it points
    assert cli(*ADD).exit_code == 6
    assert not (tmp_path / "nothing-here").exists()


def test_a_folder_at_the_lock_file_is_refused(cli, workspace: Path) -> None:
    """A folder once let commands run with no lock at all."""
    lock = workspace / "crmctl.duckdb.lock"
    lock.unlink()
    lock.mkdir()
    before = dump(workspace / "crmctl.duckdb")
    for args in (ADD, LIST):
        result = cli(*args)
        assert (result.exit_code, result.stderr) == (6, _lock_refused(lock, "a folder")), args
    assert dump(workspace / "crmctl.duckdb") == before
    lock.rmdir()
    assert cli(*ADD).exit_code == 0


def test_a_truncated_database_file_is_an_environment_error(cli, workspace: Path, tmp_path: Path) -> None:
    cut = tmp_path / "cut.duckdb"
    cut.write_bytes((workspace / "crmctl.duckdb").read_bytes()[:5000])
    for args in (ADD, LIST):
        result = cli("--db", str(cut), *args)
        assert result.exit_code == 6, result.stderr
        assert result.stderr == f"crmctl: error: database {cut}: the file is cut short; restore it from a backup\n"
    assert cut.stat().st_size == 5000


def test_a_damaged_block_is_an_environment_error(cli, workspace: Path, tmp_path: Path) -> None:
    """Bytes flipped inside every block after the headers: DuckDB's checksums find it, on opening or on the
    first read of the block."""
    cli(*ADD)
    data = bytearray((workspace / "crmctl.duckdb").read_bytes())
    for start in range(3 * 4096 + 4096, len(data), 256 * 1024):
        for i in range(start, min(start + 64, len(data))):
            data[i] ^= 0xFF
    damaged = tmp_path / "damaged.duckdb"
    damaged.write_bytes(bytes(data))
    for args in (LIST, ADD):
        result = cli("--db", str(damaged), *args)
        assert result.exit_code == 6, result.stderr
        assert result.stderr == (
            f"crmctl: error: database {damaged}: the file is damaged (a checksum does not match); "
            "restore it from a backup\n"
        )


def _private_mounts(script: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run a shell script in a mount namespace of its own (mounts there are seen by no one else); skip the
    test where this machine does not allow it."""
    unshare = shutil.which("unshare")
    if unshare is None or subprocess.run([unshare, "-m", "true"], capture_output=True).returncode != 0:
        pytest.skip("no private mount namespace here (unshare -m)")
    env = {k: v for k, v in os.environ.items() if not k.startswith("CRMCTL_")}
    env.update(CRMCTL_NOW=NOW, CRMCTL_USER=chief(cwd) or "", CRMCTL=f"{sys.executable} -m crmctl")
    done = subprocess.run([unshare, "-m", "sh", "-c", script], cwd=cwd, env=env, capture_output=True, text=True)
    if "MOUNT FAILED" in done.stdout:
        pytest.skip("mounting is not allowed here: " + done.stderr.strip())
    return done


def test_a_full_disk_is_an_environment_error_and_changes_nothing(workspace: Path, tmp_path: Path) -> None:
    """The workspace on a small tmpfs, filled up: the record's write fails at the commit; exit code 6 and one
    line; once there is room the database is as it was and takes the record."""
    disk = tmp_path / "disk"
    disk.mkdir()
    script = f"""
mount -t tmpfs -o size=8m tmpfs {disk} || {{ echo MOUNT FAILED; exit 0; }}
cp -r {workspace} {disk}/ws && cd {disk}/ws
dd if=/dev/zero of={disk}/filler bs=4k 2>/dev/null
$CRMCTL record create client --set name=Full; echo "create $?"
$CRMCTL record list client -f csv; echo "list $?"
rm {disk}/filler
$CRMCTL record list client -f csv; echo "list $?"
$CRMCTL record create client --set name=Room; echo "create $?"
"""
    done = _private_mounts(script, workspace)
    assert done.stdout.splitlines() == [
        "create 6",
        "key,process,stage,author,created_at,updated_at,name,phone,email,status",
        "list 0",
        "key,process,stage,author,created_at,updated_at,name,phone,email,status",
        "list 0",
        "CL-1",
        "create 0",
    ], done.stderr
    full = f"crmctl: error: database {disk}/ws/crmctl.duckdb: no space is left on its device; nothing was changed\n"
    assert full in done.stderr
    assert "Traceback" not in done.stderr


def test_a_read_only_file_system_serves_commands_that_read(workspace: Path, tmp_path: Path) -> None:
    """Commands that only read open the database read-only and work on a read-only mount; a command that
    writes (queue keeps its computed schedule, so it writes) stops with exit code 6."""
    cli_db = workspace / "crmctl.duckdb"
    before = dump(cli_db)
    ro = tmp_path / "ro"
    ro.mkdir()
    script = f"""
mount --bind {workspace} {ro} && mount -o remount,bind,ro {ro} || {{ echo MOUNT FAILED; exit 0; }}
cd {ro}
$CRMCTL record list client -f csv; echo "list $?"
$CRMCTL report efficiency >/dev/null; echo "report $?"
$CRMCTL task list >/dev/null; echo "task list $?"
$CRMCTL record create client --set name=X; echo "create $?"
$CRMCTL queue >/dev/null; echo "queue $?"
"""
    done = _private_mounts(script, workspace)
    assert done.stdout.splitlines() == [
        "key,process,stage,author,created_at,updated_at,name,phone,email,status",
        "list 0",
        "report 0",
        "task list 0",
        "create 6",
        "queue 6",
    ], done.stderr
    refusal = (
        f"crmctl: error: database {ro}/crmctl.duckdb: its file system is read-only: commands that write cannot run, "
        "those that only read can\n"
    )
    assert done.stderr.count(refusal) == 2, done.stderr
    assert dump(cli_db) == before


# -- waiting in line -------------------------------------------------------------------------------------------

HOLD = """
import sys
from pathlib import Path
from crmctl.store import db
conn = db.connect(Path(sys.argv[1]), write=sys.argv[2] == "write")
print("held", flush=True)
sys.stdin.readline()
db.close(conn)
"""


def _hold(path: Path, how: str) -> subprocess.Popen[str]:
    """A process that has its turn on the database (to write or to read) until its stdin gets a line."""
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(path), how], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout is not None and holder.stdout.readline() == "held\n"
    return holder


def _release(holder: subprocess.Popen[str]) -> None:
    assert holder.stdin is not None
    holder.stdin.write("\n")
    holder.stdin.close()
    holder.wait(timeout=30)
    if holder.stdout is not None:
        holder.stdout.close()


def test_readers_share_a_turn_and_a_writer_waits_for_them(cli, workspace: Path) -> None:
    db = workspace / "crmctl.duckdb"
    cli(*ADD)
    holder = _hold(db, "read")
    try:
        quick = {"CRMCTL_BUSY_TIMEOUT": "0.5"}
        started = time.monotonic()
        shown = cli(*LIST, "-f", "csv", env=quick)
        assert shown.exit_code == 0, shown.stderr
        assert shown.stdout.splitlines()[1].startswith("CL-1,")
        assert time.monotonic() - started < 5
        before = dump(db)
        refused = cli("record", "create", "client", "--set", "name=B", env=quick)
        assert refused.exit_code == 4
        assert refused.stderr == (
            f"crmctl: error: database {db} is busy: another command holds it "
            "(waited 0.5s; set CRMCTL_BUSY_TIMEOUT to wait longer)\n"
        )
        assert dump(db) == before
    finally:
        _release(holder)
    holder = _hold(db, "write")
    try:  # DuckDB lets no reader open a file that a writer holds: a reader waits for the writer
        waited = cli(*LIST, env={"CRMCTL_BUSY_TIMEOUT": "0.5"})
        assert waited.exit_code == 4
        assert f"is busy: crmctl process {holder.pid} holds it (waited 0.5s" in waited.stderr
    finally:
        _release(holder)


def _tickets_drawn(lock: Path) -> int:
    text = lock.read_bytes()[32:52].strip(b"\0 \n")
    return int(text) if text else 0


def test_writers_are_served_in_the_order_they_arrived(workspace: Path) -> None:
    """Four writers arrive one after another while the database is held; the second dies while it waits.
    The three others get their turns in the order they arrived (their keys say so), the dead one's place
    holds no one up, and it wrote nothing."""
    db = workspace / "crmctl.duckdb"
    lock = workspace / "crmctl.duckdb.lock"
    env = {k: v for k, v in os.environ.items() if not k.startswith("CRMCTL_")}
    env.update(CRMCTL_NOW=NOW, CRMCTL_USER=chief(workspace) or "", CRMCTL_BUSY_TIMEOUT="120")
    env["PYTHONPATH"] = str(ROOT / "src")
    holder = _hold(db, "write")
    writers = []
    try:
        for n in range(1, 5):
            drawn = _tickets_drawn(lock)
            writers.append(
                subprocess.Popen(
                    [sys.executable, "-m", "crmctl", "record", "create", "client", "--set", f"name=W{n}"],
                    cwd=workspace,
                    env=env,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                )
            )
            deadline = time.monotonic() + 60
            while _tickets_drawn(lock) == drawn:  # in line before the next one arrives
                assert time.monotonic() < deadline and writers[-1].poll() is None
                time.sleep(0.01)
        writers[1].send_signal(signal.SIGKILL)
        writers[1].wait()
    finally:
        _release(holder)
    outputs = [w.communicate(timeout=120) for w in writers]
    assert [w.returncode for w in writers] == [0, -signal.SIGKILL, 0, 0], outputs
    assert [out for out, _ in outputs] == ["CL-1\n", "", "CL-2\n", "CL-3\n"]
    assert query(db, "SELECT name FROM client ORDER BY number") == [("W1",), ("W3",), ("W4",)]


def test_a_waiter_stopped_in_line_is_passed(workspace: Path) -> None:
    """A command stopped (^Z) while it waits keeps its ticket but cannot take its turn: once the turn has
    stayed free for a second, the command behind it goes ahead; the stopped one, continued, gets its turn
    after it."""
    db = workspace / "crmctl.duckdb"
    lock = workspace / "crmctl.duckdb.lock"
    env = {k: v for k, v in os.environ.items() if not k.startswith("CRMCTL_")}
    env.update(CRMCTL_NOW=NOW, CRMCTL_USER=chief(workspace) or "", CRMCTL_BUSY_TIMEOUT="60")
    holder = _hold(db, "write")
    drawn = _tickets_drawn(lock)
    stopped = subprocess.Popen(
        [sys.executable, "-m", "crmctl", "record", "create", "client", "--set", "name=Stopped"],
        cwd=workspace,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while _tickets_drawn(lock) == drawn:
            assert time.monotonic() < deadline and stopped.poll() is None
            time.sleep(0.01)
        stopped.send_signal(signal.SIGSTOP)
        _release(holder)
        started = time.monotonic()
        behind = subprocess.run(
            [sys.executable, "-m", "crmctl", "record", "create", "client", "--set", "name=Behind"],
            cwd=workspace,
            env={**env, "CRMCTL_BUSY_TIMEOUT": "20"},
            capture_output=True,
            text=True,
        )
        assert (behind.returncode, behind.stdout) == (0, "CL-1\n"), behind.stderr
        assert time.monotonic() - started < 20
    finally:
        stopped.send_signal(signal.SIGCONT)
    out, err = stopped.communicate(timeout=120)
    assert (stopped.returncode, out) == (0, "CL-2\n"), err
    assert query(db, "SELECT name FROM client ORDER BY number") == [("Behind",), ("Stopped",)]
