"""Shared by the notebook and browser tests: the venv's Jupyter kernel."""

from __future__ import annotations

import subprocess
import sys

KERNEL = "python3"


def ensure_kernel() -> str:
    """The venv's own Python kernel, registered in the venv if a fresh install lacks it."""
    from jupyter_client.kernelspec import KernelSpecManager

    if KERNEL not in KernelSpecManager().find_kernel_specs():
        subprocess.run(
            [sys.executable, "-m", "ipykernel", "install", "--sys-prefix", "--name", KERNEL],
            check=True,
            capture_output=True,
        )
    spec = KernelSpecManager().get_kernel_spec(KERNEL)
    # "python" in the spec's argv means the interpreter that starts it: this venv's
    assert spec.argv[0] in ("python", "python3", sys.executable), spec.argv
    return KERNEL
