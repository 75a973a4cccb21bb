"""The Python API for notebooks: zero-shot classification and text-to-image search.

    >>> import rsvl
    >>> model = rsvl.load_model("runs/tiny/export")          # or "ViT-B-32:openai", ...
    >>> model.classify("chip.jpg", ["forest", "river", "residential area"], top_k=2)
    >>> index = rsvl.ImageIndex.from_raster(model, "ortho.tif", chip_size_m=60)
    >>> index.search("a sports field", k=8)                  # GeoDataFrame with scores
"""

from rsvl.api.display import result_image, show_grid, show_map
from rsvl.api.images import GeoWindow, to_pil
from rsvl.api.index import ImageIndex
from rsvl.api.model import RsvlModel, load_model

__all__ = ["GeoWindow", "ImageIndex", "RsvlModel", "load_model", "result_image", "show_grid",
           "show_map", "to_pil"]
