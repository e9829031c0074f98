"""Runbook: papermill execution of the four notebooks, each recorded in the audit archive (hainfra.audit)."""
