# make bench: nook against Debian's runc and crun (issue 7). Included by
# the Makefile. Knobs: BENCH_RUNS, BENCH_PAR_RUNS, BENCH_WARMUP (see
# bench/bench.py). Writes target/bench/ and docs/performance.md.
bench:
	scripts/deps.sh bench
	$(CARGO) build --release
	$(CARGO) build --release --example seccomp_bench
	/usr/bin/python3 bench/bench.py
