"""neurarust.utils: training helpers that sit above autograd (mirrors ``torch.utils``).

``neurarust.utils.checkpoint`` trades compute for memory: see :mod:`neurarust.utils.checkpoint`.
Data loading is :mod:`neurarust.data` (PyTorch's ``torch.utils.data``).
"""
