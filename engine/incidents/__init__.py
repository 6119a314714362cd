"""Incidents: a task a case's process failed at, held until a process owner retries it."""
