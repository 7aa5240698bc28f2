# SPDX-License-Identifier: BSD-3-Clause
# Thin wrapper around meson: installs what is missing, configures, builds, runs.
#
#   make demo    build and show a sample device driven by vus-ctl
#   make test    the whole test suite: -Werror build, ASan/UBSan build
#                (guests included), valgrind, and guest tests against QEMU's
#                vfio-user client, then a short libFuzzer run (FUZZ_TIME
#                seconds per target, default 20)
#   make test-stress  the non-guest suites with busy loops on every CPU
#   make fuzz    fuzz longer: FUZZ_TIME seconds per target (default 600)
#   make bench   benchmarks: prints and writes build/bench/report.md (figures,
#                ratios to their floors, SVG plots)
#   make build   just build (build/)

BUILD      ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
FUZZ_CC    ?= clang
HARNESS    ?= $(abspath ../shared/qemu-harness)

# Debian packages the build (and the demo) need.
DEB_PKGS := gcc make meson ninja-build pkg-config libjson-c-dev libcmocka-dev \
            libpci-dev pciutils
# What only the tests add: valgrind, and for the libFuzzer targets clang,
# its runtimes (libFuzzer, ASan, UBSan; the version-free package of
# Debian's default LLVM) and llvm-symbolizer for readable crash stacks;
# bubblewrap for the confined sample doc/sandbox.md shows (the doc test
# runs it).
TEST_PKGS := valgrind clang libclang-rt-dev llvm bubblewrap
# What the benchmark report adds: gnuplot draws its plots; strace counts
# system calls (doc/performance.md).
BENCH_PKGS := gnuplot-nox strace

.PHONY: all deps deps-test install-pkgs build qemu-harness test test-fast \
        demo bench install clean fuzz fuzz-run test-stress

all: build

# Install missing packages: as root with apt-get, otherwise through sudo;
# say exactly what is missing when neither is possible.
deps:
	@$(MAKE) --no-print-directory install-pkgs PKGS="$(DEB_PKGS)"

deps-test:
	@$(MAKE) --no-print-directory install-pkgs PKGS="$(DEB_PKGS) $(TEST_PKGS)"

install-pkgs:
	@missing=""; for p in $(PKGS); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=""; elif command -v sudo >/dev/null; then SUDO=sudo; \
	  else echo "error: missing packages:$$missing (run as root or install them)"; exit 1; fi; \
	  $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -q && \
	  $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $$missing; \
	fi

$(BUILD)/build.ninja:
	meson setup $(BUILD) -Dwerror=true -Dqemu_harness=$(HARNESS)

$(ASAN_BUILD)/build.ninja:
	meson setup $(ASAN_BUILD) -Dwerror=true -Db_sanitize=address,undefined \
	  -Db_lundef=false -Dqemu_harness=$(HARNESS)

build: deps $(BUILD)/build.ninja
	ninja -C $(BUILD)

# The guest tests need QEMU 10.2 built once (about 5 minutes, cached in
# /var/cache/vus-qemu); ensure.sh returns at once when it is there.
qemu-harness:
	@if [ -x "$(HARNESS)/ensure.sh" ]; then \
	  echo "preparing the QEMU harness (first time: ~5 min)"; \
	  "$(HARNESS)/ensure.sh" >/dev/null || echo "warning: QEMU harness unavailable; guest tests will be skipped"; \
	else echo "warning: $(HARNESS) not found; guest tests will be skipped"; fi

test: deps-test $(BUILD)/build.ninja $(ASAN_BUILD)/build.ninja qemu-harness
	ninja -C $(BUILD)
	meson test -C $(BUILD) --print-errorlogs
	ninja -C $(ASAN_BUILD)
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	  meson test -C $(ASAN_BUILD) --print-errorlogs
	meson test -C $(BUILD) --print-errorlogs --suite unit --suite engine --suite client --no-suite sandbox \
	  --wrapper 'valgrind --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite --track-fds=no -q' \
	  --timeout-multiplier 4
	@$(MAKE) --no-print-directory fuzz-run FUZZ_TIME=$(or $(FUZZ_TIME),20)

# Quick loop while developing: one build, no sanitizers, no guests.
test-fast: build
	meson test -C $(BUILD) --print-errorlogs --no-suite qemu

# The non-guest suites while STRESS_LOAD busy loops (default: one per CPU)
# compete with them at the same priority: deadlines that a shared CI
# machine can miss show up here (doc/testing.md).
STRESS_LOAD ?= $(shell nproc 2>/dev/null || echo 2)
test-stress: build
	@pids=""; i=0; \
	while [ $$i -lt $(STRESS_LOAD) ]; do sh -c 'while :; do :; done' & pids="$$pids $$!"; i=$$((i + 1)); done; \
	trap 'kill $$pids 2>/dev/null' EXIT INT TERM; \
	echo "test-stress: $(STRESS_LOAD) busy loops (pids$$pids)"; \
	meson test -C $(BUILD) --print-errorlogs --no-suite qemu

demo: build
	@tools/demo.sh $(BUILD)

# Every benchmark meson knows (meson test --benchmark runs the same), each
# once, into one report with plots.
bench: build
	@$(MAKE) --no-print-directory install-pkgs PKGS="$(BENCH_PKGS)"
	python3 tests/bench_report.py $(BUILD)

# Only the guest tests: the samples under QEMU's vfio-user client with
# Linux drivers (skipped when ../shared/qemu-harness is missing).
.PHONY: interop
interop: build qemu-harness
	meson test -C $(BUILD) --suite qemu --print-errorlogs

install: build
	meson install -C $(BUILD)

# libFuzzer targets (tests/fuzz, a clang build in $(FUZZ_BUILD)): replay
# the seeds and saved crash inputs, then fuzz each target for FUZZ_TIME
# seconds, keeping the corpus in the build directory. Skipped, and said
# so, when clang cannot link libFuzzer.
fuzz-run:
	@probe=$$(mktemp -d); \
	printf 'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n)\n{ return 0; }\n' > $$probe/p.c; \
	if ! $(FUZZ_CC) -fsanitize=fuzzer,address,undefined $$probe/p.c -o $$probe/p >/dev/null 2>&1; then \
	  rm -rf $$probe; \
	  echo "fuzzing SKIPPED: $(FUZZ_CC) cannot link -fsanitize=fuzzer (Debian: clang libclang-rt-dev)"; \
	  exit 0; \
	fi; \
	rm -rf $$probe; \
	test -f $(FUZZ_BUILD)/build.ninja || \
	  CC=$(FUZZ_CC) meson setup $(FUZZ_BUILD) -Dwerror=true -Dfuzz=true || exit 1; \
	FUZZ_TIME=$(or $(FUZZ_TIME),20) meson test -C $(FUZZ_BUILD) --suite fuzz \
	  --print-errorlogs --verbose

fuzz: deps-test
	@$(MAKE) --no-print-directory fuzz-run FUZZ_TIME=$(or $(FUZZ_TIME),600)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)
