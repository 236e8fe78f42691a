"""The fix each failure category proposes, by family: scheduler events (memory, time, node, preemption,
cancellation), the environment (modules, commands, files, disk) and the program (GPU memory, NCCL, its
arguments, the rest)."""
