"""Listening connectors: adapters that fetch mentions from a network (Mastodon, Bluesky's
Jetstream, RSS/Atom feeds, Reddit) and post them as signals through the idempotent inbox, with
a cursor per stream kept in the database in the transaction that accepts the mentions, so a
restart neither loses nor repeats them; replies go back through the same connector."""
