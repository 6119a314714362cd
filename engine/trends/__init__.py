"""Trends: counts of topics, brand and product entities and keywords in one-minute buckets of
event time, a baseline per series, spikes, and the one investigation per topic they open."""
