# Thin wrapper around CMake/ctest so a newcomer needs two commands:
#   make demo   # install what is missing, build, run a pipeline on DynamoDB Local
#   make test   # install what is missing, build, run every test tier + fuzz smoke
# Everything real lives in scripts/ and CMakeLists.txt.

JOBS       ?= 2
ASAN_CTEST_ARGS ?=
BUILD      ?= build
BUILD_ASAN ?= build-asan
BUILD_FUZZ ?= build-fuzz
FUZZ_SECONDS ?= 10
FUZZ_SMOKE_SECONDS ?= 3
CMAKE_FLAGS ?=
PREFIX     ?= /usr/local
DESTDIR    ?=

.PHONY: all deps build install deb package-check test unit fuzz-smoke demo asan valgrind fuzz format clean help

all: build

help:
	@echo "make demo      install deps, build, run a pipeline against DynamoDB Local"
	@echo "make install   build and install into PREFIX=$(PREFIX) (DESTDIR=$(DESTDIR) for staging)"
	@echo "make deb       build the Debian package $(BUILD)/ddbpipe_VERSION_ARCH.deb (CPack)"
	@echo "make package-check  build the .deb, apt-get install it, check it, run the demo, purge (root)"
	@echo "make test      install deps, build, run unit+fault+integration tests, fuzz smoke"
	@echo "make build     configure and build into $(BUILD)/"
	@echo "make asan      ASan+UBSan build in $(BUILD_ASAN)/, whole suite"
	@echo "make valgrind  whole suite under valgrind memcheck (C tests and the CLI in script tests)"
	@echo "make fuzz      build libFuzzer targets in $(BUILD_FUZZ)/ and run each (FUZZ_SECONDS=$(FUZZ_SECONDS))"
	@echo "make format    clang-format every C source"
	@echo "make clean     remove build directories"

deps:
	@scripts/install-deps.sh

build: deps
	cmake -S . -B $(BUILD) $(CMAKE_FLAGS)
	cmake --build $(BUILD) -j$(JOBS)

# The prefix is set at configure time: ddbpipe.pc and the CMake package
# config record it. DESTDIR stages the same tree under another root.
install:
	@scripts/install-deps.sh --build-only
	cmake -S . -B $(BUILD) -DCMAKE_INSTALL_PREFIX=$(PREFIX) $(CMAKE_FLAGS)
	cmake --build $(BUILD) -j$(JOBS)
	DESTDIR=$(DESTDIR) cmake --install $(BUILD)

deb:
	@scripts/install-deps.sh --build-only
	cmake -S . -B $(BUILD) $(CMAKE_FLAGS)
	cmake --build $(BUILD) -j$(JOBS)
	cd $(BUILD) && cpack -G DEB

package-check: deps
	@JOBS=$(JOBS) scripts/package-check.sh $(BUILD)

# test builds with make -k so one broken file still lets every other test
# run and be counted; the build failure still fails `make test`.
test: deps
	@JOBS=$(JOBS) FUZZ_SECONDS=$(FUZZ_SMOKE_SECONDS) CMAKE_FLAGS="$(CMAKE_FLAGS)" scripts/test.sh $(BUILD) $(BUILD_FUZZ)

unit: build
	ctest --test-dir $(BUILD) --output-on-failure -j$(JOBS) -L unit

fuzz-smoke: deps
	@FUZZ_SECONDS=$(FUZZ_SECONDS) scripts/fuzz-smoke.sh $(BUILD_FUZZ)

fuzz: fuzz-smoke

# The demo needs only the CLI (and the mock Kafka cluster for its Kafka leg).
demo: deps
	cmake -S . -B $(BUILD) $(CMAKE_FLAGS)
	cmake --build $(BUILD) -j$(JOBS) --target ddbpipe kafka_mock_cluster
	@scripts/demo.sh $(BUILD)/ddbpipe

# Script tests run the sanitized CLI and often keep its stderr to themselves, so ASan/LSan
# reports go to files (log_path) that are checked after ctest, and a report exits 86 (ASan,
# LSan) or 87 (UBSan), codes the CLI never uses. UBSan cannot log to a file in an ASan build:
# its reports are on stderr, with exit 87.
ASAN_LOGS = $(BUILD_ASAN)/sanitizer-logs
asan: deps
	cmake -S . -B $(BUILD_ASAN) -DDDBPIPE_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug $(CMAKE_FLAGS)
	cmake --build $(BUILD_ASAN) -j$(JOBS)
	rm -rf $(ASAN_LOGS) && mkdir -p $(ASAN_LOGS)
	rc=0; DDBPIPE_TEST_SLOW=asan ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:exitcode=86:log_path=$(abspath $(ASAN_LOGS))/asan \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:exitcode=87 \
	  ctest --test-dir $(BUILD_ASAN) --output-on-failure -j$(JOBS) $(ASAN_CTEST_ARGS) || rc=$$?; \
	  if ls $(ASAN_LOGS)/asan.* >/dev/null 2>&1; then head -n 80 $(ASAN_LOGS)/asan.*; \
	    echo "make asan: sanitizer reports in $(ASAN_LOGS)/"; rc=1; fi; \
	  [ $$rc -eq 0 ] && echo "make asan: OK (no sanitizer reports)"; exit $$rc

valgrind: build
	@scripts/install-deps.sh --valgrind
	@scripts/valgrind.sh $(BUILD)

format:
	@command -v clang-format >/dev/null || scripts/install-deps.sh --format
	find src cli include tests bench examples -name '*.[ch]' 2>/dev/null | xargs -r clang-format -i

clean:
	rm -rf $(BUILD) $(BUILD_ASAN) $(BUILD_FUZZ) build-valgrind
