#!/usr/bin/env bash
# Runs configs/synth-bench.yaml once per conditioning mode (paper Table 3 ablations). The
# stages before finetune-dit are shared: each mode's run dir starts as a copy of the hffm run up
# to align-text and runs `--from finetune-dit` (a plain rerun would redo synth: its manifest
# records the absolute output folder, which the copy changes). So only finetune-dit, generate,
# classify (real protocol, one seed: dfd needs a classifier) and eval run again.
set -euo pipefail
cd "$(dirname "$0")/.."
base=runs/synth-bench
node bin/run.js run configs/synth-bench.yaml --set run.dir=$base-hffm
for mode in concat text class; do
  dir=$base-$mode
  mkdir -p "$dir"
  for d in data synth captions visual text split.json cache; do
    [ -e "$base-hffm/$d" ] && [ ! -e "$dir/$d" ] && cp -r "$base-hffm/$d" "$dir/$d"
  done
  # classify runs before eval (dfd needs its model): one seed of the real protocol only, which
  # is the same for every mode; the real+synthetic comparison is the hffm run's
  node bin/run.js run configs/synth-bench.yaml --set run.dir=$dir --set dit.conditioning=$mode \
    --set 'classify.protocols=[real]' --set classify.seeds=1 --from finetune-dit
done
node scripts/synth-bench-table.mjs $base
