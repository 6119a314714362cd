"""Timers: rows in a table are the truth; a scheduler only wakes the process to fire them."""
