"""Canned replies: named reply templates with variables, used in respond and in bulk replies."""
