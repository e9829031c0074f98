"""Runbook: papermill execution of the four notebooks, the audit archive, redaction."""
