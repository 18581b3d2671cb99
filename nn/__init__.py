"""neurarust.nn: not built yet (see the open issues)."""
