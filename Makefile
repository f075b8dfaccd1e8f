# Convenience wrapper around CMake. `make demo` and `make test` work on a fresh Debian 12 machine.
BUILD ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
CLANG_BUILD ?= build-clang
FUZZ_SECONDS ?= 60
JOBS ?= 2
CMAKE_FLAGS ?=

.PHONY: all deps configure build envtest demo test bench asan fuzz lint format-check clang-fingerprints clean

all: build

deps:
	@bash scripts/install-deps.sh

$(BUILD)/build.ninja:
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_FLAGS)

configure: deps $(BUILD)/build.ninja

build: configure
	cmake --build $(BUILD) -j$(JOBS)

demo: build
	./$(BUILD)/ktwin run scenarios/quickstart-phi3.yaml --summary-json out/quickstart-summary.json --events out/quickstart-events.jsonl --report out/quickstart.html

# kube-apiserver and kubectl 1.20 from Debian's source package, for the real-API-server suite (tests/envtest);
# built once (about 7 minutes cold) and cached in ~/.cache/kaito-twin/envtest.
envtest: deps
	bash scripts/envtest.sh build

test: build envtest
	cd $(BUILD) && ctest --output-on-failure -j$(JOBS) --timeout 600

# Every harness under bench/ (about 10 minutes), then one table of the figures checked against bench/targets.csv.
bench: build
	@mkdir -p out/bench
	@for b in $(BUILD)/*_bench; do echo "== $$b"; $$b --benchmark_min_time=0.2 \
	  --benchmark_out=out/bench/$$(basename $$b).json --benchmark_out_format=json || exit 1; done
	@echo; ./$(BUILD)/bench_table bench/targets.csv out/bench/*_bench.json

asan: deps envtest
	cmake -S . -B $(ASAN_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Debug -DKTWIN_SANITIZE=ON -DKTWIN_BUILD_BENCH=OFF
	cmake --build $(ASAN_BUILD) -j$(JOBS)
	cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 ctest --output-on-failure -j$(JOBS) --timeout 900

# libFuzzer targets (clang, ASan+UBSan), each run for FUZZ_SECONDS; crashes go to tests/regress/ once fixed.
fuzz:
	@KTWIN_WITH_CLANG=1 bash scripts/install-deps.sh
	CC=clang CXX=clang++ cmake -S . -B $(FUZZ_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DKTWIN_FUZZ=ON \
	  -DKTWIN_BUILD_TESTS=OFF -DKTWIN_BUILD_BENCH=OFF
	cmake --build $(FUZZ_BUILD) -j$(JOBS) --target fuzz_scenario fuzz_manifest fuzz_object_json
	bash scripts/fuzz.sh $(FUZZ_BUILD) $(FUZZ_SECONDS)

# clang-format must be clean (CI runs this).
format-check:
	@KTWIN_WITH_CLANG=1 bash scripts/install-deps.sh
	bash scripts/lint.sh $(JOBS) --format-only

# clang-format and clang-tidy (.clang-tidy), both must be clean.
lint:
	@KTWIN_WITH_CLANG=1 bash scripts/install-deps.sh
	bash scripts/lint.sh $(JOBS)

# The fingerprint table from an optimised clang build (make test checks it with gcc -O2, make asan with
# gcc -O0): the same scenario and seed give the same event log whatever compiles the simulator.
clang-fingerprints:
	@KTWIN_WITH_CLANG=1 bash scripts/install-deps.sh
	CC=clang CXX=clang++ cmake -S . -B $(CLANG_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Release -DKTWIN_BUILD_BENCH=OFF
	cmake --build $(CLANG_BUILD) -j$(JOBS) --target test_scenarios
	cd $(CLANG_BUILD) && ./test_scenarios --gtest_filter='Fingerprints.*'

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD) $(CLANG_BUILD) build-tidy out
