# make fuzz: the long versions of the hostile-input and fault-injection
# suites (`make test` runs their short versions, as part of cargo test).
#
#   make fuzz                  everything below
#   make fuzz-inputs           tests/fuzz_inputs.rs with FUZZ_CASES cases per kind
#   make fuzz-faults           tests/faults.rs with FAULT_RUNS lifecycles (root)
#   make fuzz-seccomp          SECCOMP_CASES random seccomp profiles against
#                              libseccomp (src/seccomp/tests/random.rs; a
#                              disagreement goes into src/seccomp/tests/corpus/)
#   make fuzz-libfuzzer        each cargo-fuzz target for FUZZ_TIME seconds
#                              (needs a nightly toolchain; installs cargo-fuzz)
#
# Seeds: FUZZ_SEED / FAULT_SEED / SECCOMP_SEED replay a run (each prints its seed). A
# crash from cargo-fuzz lands in fuzz/artifacts/<target>/: copy it to
# tests/fuzz-regressions/<target>/ so that cargo test replays it.

FUZZ_CASES ?= 100000
FAULT_RUNS ?= 1000
SECCOMP_CASES ?= 100000
FUZZ_TIME ?= 120
FUZZ_TARGETS := config process resources state

.PHONY: fuzz fuzz-inputs fuzz-faults fuzz-seccomp fuzz-libfuzzer

fuzz: fuzz-inputs fuzz-faults fuzz-seccomp fuzz-libfuzzer

fuzz-inputs:
	NOOK_FUZZ_CASES=$(FUZZ_CASES) $(if $(FUZZ_SEED),NOOK_FUZZ_SEED=$(FUZZ_SEED)) \
		$(CARGO) test --test fuzz_inputs -- --nocapture

fuzz-faults:
	NOOK_FAULT_RUNS=$(FAULT_RUNS) $(if $(FAULT_SEED),NOOK_FAULT_SEED=$(FAULT_SEED)) \
		$(CARGO) test --test faults -- --nocapture

fuzz-seccomp:
	NOOK_SECCOMP_CASES=$(SECCOMP_CASES) $(if $(SECCOMP_SEED),NOOK_SECCOMP_SEED=$(SECCOMP_SEED)) \
		$(CARGO) test --profile fast --lib seccomp::tests::random -- --nocapture

fuzz-libfuzzer:
	@if ! rustup toolchain list | grep -q '^nightly'; then \
		echo "fuzz: no nightly toolchain (rustup toolchain install nightly); skipping cargo-fuzz"; exit 0; fi; \
	command -v cargo-fuzz >/dev/null || $(CARGO) install cargo-fuzz; \
	for t in $(FUZZ_TARGETS); do \
		mkdir -p fuzz/corpus/$$t; \
		cargo +nightly fuzz run -O $$t fuzz/corpus/$$t fuzz/seeds/$$t -- \
			-max_total_time=$(FUZZ_TIME) -timeout=10 -rss_limit_mb=4096 || exit 1; \
	done
