"""crmctl: a command-line CRM and business-process engine."""

__version__ = "0.1.0"
