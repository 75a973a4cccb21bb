"""Search latency of rsvl.api.ImageIndex: exact and FAISS approximate, against bare numpy.

For 10^4, 10^5 and 10^6 512-d L2-normalised embeddings, measures the median latency of 100
single-query searches for the exact backend (chunked matrix product) and for the bare numpy
baseline (``emb @ q`` + ``argpartition``) in the same run, the IVF-flat backend's latency and
recall@10 against exact search (with an nprobe sweep), and index build, save and load times.

Embeddings are random but clustered (a Gaussian mixture on the sphere, one centre per 100
points, as real CLIP embeddings are): on structureless uniform vectors no approximate index
reaches useful recall, and real collections are never uniform. Queries are fresh draws from
the same mixture.

    .venv/bin/python bench/search_latency.py                  # 10^4, 10^5, 10^6 (~4 GB RAM)
    .venv/bin/python bench/search_latency.py --sizes 10000    # quick look

Also in the same run: ``faiss.IndexFlatIP`` (exact, FAISS's BLAS) against rsvl's exact
backend, float16 storage against float32 (latency and recall@10 of the float16 top-10 against
the float32 one), and with ``--ondisk`` the past-RAM path: the embeddings written as GeoParquet,
an IVF index built from it in chunks with its lists on disk (``build_ondisk_ivf``) against the
in-memory IVF, and exact search streaming the file (``StreamingExactBackend``). ``--real``
repeats recall on model-made embeddings: ``rsvl-micro`` chips of the built-in synthetic region
and of ``../shared/data/imagery/cogeo.tif`` (when present), queried by their own chips and by
text prompts (random weights: the embeddings are a real model's output, not a trained one's).

    .venv/bin/python bench/search_latency.py --sizes 1000000 --ondisk --real

``--past-ram N --dim D`` goes through ``ImageIndex`` the way a user past RAM would: N clustered
D-d embeddings streamed into a float16 GeoParquet in chunks (never all in memory), opened with
``ImageIndex.load(file, backend="ivf-ondisk")`` (the IVF built from the file in chunks, its
lists memory-mapped) and ``backend="exact-streaming"`` (the ground truth), with the build
time, file sizes, single-query latency, recall@10 and the process's peak memory.

    .venv/bin/python bench/search_latency.py --sizes --past-ram 10000000 --dim 128

Targets (2 cores): exact < 100 ms at 10^6; approximate < 5 ms with recall@10 >= 0.95.
Writes bench/results/search_latency.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from rsvl.api.backends import (
    ExactBackend,
    FaissBackend,
    StreamingExactBackend,
    build_ondisk_ivf,
    import_faiss,
)
from rsvl.api.geoparquet import write_embeddings
from rsvl.api.index import ImageIndex

DIM = 512
K = 10
POINTS_PER_CENTRE = 100
NOISE = 0.9  # per-dimension noise relative to a centre's unit-variance coordinates
NPROBES = (8, 16, 32, 64, 128)
RESULTS = Path(__file__).resolve().parent / "results" / "search_latency.json"
MODEL_INFO = {"spec": "bench-random", "sha256": "0" * 64, "embed_dim": DIM}


def clustered(count: int, rng: np.random.Generator, centres: np.ndarray) -> np.ndarray:
    """``count`` normalised draws from the mixture, generated in chunks to bound memory."""
    out = np.empty((count, DIM), dtype=np.float32)
    for start in range(0, count, 100_000):
        stop = min(count, start + 100_000)
        picks = centres[rng.integers(0, len(centres), stop - start)]
        points = picks + NOISE * rng.standard_normal((stop - start, DIM), dtype=np.float32)
        out[start:stop] = points / np.linalg.norm(points, axis=1, keepdims=True)
    return out


def median_ms(function: Callable[[np.ndarray], Any], queries: np.ndarray) -> float:
    """Median wall time of ``function(query)`` over the queries, in milliseconds."""
    function(queries[0])  # warm caches and lazily built state
    times = []
    for query in queries:
        started = time.perf_counter()
        function(query)
        times.append(time.perf_counter() - started)
    return 1000 * statistics.median(times)


def recall_at_k(truth: np.ndarray, found: np.ndarray) -> float:
    """Mean fraction of the exact top-k found by the approximate search."""
    return float(np.mean([len(set(t) & set(f)) / len(t) for t, f in zip(truth, found,
                                                                         strict=True)]))


def bench_size(count: int, queries_count: int, rng: np.random.Generator,
               ondisk: bool = False) -> dict[str, Any]:
    faiss = import_faiss()
    centres = rng.standard_normal((max(1, count // POINTS_PER_CENTRE), DIM), dtype=np.float32)
    embeddings = clustered(count, rng, centres)
    queries = clustered(queries_count, rng, centres)
    row: dict[str, Any] = {"count": count}

    def bare_numpy(query: np.ndarray) -> np.ndarray:
        scores = embeddings @ query
        return np.argpartition(-scores, K)[:K]

    exact = ExactBackend(embeddings)
    row["baseline_numpy_ms"] = median_ms(bare_numpy, queries)
    row["exact_ms"] = median_ms(lambda q: exact.search(q[None], K), queries)
    row["exact_over_baseline"] = row["exact_ms"] / row["baseline_numpy_ms"]
    truth = exact.search(queries, K)[1]
    started = time.perf_counter()
    batched = exact.search(queries, K)
    row["exact_batched_ms_per_query"] = 1000 * (time.perf_counter() - started) / len(queries)
    assert np.array_equal(batched[1], truth)

    row.update(bench_flat_and_half(embeddings, queries, truth))
    row["exact_over_faiss_flat"] = row["exact_ms"] / row["faiss_flat_ms"]

    started = time.perf_counter()
    ivf = FaissBackend("ivf", embeddings)
    row["ivf_build_s"] = time.perf_counter() - started
    index_ivf = faiss.extract_index_ivf(ivf.index)
    row["ivf_nlist"] = int(index_ivf.nlist)
    row["ivf_default_nprobe"] = int(index_ivf.nprobe)
    sweep = []
    for nprobe in (*NPROBES, row["ivf_default_nprobe"]):
        index_ivf.nprobe = nprobe
        found = ivf.search(queries, K)[1]
        sweep.append({"nprobe": nprobe, "recall_at_10": recall_at_k(truth, found),
                      "ms": median_ms(lambda q: ivf.search(q[None], K), queries)})
    row["ivf_sweep"] = sweep[:-1]
    row["ivf_default"] = sweep[-1]

    metadata = pd.DataFrame({"key": [f"i{i}" for i in range(count)]})
    index = ImageIndex(embeddings, metadata, MODEL_INFO, backend="ivf", name="bench")
    index._backend = ivf  # reuse the index built above for saving
    with tempfile.TemporaryDirectory(dir=RESULTS.parent) as folder:
        started = time.perf_counter()
        index.save(Path(folder) / "index")
        row["save_s"] = time.perf_counter() - started
        started = time.perf_counter()
        loaded = ImageIndex.load(Path(folder) / "index")
        loaded.backend  # noqa: B018 - reading the FAISS file is part of loading
        row["load_s"] = time.perf_counter() - started
        started = time.perf_counter()
        loaded.search(queries[0], k=K)
        row["first_query_after_load_s"] = time.perf_counter() - started
    if ondisk:
        del loaded, index
        row["ondisk"] = bench_ondisk(embeddings, queries, truth)
    return row


def bench_flat_and_half(embeddings: np.ndarray, queries: np.ndarray,
                        truth: np.ndarray) -> dict[str, Any]:
    """``faiss.IndexFlatIP`` and float16 storage, each freed before the next."""
    flat = import_faiss().IndexFlatIP(DIM)
    flat.add(embeddings)
    row = {"faiss_flat_ms": median_ms(lambda q: flat.search(q[None], K), queries),
           "faiss_flat_recall_at_10": recall_at_k(truth, flat.search(queries, K)[1])}
    flat.reset()
    half = ExactBackend(embeddings.astype(np.float16))
    row["float16_exact_ms"] = median_ms(lambda q: half.search(q[None], K), queries)
    row["float16_recall_at_10"] = recall_at_k(truth, half.search(queries, K)[1])
    return row


def bench_ondisk(embeddings: np.ndarray, queries: np.ndarray, truth: np.ndarray) -> dict[str, Any]:
    """GeoParquet on disk: IVF built in chunks with on-disk lists; exact search streaming it."""
    row: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(dir=RESULTS.parent) as folder:
        path = Path(folder) / "embeddings.parquet"
        started = time.perf_counter()
        write_embeddings(path, embeddings, pd.DataFrame(index=range(len(embeddings))),
                         MODEL_INFO)
        row["write_geoparquet_s"] = time.perf_counter() - started
        row["geoparquet_mb"] = path.stat().st_size / 2**20
        started = time.perf_counter()
        backend = build_ondisk_ivf(path, Path(folder) / "ivf")
        row["build_s"] = time.perf_counter() - started
        row["lists_mb"] = (Path(folder) / "ivf" / "ivf.ivfdata").stat().st_size / 2**20
        ivf = import_faiss().extract_index_ivf(backend.index)
        row["nlist"], row["nprobe"] = int(ivf.nlist), int(ivf.nprobe)
        row["recall_at_10"] = recall_at_k(truth, backend.search(queries, K)[1])
        row["ms"] = median_ms(lambda q: backend.search(q[None], K), queries)
        streaming = StreamingExactBackend(path)
        started = time.perf_counter()
        streamed = streaming.search(queries, K)
        row["streaming_exact_batch_s"] = time.perf_counter() - started
        row["streaming_exact_ms_per_query_batched"] = (1000 * row["streaming_exact_batch_s"]
                                                       / len(queries))
        row["streaming_exact_matches_exact"] = bool(np.array_equal(streamed[1], truth))
        started = time.perf_counter()
        streaming.search(queries[:1], K)
        row["streaming_exact_single_query_s"] = time.perf_counter() - started
    return row


def write_clustered_geoparquet(path: Path, count: int, dim: int, rng: np.random.Generator,
                               chunk: int = 500_000) -> np.ndarray:
    """Stream ``count`` clustered float16 embeddings into an rsvl-shaped GeoParquet (no
    footprints), chunk by chunk; returns the mixture's centres (for queries)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    centres = rng.standard_normal((max(1, count // POINTS_PER_CENTRE), dim), dtype=np.float32)
    info = {**MODEL_INFO, "embed_dim": dim}
    schema = pa.schema([("id", pa.int64()), ("embedding", pa.list_(pa.float16(), dim)),
                        ("model_spec", pa.dictionary(pa.int32(), pa.string())),
                        ("model_sha256", pa.dictionary(pa.int32(), pa.string()))],
                       metadata={b"rsvl": json.dumps({"format": "rsvl-embeddings", "version": 1,
                                                      "model": info, "dtype": "float16",
                                                      "dim": dim, "count": count}).encode()})
    with pq.ParquetWriter(path, schema) as writer:
        for start in range(0, count, chunk):
            size = min(chunk, count - start)
            points = (centres[rng.integers(0, len(centres), size)]
                      + NOISE * rng.standard_normal((size, dim), dtype=np.float32))
            points /= np.linalg.norm(points, axis=1, keepdims=True)
            vectors = pa.FixedSizeListArray.from_arrays(
                pa.array(points.astype(np.float16).reshape(-1)), dim)
            writer.write_table(pa.table({
                "id": pa.array(np.arange(start, start + size)), "embedding": vectors,
                "model_spec": pa.DictionaryArray.from_arrays(
                    pa.array(np.zeros(size, dtype=np.int32)), [info["spec"]]),
                "model_sha256": pa.DictionaryArray.from_arrays(
                    pa.array(np.zeros(size, dtype=np.int32)), [info["sha256"]])}, schema=schema),
                row_group_size=65_536)
    return centres


