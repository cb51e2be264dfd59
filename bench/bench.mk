# make bench: nook against Debian's runc and crun (issue 7). Included by
# the Makefile. Knobs: BENCH_RUNS, BENCH_PAR_RUNS, BENCH_WARMUP (see
# bench/bench.py). Writes target/bench/ and docs/performance.md.
bench:
	scripts/deps.sh bench
	$(CARGO) build --release
	$(CARGO) build --release --example seccomp_bench
	/usr/bin/python3 bench/bench.py

# make bench-vm: the same runtimes in the test VM (integration/vm, TCG,
# pure cgroup v2, every capability) with the full default bundle, where
# crun can load its device program. Sequential benchmarks and peak RSS
# only; BENCH_VM_RUNS (10) and BENCH_VM_WARMUP (2) runs each. bench.py --vm
# runs `integration/vm/run-in-vm --timeout 1500 -- /usr/bin/python3
# bench/bench.py --vm-guest ...` from the repo root, writes
# target/bench/results-vm.json and replaces the "In the test VM" section of
# docs/performance.md (make bench keeps it: it includes results-vm.json).
BENCH_VM_RUNS ?= 10
BENCH_VM_WARMUP ?= 2
bench-vm:
	scripts/deps.sh bench vm
	$(CARGO) build --release
	/usr/bin/python3 bench/bench.py --vm --runs $(BENCH_VM_RUNS) --warmup $(BENCH_VM_WARMUP)
