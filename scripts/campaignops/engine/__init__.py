"""The engine: submit (apply, retry, rescue), observe, notify; it reaches the world only through ports."""