def bench_past_ram(count: int, dim: int, queries_count: int,
                   rng: np.random.Generator) -> dict[str, Any]:
    """GeoParquet past RAM through ImageIndex: ivf-ondisk against exact-streaming."""
    import resource

    from rsvl.api.backends import ondisk_ivf_folder

    row: dict[str, Any] = {"count": count, "dim": dim, "storage": "float16"}
    with tempfile.TemporaryDirectory(dir=RESULTS.parent) as folder:
        path = Path(folder) / "embeddings.parquet"
        started = time.perf_counter()
        centres = write_clustered_geoparquet(path, count, dim, rng)
        row["write_geoparquet_s"] = time.perf_counter() - started
        row["geoparquet_gb"] = path.stat().st_size / 2**30
        queries = rng.standard_normal((queries_count, dim), dtype=np.float32) * NOISE
        queries += centres[rng.integers(0, len(centres), queries_count)]
        queries /= np.linalg.norm(queries, axis=1, keepdims=True)
        del centres
        started = time.perf_counter()
        exact = ImageIndex.load(path, backend="exact-streaming")
        row["open_metadata_s"] = time.perf_counter() - started
        started = time.perf_counter()
        _, truth = exact.backend.search(queries, K)
        row["streaming_exact_batch_s"] = time.perf_counter() - started
        row["streaming_exact_ms_per_query_batched"] = (1000 * row["streaming_exact_batch_s"]
                                                       / queries_count)
        index = ImageIndex.load(path, backend="ivf-ondisk")
        started = time.perf_counter()
        backend = index.backend  # built from the file in chunks, kept beside it
        row["ivf_build_s"] = time.perf_counter() - started
        lists = ondisk_ivf_folder(path) / "ivf.ivfdata"
        row["ivf_lists_gb"] = lists.stat().st_size / 2**30
        ivf = import_faiss().extract_index_ivf(backend.index)  # type: ignore[attr-defined]
        row["nlist"], row["nprobe"] = int(ivf.nlist), int(ivf.nprobe)
        row["recall_at_10"] = recall_at_k(truth, backend.search(queries, K)[1])
        row["backend_ms"] = median_ms(lambda q: backend.search(q[None], K), queries)
        row["image_index_search_ms"] = median_ms(lambda q: index.search(q, k=K), queries)
        default_nprobe, row["nprobe_sweep"] = ivf.nprobe, []
        for factor in (2, 4, 8):  # what recall costs past the default probe fraction
            ivf.nprobe = default_nprobe * factor
            row["nprobe_sweep"].append({
                "nprobe": int(ivf.nprobe), "ms": median_ms(lambda q: backend.search(q[None], K),
                                                           queries),
                "recall_at_10": recall_at_k(truth, backend.search(queries, K)[1])})
        ivf.nprobe = default_nprobe
        # ru_maxrss counts the memory-mapped lists' pages too (file-backed, not allocated)
        row["peak_rss_gb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    return row


def bench_real(rng: np.random.Generator) -> list[dict[str, Any]]:
    """Recall on model-made embeddings: rsvl-micro chips of real and synthetic imagery."""
    from rsvl.api import load_model
    from rsvl.synth import generate_region

    faiss = import_faiss()
    model = load_model("rsvl-micro", device="cpu")
    shared = Path(os.environ.get("RSVL_SHARED_DATA", Path(__file__).resolve().parents[2]
                                 / "shared" / "data")) / "imagery" / "cogeo.tif"
    rows = []
    with tempfile.TemporaryDirectory(dir=RESULTS.parent) as folder:
        sources = [("synthetic region 1 km, 25 m chips, stride 0.5",
                    generate_region(Path(folder) / "region", seed=0, size_m=1000,
                                    tiles=False).orthophoto_path, 25.0)]
        if shared.is_file():
            sources.append(("cogeo.tif 611 m, 12 m chips, stride 0.5", shared, 12.0))
        for name, source, chip_m in sources:
            started = time.perf_counter()
            index = ImageIndex.from_raster(model, source, chip_size_m=chip_m, stride=0.5,
                                           batch_size=256, progress=False)
            embed_s = time.perf_counter() - started
            embeddings = np.asarray(index.embeddings, dtype=np.float32)
            prompts = [f"a satellite image of {thing}" for thing in (
                "a house", "a road", "a forest", "a river", "a field", "snow", "a parking lot",
                "a roof", "trees", "grass", "a building", "water", "a path", "a car",
                "a farm", "a lake", "a bridge", "a park", "a beach", "a town")]
            picks = rng.choice(len(embeddings), size=min(100, len(embeddings)), replace=False)
            for kind, queries in (("chips", embeddings[picks]),
                                  ("text", model.encode_texts(prompts))):
                exact = ExactBackend(embeddings)
                truth = exact.search(queries, K)[1]
                flat = faiss.IndexFlatIP(embeddings.shape[1])
                flat.add(embeddings)
                ivf = FaissBackend("ivf", embeddings)
                half = ExactBackend(embeddings.astype(np.float16))
                rows.append({
                    "source": name, "count": len(embeddings), "dim": int(embeddings.shape[1]),
                    "embed_s": embed_s, "queries": kind, "query_count": len(queries),
                    "ivf_nlist": int(faiss.extract_index_ivf(ivf.index).nlist),
                    "ivf_nprobe": int(faiss.extract_index_ivf(ivf.index).nprobe),
                    "ivf_recall_at_10": recall_at_k(truth, ivf.search(queries, K)[1]),
                    "faiss_flat_recall_at_10": recall_at_k(truth, flat.search(queries, K)[1]),
                    "float16_recall_at_10": recall_at_k(truth, half.search(queries, K)[1]),
                })
    return rows


def print_sweep(points: list[dict[str, Any]]) -> None:
    """One line per nprobe: latency and recall."""
    for point in points:
        print(f"    nprobe {point['nprobe']:>4}: {point['ms']:6.2f} ms, "
              f"recall@10 {point['recall_at_10']:.3f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="*", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--ondisk", action="store_true",
                        help="also GeoParquet on disk: chunked on-disk IVF, streaming exact")
    parser.add_argument("--real", action="store_true",
                        help="also recall on rsvl-micro embeddings of real/synthetic imagery")
    parser.add_argument("--past-ram", type=int, metavar="N",
                        help="also N embeddings streamed to a float16 GeoParquet and searched "
                        "through ImageIndex with ivf-ondisk and exact-streaming")
    parser.add_argument("--dim", type=int, default=DIM, help="--past-ram: embedding dimension")
    args = parser.parse_args(argv)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    real = bench_real(rng) if args.real else []
    for point in real:
        print(f"real: {point['source']} ({point['count']} x {point['dim']}), "
              f"{point['queries']} queries: ivf recall@10 {point['ivf_recall_at_10']:.3f} "
              f"(nlist {point['ivf_nlist']}, nprobe {point['ivf_nprobe']}), float16 "
              f"{point['float16_recall_at_10']:.3f}, faiss flat "
              f"{point['faiss_flat_recall_at_10']:.3f}", flush=True)
    rows = []
    for count in args.sizes:
        row = bench_size(count, args.queries, rng, args.ondisk)
        rows.append(row)
        print(f"n={count:>8}: faiss.IndexFlatIP {row['faiss_flat_ms']:.2f} ms (exact/flat "
              f"{row['exact_over_faiss_flat']:.2f}); float16 exact {row['float16_exact_ms']:.2f}"
              f" ms, recall@10 vs float32 {row['float16_recall_at_10']:.3f}", flush=True)
        if "ondisk" in row:
            disk = row["ondisk"]
            print(f"    on-disk IVF: build {disk['build_s']:.1f} s (GeoParquet "
                  f"{disk['geoparquet_mb']:.0f} MB, lists {disk['lists_mb']:.0f} MB), "
                  f"{disk['ms']:.2f} ms, recall@10 {disk['recall_at_10']:.3f} | streaming "
                  f"exact {disk['streaming_exact_ms_per_query_batched']:.1f} ms/query batched, "
                  f"{disk['streaming_exact_single_query_s']:.2f} s single", flush=True)
        default = row["ivf_default"]
        print(f"n={count:>8}: exact {row['exact_ms']:7.2f} ms (bare numpy "
              f"{row['baseline_numpy_ms']:7.2f} ms, ratio {row['exact_over_baseline']:.2f}; "
              f"batched {row['exact_batched_ms_per_query']:.2f} ms/query) | ivf nlist "
              f"{row['ivf_nlist']} nprobe {default['nprobe']}: {default['ms']:.2f} ms, "
              f"recall@10 {default['recall_at_10']:.3f} | build {row['ivf_build_s']:.1f} s, "
              f"save {row['save_s']:.2f} s, load {row['load_s']:.2f} s", flush=True)
        print_sweep(row["ivf_sweep"])
    past_ram = bench_past_ram(args.past_ram, args.dim, args.queries, rng) if args.past_ram else {}
    if past_ram:
        print(f"past RAM, {past_ram['count']:,} x {past_ram['dim']} float16 GeoParquet "
              f"({past_ram['geoparquet_gb']:.1f} GB, written in "
              f"{past_ram['write_geoparquet_s']:.0f} s): ivf-ondisk build "
              f"{past_ram['ivf_build_s']:.0f} s (lists "
              f"{past_ram['ivf_lists_gb']:.1f} GB, nlist {past_ram['nlist']}, nprobe "
              f"{past_ram['nprobe']}), {past_ram['backend_ms']:.2f} ms/query "
              f"(ImageIndex.search {past_ram['image_index_search_ms']:.2f} ms), recall@10 "
              f"{past_ram['recall_at_10']:.3f} | exact-streaming "
              f"{past_ram['streaming_exact_ms_per_query_batched']:.0f} ms/query batched | peak "
              f"RSS {past_ram['peak_rss_gb']:.1f} GB", flush=True)
        print_sweep(past_ram["nprobe_sweep"])
    payload = {"benchmark": "search_latency", "dim": DIM, "past_ram": past_ram, "k": K,
               "queries": args.queries,
               "data": f"Gaussian mixture, one centre per {POINTS_PER_CENTRE} points, "
                       f"noise {NOISE}, normalised",
               "cpu_count": os.cpu_count(), "load_average": os.getloadavg(),
               "machine": platform.platform(), "python": sys.version.split()[0],
               "results": rows, "real_embeddings": real}
    RESULTS.write_text(json.dumps(payload, indent=2) + "\n")
    print(f"wrote {RESULTS}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
