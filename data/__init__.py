"""neurarust.data: not built yet (see the open issues)."""
