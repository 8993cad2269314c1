"""The core: what each command does, between the command line and the store. No printing, no exiting."""
