#!/usr/bin/env bash
# The synthetic benchmark (issue 19 item 5): what the HFFM brings over the paper's Table 3
# ablations, measured with control against its references. One command:
#   scripts/synth-bench.sh                      (SEEDS="1 2 3" MODES="hffm concat text class")
#   scripts/synth-bench.sh --set dit.steps=400  (extra --set overrides for every run)
# 1. runs/synth-bench/shared: synth, caption, train-visual, align-text and the latent VAE, once
#    (finetune-dit with one step trains dit/vae; every mode then decodes through the same VAE,
#    so their ceilings are the same and only the conditioning differs).
# 2. per seed and mode: a run dir that starts as a copy of the shared stages and runs
#    `--from finetune-dit` with run.seed = the seed (DiT init, data order, sample seeds, classifier).
# 3. scripts/synth-bench-table.mjs: mean and 95% interval over seeds per mode, printed and written
#    into docs/RESULTS.md between the synth-bench markers.
set -euo pipefail
cd "$(dirname "$0")/.."
config=configs/synth-bench.yaml
base=${SYNTH_BENCH_DIR:-runs/synth-bench}
seeds=${SEEDS:-1 2 3}
modes=${MODES:-hffm concat text class}
extra=("$@")
medgen() { node bin/run.js "$@"; }
start=$(date +%s)
shared=$base/shared
# the one-step DiT of the shared dir is only there to train the VAE: never resume it
rm -rf "$shared/dit/checkpoints"
medgen run $config --set run.dir=$shared --to finetune-dit --set dit.steps=1 --set dit.warmupSteps=0 --no-report "${extra[@]}"
for seed in $seeds; do
  for mode in $modes; do
    dir=$base/$mode-s$seed
    mkdir -p "$dir"
    for d in data captions visual text split.json cache; do
      [ -e "$shared/$d" ] && [ ! -e "$dir/$d" ] && cp -r "$shared/$d" "$dir/$d"
    done
    # classify's `real` protocol depends on the seed, not on the mode: the first mode of a seed trains
    # it, the others read its result (classify skips a seed run whose result.json exists).
    first=$base/${modes%% *}-s$seed/classify/runs/real
    if [ "$dir" != "$base/${modes%% *}-s$seed" ] && [ -f "$first/seed-0/result.json" ] && [ ! -e "$dir/classify/runs/real" ]; then
      mkdir -p "$dir/classify/runs" && cp -r "$first" "$dir/classify/runs/real"
    fi
    echo "synth-bench: $mode, seed $seed ($(( $(date +%s) - start )) s so far)"
    medgen run $config --set run.dir=$dir --set run.seed=$seed --set dit.conditioning=$mode \
      --set dit.vae.train=false --set weights.vae=$shared/dit/vae --from finetune-dit --no-report "${extra[@]}"
  done
done
echo "synth-bench: done in $(( $(date +%s) - start )) s"
results=${SYNTH_BENCH_RESULTS-docs/RESULTS.md}   # empty: print the table only
node scripts/synth-bench-table.mjs "$base" --seeds "$seeds" --modes "$modes" --seconds $(( $(date +%s) - start )) ${results:+--write "$results"}
