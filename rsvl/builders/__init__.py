"""Every ``rsvl build`` job: OSM features + imagery -> chips, captions, records, shards and the
benchmark sets derived from them, plus imports of existing sets and de-duplication.

Jobs: ``captions`` (the caption build), ``benchmark_sets`` (classification, retrieval),
``land_cover``, ``vqa`` (RSVQA-style question sets), ``importers`` (Karpathy JSON, CSV, folders,
HF datasets) and ``dedup`` (near-duplicates between a training set and evaluation sets).
Shared stages follow the data flow: ``focus`` (which features get chips), ``chips`` (framing and
rejection rules), ``splits`` (spatially blocked train/val/test), ``partitions`` (parallel,
resumable spatial tiles), ``samples`` (one partition's chips and records), ``filters``
(near-duplicates, CLIP score), ``export`` (shards, Parquet, footprints) and ``manifest``.
"""
