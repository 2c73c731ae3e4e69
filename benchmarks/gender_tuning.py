"""Gender inference: zero-shot vs PEFT-tuned SmolLM2 vs TF-IDF + LR on one held-out split.

Prints accuracy / F1 / AUC of the three models, the tuning time and peak memory, and writes the
artefacts (metrics.json, curve.csv, figures) under ``--out``. The held-out users (``--n-eval``)
are drawn first and never reach the tuning; 15% of the rest monitor it (tuning curve, kept
weights, label bias) and TF-IDF + LR is fitted on exactly the rows tuned on.

    python benchmarks/gender_tuning.py --threads 2 --with-name   # LoRA, 400 steps x 8 (~20 min)
    python benchmarks/gender_tuning.py --threads 2               # bio + post only
"""

from __future__ import annotations

import argparse
import json
import resource
import time

from s3kit.evaluation.demographics import gender_tuning_experiment
from s3kit.reports import write_experiment


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--n-train", type=int, default=None,
                        help="training users (default: every row outside the held-out split)")
    parser.add_argument("--n-eval", type=int, default=500)
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--lr", type=float, default=None)
    parser.add_argument("--method", default="lora", choices=["prefix", "prompt", "lora"])
    parser.add_argument("--virtual-tokens", type=int, default=16)
    parser.add_argument("--lora-r", type=int, default=8)
    parser.add_argument("--lora-targets", default="q_proj,v_proj",
                        help="comma-separated module names, or all-linear")
    parser.add_argument("--val-fraction", type=float, default=0.15,
                        help="share of training rows kept aside to monitor the tuning (curve, "
                        "kept weights, label bias); 0 = tune on all, keep the last weights")
    parser.add_argument("--eval-every", type=int, default=100)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--no-clean", action="store_true", help="keep URLs and mojibake")
    parser.add_argument("--with-name", action="store_true",
                        help="show the profile's user name too (all models)")
    parser.add_argument("--adapter", default=None, help="default: gender-<method>")
    parser.add_argument("--out", default="results/gender_tuning")
    args = parser.parse_args()

    start = time.perf_counter()
    result = gender_tuning_experiment(
        args.data_dir, n_train=args.n_train, n_eval=args.n_eval, steps=args.steps,
        batch_size=args.batch_size, method=args.method, learning_rate=args.lr,
        num_virtual_tokens=args.virtual_tokens, lora_r=args.lora_r,
        lora_targets=(args.lora_targets if args.lora_targets == "all-linear"
                      else tuple(args.lora_targets.split(","))),
        val_fraction=args.val_fraction, eval_every=args.eval_every,
        adapter=args.adapter or f"gender-{args.method}",
        clean=not args.no_clean, with_name=args.with_name, threads=args.threads)
    write_experiment(result, args.out)
    summary = {
        "metrics": result["metrics"],
        "tuning": result["tuning"],
        "timing": result["timing"],
        "split": result["split"],
        "wall_s": round(time.perf_counter() - start, 1),
        "peak_rss_gb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2),
    }
    print(json.dumps(summary, indent=1, default=str))


if __name__ == "__main__":
    main()
