"""The thin client the command line uses against a team server: where the server is, the token, the HTTP call.
It imports neither duckdb nor the server stack."""
