import os
import warnings

# Without CUDA the kernels run on CPU tensors through Triton's interpreter, which must be switched on
# before Triton loads: neurarust.launch decides (interpreter here; real GPU on a CUDA machine, where
# tests/gpu/ is the suite to run).
os.environ.setdefault("TRITON_DEFAULT_FP_FUSION", "1")
import neurarust.launch  # noqa: E402,F401

from hypothesis import settings  # noqa: E402

# CI explores the same examples on every run (a red build always reproduces); locally each run
# explores new ones.
settings.register_profile("neurarust", deadline=None, max_examples=60, derandomize=bool(os.environ.get("CI")))
settings.load_profile("neurarust")

# Masked-off lanes of interpreted kernels still compute (e.g. 0 / 0): NumPy warns, results are right.
warnings.filterwarnings("ignore", category=RuntimeWarning, module=r"triton\..*")
