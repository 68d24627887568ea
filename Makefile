# Estoria C++: the two commands of the Quick start, and a few helpers.
#   make demo   set up, build (Release) and run the example on embedded SQLite
#   make test   set up, build and pass the whole test suite (starts PostgreSQL, NATS, Redis)
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=

.PHONY: test-core test-faults demo test deps build-release build-test test-asan test-tsan install-test clean format format-check tidy fuzz

deps:
	@scripts/setup-deps

build-release: deps
	@cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release -DESTORIA_BUILD_TESTS=OFF $(CMAKE_FLAGS) >/dev/null
	@cmake --build build/release -j $(JOBS)

demo: build-release
	@scripts/demo build/release

build-test: deps
	@cmake -S . -B build/test -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_FLAGS_RELEASE="-O2 -DNDEBUG" -DESTORIA_WERROR=ON $(CMAKE_FLAGS) >/dev/null
	@cmake --build build/test -j $(JOBS)

test: build-test
	@scripts/with-postgres scripts/with-nats scripts/with-redis scripts/run-tests build/test

# The injected-fault tests (ctest label "faults": lost COMMIT, server restarts
# during a projection run and a copy, NOTIFY wake-up across processes, SQLite
# disk full and lease takeover, the bank's history check across a kill -9),
# each run REPEAT times (default 20) against throw-away PostgreSQL and NATS
# servers; stops at the first failure. They are part of `make test` too.
REPEAT ?= 20
test-faults: build-test
	@scripts/with-postgres scripts/with-nats ctest --test-dir build/test -L faults --repeat until-fail:$(REPEAT) --output-on-failure

# The core alone (memory backend only, ESTORIA_WITH_SQLITE/POSTGRES/NATS/REDIS off;
# no benchmarks or examples, which `make test` builds):
# configures, builds and passes its tests (used by .ci/run).
test-core: deps
	@cmake -S . -B build/core -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_FLAGS_RELEASE="-O2 -DNDEBUG" -DESTORIA_WERROR=ON -DESTORIA_WITH_SQLITE=OFF -DESTORIA_WITH_POSTGRES=OFF -DESTORIA_WITH_NATS=OFF -DESTORIA_WITH_REDIS=OFF -DESTORIA_BUILD_BENCH=OFF -DESTORIA_BUILD_EXAMPLES=OFF $(CMAKE_FLAGS) >/dev/null
	@cmake --build build/core -j $(JOBS)
	@ctest --test-dir build/core --output-on-failure -j $(JOBS)

# Sanitizer runs of the test suite (separate build folders), used by .ci/run.
# The "Sanitize" build type compiles with -O1 and line tables only (see CMakeLists.txt).
test-asan: deps
	@cmake -S . -B build/asan -DCMAKE_BUILD_TYPE=Sanitize -DESTORIA_SANITIZE=address -DESTORIA_WERROR=ON >/dev/null
	@cmake --build build/asan -j $(JOBS)
	@scripts/with-postgres scripts/with-nats scripts/with-redis scripts/run-tests build/asan --sanitizer

test-tsan: deps
	@cmake -S . -B build/tsan -DCMAKE_BUILD_TYPE=Sanitize -DESTORIA_SANITIZE=thread -DESTORIA_WERROR=ON >/dev/null
	@cmake --build build/tsan -j $(JOBS)
	@scripts/with-postgres scripts/with-nats scripts/with-redis scripts/run-tests build/tsan --sanitizer

# libFuzzer runs (clang, ASan+UBSan) of every target in tests/fuzz, each for
# FUZZ_SECONDS seconds on a scratch copy of its corpus, in build/fuzz. Fails
# when a target finds a crash (the input's path is printed). See scripts/run-fuzz.
FUZZ_SECONDS ?= 60
fuzz: deps
	@JOBS=$(JOBS) scripts/run-fuzz $(FUZZ_SECONDS)

format:
	@clang-format -i $$(git ls-files '*.h' '*.cc')

# Fails (listing each place) when a tracked source is not as clang-format would
# write it; `make format` fixes them. Run first by .ci/run.
format-check: deps
	@clang-format --dry-run --Werror $$(git ls-files '*.h' '*.cc')

# clang-tidy 14 with the checks of .clang-tidy over src/ and examples/, using the
# compile commands of build/test (configured, not built, here). Fails on any finding.
RUN_CLANG_TIDY ?= run-clang-tidy-14
CLANG_TIDY ?= clang-tidy-14
tidy: deps
	@cmake -S . -B build/test -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_FLAGS_RELEASE="-O2 -DNDEBUG" -DESTORIA_WERROR=ON $(CMAKE_FLAGS) >/dev/null
	@$(RUN_CLANG_TIDY) -quiet -clang-tidy-binary $(CLANG_TIDY) -p build/test -j $(JOBS) '^$(CURDIR)/(src|examples)/.*\.cc$$'

clean:
	rm -rf build
