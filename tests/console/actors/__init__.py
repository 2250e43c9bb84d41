"""The other parties in the console's journeys, as their own staff in Python: a doctor writing a
record, an insurer reading under a grant, a hospital filing for a doctor... Each command takes one
JSON argument and prints one JSON line (console/e2e/harness.mjs `actor`)."""
