"""Operations: what each command does, between the command line (or the server) and the store.

No operation prints or exits: see registry.py."""
