"""The team server: `crmctl serve` owns the workspace's database and runs the operations for people who
authenticate with their tokens."""
