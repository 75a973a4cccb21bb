"""The dataset builder: OSM features + imagery -> chips, captions, records, shards, benchmark sets.

Modules follow the data flow: ``focus`` (which features get chips), ``chips`` (framing and
rejection rules), ``splits`` (spatially blocked train/val/test), ``partitions`` (parallel,
resumable spatial tiles), ``samples`` (one partition's chips and records), ``filters``
(near-duplicates, CLIP score), ``export`` (shards, Parquet, footprints), ``manifest``,
``captions`` (the whole caption build) and ``benchmark_sets`` (classification, retrieval).
"""
