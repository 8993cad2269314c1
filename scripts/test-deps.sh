#!/usr/bin/env bash
# System packages some tests use: Debian's chromium (headless screenshots of HTML output), tj3
# (TaskJuggler, the reference the schedule is compared with) and dovecot's IMAP server (the mailbox the
# team server takes e-mail in from).
# Installed where the machine allows it (root with apt-get); otherwise those tests skip and say why.
set -u
need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v tj3 >/dev/null 2>&1 || need+=(tj3)
[ -x /usr/sbin/dovecot ] && [ -e /usr/lib/dovecot/imap ] || need+=(dovecot-imapd)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "test-deps: cannot install ${need[*]} (needs root and apt-get); the tests that use them will be skipped" >&2
  exit 0
fi
echo "test-deps: installing ${need[*]} ..." >&2
export DEBIAN_FRONTEND=noninteractive
if ! { apt-get update -qq -o DPkg::Lock::Timeout=600 && apt-get install -y -qq -o DPkg::Lock::Timeout=600 --no-install-recommends "${need[@]}"; } >/tmp/crmctl-test-deps.log 2>&1; then
  echo "test-deps: installing ${need[*]} failed (see /tmp/crmctl-test-deps.log); those tests will be skipped" >&2
fi
exit 0
