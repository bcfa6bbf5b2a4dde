"""The AIMF assistant's core library (see DESIGN.md)."""

import os

# Both torch (embeddings) and llama.cpp (the llamacpp writer) run on OpenMP, and OpenMP threads spin while they wait
# for each other. On the target machines (2 cores shared with other processes) spinning threads steal the cores the
# working ones need. Measured in one process at load average 7-10: SmolLM2 answers 23 s / 4.7 s (first / second
# question) with PASSIVE against 64 s / 44 s without, and an extractive answer 1.8 s against 7.6 s. The policy is
# read once, when the first OpenMP library loads, and torch and llama.cpp share one libgomp.so.1: it must be set
# before either is imported, hence here. A value the user exported wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
