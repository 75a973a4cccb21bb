"""``rsvl classify``: zero-shot classify images or GeoTIFF chips with a model.

    rsvl classify --model runs/tiny/export chips/*.jpg --labels forest,river,"residential area"
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from rsvl.errors import ConfigError, InputError

HELP = "zero-shot classify images or GeoTIFF chips with a model"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``rsvl classify``."""
    parser.add_argument("images", nargs="+", help="image files (JPEG, PNG, TIFF, GeoTIFF) or "
                        "folders of them")
    parser.add_argument("--model", required=True, help="model spec: export folder, ARCH:TAG, "
                        "ARCH:PATH, hf-hub:ID or a bare architecture (random weights)")
    parser.add_argument("--labels", help="comma-separated class names")
    parser.add_argument("--labels-file", type=Path, help="file with one class name per line")
    parser.add_argument("--templates", help="template set (skyscript, remoteclip, rs5m, ...) "
                        "or a JSON file of templates with {c}; default skyscript")
    parser.add_argument("--top-k", type=int, default=3, help="labels shown per image")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--device", help="cuda, mps or cpu (default: the best available)")
    parser.add_argument("--json", action="store_true", help="print JSON lines, one per image")


def run(args: argparse.Namespace) -> int:
    """Classify and print one row (or JSON line) per image."""
    from rsvl.api import load_model
    from rsvl.api.images import IMAGE_SUFFIXES

    labels = read_labels(args.labels, args.labels_file)
    images = expand_images(args.images, IMAGE_SUFFIXES)
    model = load_model(args.model, device=args.device)
    predictions = model.classify(images, labels, templates=args.templates, top_k=args.top_k,
                                 batch_size=args.batch_size)
    for image, prediction in zip(images, predictions, strict=True):
        if args.json:
            print(json.dumps({"image": str(image),
                              "predictions": [{"label": label, "probability": round(p, 6)}
                                              for label, p in prediction]}))
        else:
            print(f"{image}\t" + "\t".join(f"{label} {p:.3f}" for label, p in prediction))
    return 0


def read_labels(labels: str | None, labels_file: Path | None) -> list[str]:
    """Class names from ``--labels a,b,c`` and/or ``--labels-file`` (one per line)."""
    names = [name.strip() for name in (labels or "").split(",") if name.strip()]
    if labels_file is not None:
        if not labels_file.is_file():
            raise InputError(f"labels file not found: {labels_file}")
        names += [line.strip() for line in labels_file.read_text().splitlines() if line.strip()]
    if not names:
        raise ConfigError("no class names: pass --labels a,b,c or --labels-file FILE")
    return names


def expand_images(paths: list[str], suffixes: tuple[str, ...]) -> list[Path]:
    """The image files named, with folders replaced by the images inside them (sorted)."""
    images: list[Path] = []
    for name in paths:
        path = Path(name)
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.suffix.lower() in suffixes)
            if not found:
                raise InputError(f"{path} holds no images ({', '.join(suffixes)})")
            images += found
        else:
            images.append(path)
    return images
