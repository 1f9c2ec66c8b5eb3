"""Contract service: quotas, serving policy, reservations and the ModelServe webhook."""
