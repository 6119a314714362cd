"""Change requests: an investigation's change to a process, tested by replay, approved by a
process owner, linked to the version deployed; and bulk migration of running instances."""
