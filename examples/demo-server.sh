#!/usr/bin/env bash
# The team server, as examples/demo.sh's last part: `crmctl serve` holds a workspace's database, two people
# work one record from their own "machine" (the client, with their own token), and the notices reach a mail
# sink on this machine (aiosmtpd, a real SMTP server). Run from the folder demo.sh works in.
set -euo pipefail
unset CRMCTL_USER  # the server's people are its tokens' (and the administrator's --as below)
step() { printf '\n== %s\n' "$*"; }
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

rm -rf team team-mail
step "crmctl init team --example pyrus-client-crm; notices go out by mail"
crmctl init team --example pyrus-client-crm
smtp_port=$(free_port)
port=$(free_port)
printf 'smtp:\n  host: 127.0.0.1\n  port: %s\n  security: none\n  from: crm@example.ru\n' "$smtp_port" >>team/crmctl.yaml
(cd team && CRMCTL_USER=sokolov crmctl apply >/dev/null)

step "tokens, made by the administrator on the server's machine"
(cd team && crmctl token create sokolov --name laptop >../sokolov.token 2>/dev/null)
(cd team && crmctl --as sokolov token create belov --name laptop >../belov.token 2>/dev/null)
echo "a token each for sokolov and belov (shown once, kept in sokolov.token and belov.token)"

step "crmctl serve (and a mail sink on 127.0.0.1)"
python3 -m aiosmtpd -n -l "127.0.0.1:$smtp_port" -c aiosmtpd.handlers.Mailbox team-mail >/dev/null 2>&1 &
sink=$!
(cd team && exec crmctl serve --port "$port" --every 0.5 2>../serve.log) &
server=$!
trap 'kill "$server" "$sink" 2>/dev/null || true' EXIT
python3 - "$port" <<'PY'
import sys, time, urllib.request
for _ in range(300):
    try:
        urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/healthz", timeout=1).read()
        break
    except OSError:
        time.sleep(0.1)
PY

step "belov and sokolov work CL-1, each as themselves (CRMCTL_SERVER and their token: no --as)"
unset CRMCTL_USER
export CRMCTL_SERVER="http://127.0.0.1:$port"
as() { local who=$1; shift; CRMCTL_TOKEN="$(cat "$who.token")" crmctl "$@"; }
as belov whoami
as belov record create client --set "name=ООО Ромашка" --set "phone=+7 (912) 345-67-89" --set "contact_person=Ирина"
as belov approve CL-1
as sokolov comment CL-1 "Берём в работу, я согласую КП"
as belov remind CL-1 --at 2027-03-01T10:00 "Позвонить Ирине после обеда"  # due now: the scheduler tells belov
as sokolov --as belov inbox || echo "(exit $?: against a server you are your token's person)"
as belov record history CL-1
sleep 2  # a few rounds of the scheduler
as sokolov notices --all

step "the server stops (SIGTERM: the running write finishes, then the database is closed)"
kill -TERM "$server"
wait "$server" || true
kill "$sink" 2>/dev/null || true
wait "$sink" 2>/dev/null || true
trap - EXIT
python3 - team-mail <<'PY'
import mailbox, sys
from email.header import decode_header, make_header
box = mailbox.Maildir(sys.argv[1], create=False)
for message in sorted(box, key=lambda m: int(m["X-Crmctl-Notice"])):
    to, subject = (str(make_header(decode_header(message[h]))) for h in ("To", "Subject"))
    print(f"mail {message['X-Crmctl-Notice']} to {to}: {subject}")
PY
