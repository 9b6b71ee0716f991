#!/bin/sh
# bench.sh - make bench-mpi: chapter 12's scaling on this machine.
#
# Times a training step (forward, backward, all-reduce, Adam) of the
# reference model of make bench (d_model 128, 4 heads, d_ff 512, 3 + 3
# layers, vocabularies of 40, 10 tokens a side) with build/bin/ch12 --bench:
#   1 rank  x 1 thread,  batch 64           the baseline
#   1 rank  x 2 threads, batch 64           threads instead of processes
#   2 ranks x 1 thread,  batch 64 (32 each) strong scaling: the same batch, faster
#   2 ranks x 1 thread,  batch 128 (64 each) weak scaling: twice the batch
# Each line is the median of RUNS runs (default 3), each run the median of
# 10 timed steps. Efficiency = tokens/s on N ranks / (N x tokens/s on one).
# Measure on a quiet machine: any other busy process skews the 2-rank rows.
# Options after the program go to every ch12 --bench; with --task g2p it
# times chapter 11's model on the first batches of its run instead (the
# mean of the timed steps, whose batches differ in length), and BATCH=128
# gives it the classroom recipe's batch (and 256 for the last row).
#
# Usage: sh chapters/12-data-parallel/bench.sh [build/bin/ch12 [options]]   (RUNS=5 ...)
#        BATCH=128 sh chapters/12-data-parallel/bench.sh build/bin/ch12 --task g2p
set -eu
ch12=${1:-build/bin/ch12}
[ $# -gt 0 ] && shift
batch=${BATCH:-64}
runs=${RUNS:-3}
mpirun="mpirun --oversubscribe"
if [ "$(id -u)" = 0 ]; then mpirun="$mpirun --allow-run-as-root"; fi

options="$*"   # for ch12 --bench

# measure RANKS THREADS BATCH [mpirun options]: the run with the median tokens/s.
measure() {
    ranks=$1 threads=$2 size=$3
    shift 3
    i=0
    while [ $i -lt "$runs" ]; do
        OMP_NUM_THREADS=$threads $mpirun "$@" -np "$ranks" "$ch12" --bench --batch "$size" $options
        i=$((i + 1))
    done | sort -n -k 16 | sed -n "$(( (runs + 1) / 2 ))p"
}

{
    measure 1 1 "$batch"
    measure 1 2 "$batch" --bind-to none
    measure 2 1 "$batch"
    measure 2 1 $((2 * batch))
} | awk '
    { ranks = $2; threads = $4; batch = $6; params = $8
      step = $10; compute = $12; reduce = $14; tps = $16
      if (NR == 1) {
          base = tps
          printf "A training step of the model (%d parameters), median of '"$runs"' runs:\n\n", params
          printf "  %-16s %6s %9s %11s %14s %9s %9s %11s\n", "ranks x threads", "batch",
                 "step ms", "compute ms", "all-reduce ms", "tokens/s", "speed-up", "efficiency"
      }
      workers = ranks * threads
      printf "  %-16s %6d %9.1f %11.1f %14.2f %9.0f %8.2fx %10.0f%%\n", ranks " x " threads,
             batch, step, compute, reduce, tps, tps / base, 100 * tps / (workers * base)
    }
    END { print "\n(compute ms and all-reduce ms are rank 0'"'"'s; the all-reduce includes waiting for the other rank.)" }'
