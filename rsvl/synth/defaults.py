"""Default parameters of the built-in region, importable without the raster stack (CLI help)."""

DEFAULT_SEED = 0
DEFAULT_SIZE_M = 2048.0
DEFAULT_GSD_M = 1.0
MIN_SIZE_M = 300.0
MAX_SIDE_PX = 8192
