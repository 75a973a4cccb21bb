"""Questions per second of ``rsvl.vqa`` evaluation against a bare encode-and-argmax loop.

rsvl's path, timed from the files: ``read_rsvqa`` then ``evaluate_vqa`` with method
``zero-shot`` and with a trained head (``train_vqa_head``, trained once before the timed
rounds), each round with a fresh feature cache folder (cold cache). The baseline, same model,
same images and batch size: decode each image with PIL, apply the model's preprocess,
``encode_image`` under ``torch.inference_mode``, ``encode_text`` the distinct prompts
(``"{question} {answer}"`` for every candidate answer, zero-shot) or the distinct questions
(head), L2-normalise, then take the argmax over the candidates' text embeddings (zero-shot)
or over the head's logits (its own question features: embedding, words, type) of the question
type's answers (head): the least work either method must do. Both must give the same
answers; the agreement is printed.

Data: an RSVQA-layout set built here from the synthetic region with
``rsvl build vqa --chip-size 64 --format jpg`` (train split: about 780 images, 7,000
questions at 2048 m), or ``--data FOLDER`` (e.g. ``../shared/data/rsvqa_lr_sample``).
Model: rsvl-tiny from scratch, seed 0 (throughput, not accuracy), or ``--model SPEC``.
Rounds alternate rsvl and the baseline; the median round is reported. Writes
``bench/results/vqa_eval.json``.

    .venv/bin/python bench/vqa_eval.py [--size-m 2048] [--rounds 3] [--data FOLDER]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from PIL import Image
from timing import alternated_rounds

from rsvl.data.atomic import write_json
from rsvl.evaluation.features import FeatureOptions
from rsvl.evaluation.vqa import HeadRecipe, TrainedHead, evaluate_vqa, train_vqa_head
from rsvl.evaluation.vqa.zero_shot import PROMPT, candidate_answers
from rsvl.models import LoadedModel, load_clip
from rsvl.synth import generate_region
from rsvl.vqa import VqaSet, list_splits, read_rsvqa

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "vqa_eval.json"
# rsvl.evaluation.features.text_features' batch: the baseline encodes texts in the same batches.
TEXT_BATCH = 256


def build_synthetic(folder: Path, size_m: float) -> Path:
    """Generate the synthetic region and build its RSVQA set with the ``rsvl`` CLI."""
    region = generate_region(folder / "region", size_m=size_m, tiles=False)
    out = folder / "vqa"
    subprocess.run([sys.executable, "-m", "rsvl", "build", "vqa", "--region",
                    str(region.out_dir), "--out", str(out), "--name", "SYNTH",
                    "--chip-size", "64", "--format", "jpg"],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return out


def _encode_texts(loaded: LoadedModel, texts: list[str]) -> torch.Tensor:
    chunks = []
    for start in range(0, len(texts), TEXT_BATCH):
        tokens = loaded.tokenizer(texts[start:start + TEXT_BATCH]).to(loaded.device)
        chunks.append(F.normalize(loaded.model.encode_text(tokens).float(), dim=-1).cpu())
    return torch.cat(chunks)


def _encode_images(loaded: LoadedModel, dataset: VqaSet, batch_size: int
                   ) -> dict[int, torch.Tensor]:
    ids = sorted(dataset.images)
    rows = []
    for start in range(0, len(ids), batch_size):
        batch = []
        for image_id in ids[start:start + batch_size]:
            with Image.open(dataset.images[image_id]) as image:
                batch.append(loaded.preprocess(image.convert("RGB")))
        encoded = loaded.model.encode_image(torch.stack(batch).to(loaded.device))
        rows.append(F.normalize(encoded.float(), dim=-1).cpu())
    return dict(zip(ids, torch.cat(rows), strict=True))


def baseline_zero_shot(loaded: LoadedModel, dataset: VqaSet, batch_size: int) -> list[str]:
    """Encode images and candidate prompts, answer each question by the best prompt."""
    candidates = candidate_answers(dataset)
    with torch.inference_mode():
        images = _encode_images(loaded, dataset, batch_size)
        prompts = sorted({PROMPT.format(question=q.question, answer=a)
                          for q in dataset.questions for a in candidates[q.type]})
        texts = _encode_texts(loaded, prompts)
    row = {p: i for i, p in enumerate(prompts)}
    answers = []
    for q in dataset.questions:
        options = candidates[q.type]
        scores = texts[[row[PROMPT.format(question=q.question, answer=a)] for a in options]]
        answers.append(options[int((scores @ images[q.image_id]).argmax())])
    return answers


def baseline_head(loaded: LoadedModel, dataset: VqaSet, batch_size: int,
                  head: TrainedHead) -> list[str]:
    """Encode images and distinct questions, run the head, argmax over the type's answers."""
    with torch.inference_mode():
        images = _encode_images(loaded, dataset, batch_size)
        questions = sorted({q.question for q in dataset.questions})
        texts = _encode_texts(loaded, questions)
        row = {t: i for i, t in enumerate(questions)}
        inputs = head.question_inputs(texts[[row[q.question] for q in dataset.questions]],
                                      dataset.questions)
        logits = head.module(torch.stack([images[q.image_id] for q in dataset.questions]),
                             inputs)
    best = logits.masked_fill(~head.answer_mask(dataset.questions), float("-inf")).argmax(1)
    return [head.answers[int(b)] for b in best]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, help="RSVQA-layout folder (default: build one)")
    parser.add_argument("--split", help="split to evaluate (default: train, or the only one)")
    parser.add_argument("--size-m", type=float, default=2048, help="synthetic region side")
    parser.add_argument("--model", default="rsvl-tiny")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--head-epochs", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as tmp:
        data = args.data or build_synthetic(Path(tmp), args.size_m)
        splits = {s for _, s in list_splits(data)}
        split = args.split or ("train" if "train" in splits else None)
        dataset = read_rsvqa(data, split)
        loaded = load_clip(args.model, device="cpu")
        started = time.perf_counter()
        head = train_vqa_head(loaded, dataset, HeadRecipe(epochs=args.head_epochs),
                              options=FeatureOptions(args.batch_size, cache_dir=Path(tmp) / "c"))
        head_train_s = time.perf_counter() - started
        caches = iter(range(10 ** 6))

        def rsvl_eval(method: str) -> Callable[[], list[str | None]]:
            def run() -> list[str | None]:
                options = FeatureOptions(args.batch_size,
                                         cache_dir=Path(tmp) / f"cold{next(caches)}")
                questions = read_rsvqa(data, split)
                return evaluate_vqa(loaded, questions, method=method, head=head,
                                    options=options)["predictions"]
            return run

        loops: dict[str, Callable[[], Any]] = {
            "rsvl zero-shot": rsvl_eval("zero-shot"),
            "baseline zero-shot": lambda: baseline_zero_shot(loaded, dataset, args.batch_size),
            "rsvl head": rsvl_eval("head"),
            "baseline head": lambda: baseline_head(loaded, dataset, args.batch_size, head),
        }
        seconds, answers = alternated_rounds(loops, args.rounds)
    count = len(dataset.questions)
    speed = {name: count / statistics.median(times) for name, times in seconds.items()}
    results: dict[str, Any] = {}
    for method in ("zero-shot", "head"):
        ours, base = speed[f"rsvl {method}"], speed[f"baseline {method}"]
        same = sum(a == b for a, b in zip(answers[f"rsvl {method}"],
                                          answers[f"baseline {method}"], strict=True))
        results[method] = {"rsvl_questions_per_s": round(ours, 1),
                           "baseline_questions_per_s": round(base, 1),
                           "ratio": round(ours / base, 3), "same_answers": same / count,
                           "rsvl_s": seconds[f"rsvl {method}"],
                           "baseline_s": seconds[f"baseline {method}"]}
        print(f"{method:10} rsvl {ours:.1f}/s  baseline {base:.1f}/s  ratio {ours / base:.2f}  "
              f"(same answers {same}/{count})")
    label = str(args.data) if args.data else f"synthetic {args.size_m:g} m, chip 64 px, jpg"
    print(f"{count} questions, {len(dataset.images)} images ({label}, split {dataset.split}), "
          f"median of {args.rounds} rounds; head trained in {head_train_s:.1f} s")
    write_json(RESULTS, {
        "benchmark": "vqa_eval", "python": platform.python_version(),
        "torch": torch.__version__, "threads": torch.get_num_threads(), "data": label,
        "split": dataset.split, "questions": count, "images": len(dataset.images),
        "model": args.model, "batch_size": args.batch_size, "rounds": args.rounds,
        "head_epochs": args.head_epochs, "head_train_s": head_train_s, "results": results,
    })
    print(f"wrote {RESULTS.relative_to(ROOT)}")
    agree = all(r["same_answers"] == 1 for r in results.values())
    return 0 if agree else 1


if __name__ == "__main__":
    sys.exit(main())
