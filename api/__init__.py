"""MedLedger's HTTP gateway: one FastAPI app in front of one organisation's key."""
