"""Continual pretraining of open_clip models with Accelerate (one CPU to many GPUs).

Modules: ``config`` (dataclasses, files, overrides), ``data`` (shard/Parquet streaming split
across ranks and workers), ``augment``, ``loss`` (gathered InfoNCE, accumulation), ``optim``
(AdamW groups, schedule, freezing), ``trainer`` (the loop), ``wise_ft``, ``launch`` (entry
points). Heavy imports stay inside the modules, so importing this package is cheap.
"""
