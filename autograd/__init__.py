"""neurarust.autograd: not built yet (see the open issues)."""
