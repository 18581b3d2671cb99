"""neurarust.optim: not built yet (see the open issues)."""
