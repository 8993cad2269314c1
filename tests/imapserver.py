"""A real IMAP server for the tests: Debian's dovecot, run with a configuration of its own on a free port of
127.0.0.1, speaking TLS with a certificate made here, one mailbox user. Tests skip (saying why) where dovecot
is not installed (scripts/test-deps.sh installs it) or cannot start."""

from __future__ import annotations

import imaplib
import os
import pwd
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

DOVECOT = "/usr/sbin/dovecot"
USER, PASSWORD = "crm@sd.example.ru", "imap-secret"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Imap:
    port: int
    cert: Path

    def client(self) -> imaplib.IMAP4_SSL:
        context = ssl.create_default_context(cafile=str(self.cert))
        client = imaplib.IMAP4_SSL("127.0.0.1", self.port, ssl_context=context, timeout=30)
        client.login(USER, PASSWORD)
        return client

    def append(self, message: str, folder: str = "INBOX") -> None:
        client = self.client()
        try:
            assert client.append(folder, None, None, message.replace("\n", "\r\n").encode())[0] == "OK"
        finally:
            client.logout()

    def uids(self, criteria: str, folder: str = "INBOX") -> list[bytes]:
        client = self.client()
        try:
            client.select(folder)
            kind, data = client.uid("SEARCH", *criteria.split())
            assert kind == "OK"
            return data[0].split() if data and data[0] else []
        finally:
            client.logout()

    def create(self, folder: str) -> None:
        client = self.client()
        try:
            client.create(folder)
        finally:
            client.logout()


def _config(base: Path, port: int, user: pwd.struct_passwd, internal: str, login: str) -> str:
    return f"""base_dir = {base}/run
state_dir = {base}/state
log_path = {base}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = required
ssl_cert = <{base}/cert.pem
ssl_key = <{base}/key.pem
auth_mechanisms = plain
first_valid_uid = {user.pw_uid}
default_internal_user = {internal}
default_login_user = {login}
service imap-login {{
  inet_listener imap {{
    port = 0
  }}
  inet_listener imaps {{
    port = {port}
    ssl = yes
  }}
}}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {base}/users
}}
userdb {{
  driver = static
  args = uid={user.pw_uid} gid={user.pw_gid} home={base}/home/%u
}}
mail_location = maildir:~/Maildir
"""


def _accounts() -> tuple[pwd.struct_passwd, str, str]:
    """Who the mail belongs to and who dovecot's own processes run as: its system users where it runs as
    root, else the user running the tests."""
    if os.geteuid() == 0:
        try:
            return pwd.getpwnam("dovecot"), "dovecot", "dovenull"
        except KeyError:
            pytest.skip("dovecot runs as root here but its system user 'dovecot' does not exist")
    me = pwd.getpwuid(os.getuid())
    return me, me.pw_name, me.pw_name


@pytest.fixture(name="imap")
def imap_fixture() -> Iterator[Imap]:
    if not os.path.exists(DOVECOT):
        pytest.skip("dovecot is not installed (scripts/test-deps.sh installs dovecot-imapd where it can)")
    if not shutil.which("openssl"):
        pytest.skip("openssl is needed to make the IMAP server's certificate")
    base = Path(tempfile.mkdtemp(prefix="crm-imap-", dir="/tmp"))  # short: dovecot's sockets live in it
    base.chmod(0o755)  # dovecot's own users read the password file and reach the mail folder
    port = _free_port()
    made = subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(base / "key.pem"),
         "-out", str(base / "cert.pem"), "-days", "2", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1"], capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    user, internal, login = _accounts()
    (base / "users").write_text(f"{USER}:{{PLAIN}}{PASSWORD}\n", encoding="utf-8")
    (base / "home").mkdir()
    if os.geteuid() == 0:
        os.chown(base / "home", user.pw_uid, user.pw_gid)
    conf = base / "dovecot.conf"
    conf.write_text(_config(base, port, user, internal, login), encoding="utf-8")
    with open(base / "start.log", "w", encoding="utf-8") as said:  # not a pipe: the daemon would hold it open
        started = subprocess.run([DOVECOT, "-c", str(conf)], stdout=said, stderr=said, timeout=60)
    if started.returncode != 0:
        why = (base / "start.log").read_text(errors="replace").strip()[:300]
        shutil.rmtree(base, ignore_errors=True)
        pytest.skip(f"dovecot did not start: {why}")
    server = Imap(port, base / "cert.pem")
    try:
        _wait(server, base)
        yield server
    finally:
        _stop(base)
        shutil.rmtree(base, ignore_errors=True)


def _wait(server: Imap, base: Path) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            server.client().logout()
            return
        except (OSError, imaplib.IMAP4.error):
            if time.monotonic() > deadline:
                log = (base / "dovecot.log").read_text(errors="replace") if (base / "dovecot.log").exists() else ""
                raise AssertionError(f"dovecot did not answer: {log[-1000:]}") from None
            time.sleep(0.2)


def _stop(base: Path) -> None:
    pid_file = base / "run" / "master.pid"
    if pid_file.exists():
        pid = int(pid_file.read_text().strip())
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.1)
