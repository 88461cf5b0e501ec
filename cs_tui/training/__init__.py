"""Training glue: run folders, the stable-baselines3 trainer, safe model files, the batched training env.

torch and stable-baselines3 are imported inside the functions that need them, never at module level.
"""
