"""Delivery out of Sift: webhooks to subscribers (fanned out from the outbox) and replies to the
customer's channel, each a row with a status, attempts and a fenced lease, sent after commit."""
