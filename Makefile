SHELL := /bin/bash
# ferry: `make` builds ./ferry; `make demo` and `make check` also install what
# they need (Debian packages) first. See README.md.

CC      ?= cc
CFLAGS  ?= -O2 -g
WARN    := -Wall -Wextra -Wshadow -Wmissing-prototypes -Wstrict-prototypes -Wformat=2 \
           -Wno-format-nonliteral
CPPFLAGS +=
LIBS    := -lyaml -lcjson -lcurl -lexpat -lcrypto -lpthread

SRCS    := $(wildcard src/*.c)
LIBSRCS := $(filter-out src/main.c,$(SRCS))
OBJS    := $(SRCS:src/%.c=build/obj/%.o)
ASAN_OBJS := $(SRCS:src/%.c=build/asan/%.o)
ASAN    := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all

UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=build/unit/%)
FUZZ_TARGETS := $(patsubst tests/fuzz/fuzz_%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_REPLAY  := $(FUZZ_TARGETS:%=build/fuzz/replay_%)
FUZZ_SECONDS ?= 60


.PHONY: all deps test-deps demo check asan unit clean format tidy bench fuzz

all: ferry

build/obj/%.o: src/%.c $(wildcard src/*.h) | build/obj
	$(CC) -std=gnu11 $(CPPFLAGS) $(CFLAGS) $(WARN) -c $< -o $@

build/asan/%.o: src/%.c $(wildcard src/*.h) | build/asan
	$(CC) -std=gnu11 $(CPPFLAGS) -O1 -g $(ASAN) $(WARN) -c $< -o $@

ferry: $(OBJS)
	$(CC) $(CFLAGS) -o $@ $(OBJS) $(LIBS)

# The same program built with AddressSanitizer and UBSan; the tests run it too.
asan: build/asan/ferry
build/asan/ferry: $(ASAN_OBJS)
	$(CC) -g $(ASAN) -o $@ $(ASAN_OBJS) $(LIBS)

build/unit/%: tests/unit/%.c tests/unit/tap.h $(filter-out build/asan/main.o,$(ASAN_OBJS)) | build/unit
	$(CC) -std=gnu11 $(CPPFLAGS) -O1 -g $(ASAN) $(WARN) -Isrc -o $@ $< \
		$(filter-out build/asan/main.o,$(ASAN_OBJS)) $(LIBS)

unit: $(UNIT_BINS) $(FUZZ_REPLAY)

# Each fuzz target also builds with a small driver that replays its corpus:
# an ordinary test in make check (gcc, sanitizers). make fuzz runs the real
# fuzzer (clang's libFuzzer) for FUZZ_SECONDS each.
build/fuzz/replay_%: tests/fuzz/fuzz_%.c tests/fuzz/replay.c $(filter-out build/asan/main.o,$(ASAN_OBJS)) | build/fuzz
	$(CC) -std=gnu11 -O1 -g $(ASAN) -Isrc -o $@ $< tests/fuzz/replay.c \
		$(filter-out build/asan/main.o,$(ASAN_OBJS)) $(LIBS)
build/fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(LIBSRCS) $(wildcard src/*.h) | build/fuzz
	clang -std=gnu11 -O1 -g -fsanitize=fuzzer,address,undefined -Isrc -o $@ $< $(LIBSRCS) $(LIBS)
fuzz: $(FUZZ_TARGETS:%=build/fuzz/fuzz_%)
	@.ci/deps fuzz
	@set -o pipefail 2>/dev/null; for t in $(FUZZ_TARGETS); do \
		rm -rf build/fuzz/corpus-$$t && cp -r tests/fuzz/corpus/$$t build/fuzz/corpus-$$t && \
		echo "fuzzing $$t for $(FUZZ_SECONDS) s" && \
		build/fuzz/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) -max_len=65536 -timeout=10 \
			-artifact_prefix=build/fuzz/crash-$$t- -print_final_stats=1 \
			build/fuzz/corpus-$$t tests/fuzz/corpus/$$t > build/fuzz/$$t.log 2>&1 || \
			{ tail -30 build/fuzz/$$t.log; echo "make fuzz: $$t failed; see build/fuzz/crash-$$t-*"; exit 1; }; \
		grep -E '^(Done|stat::number_of_executed_units|stat::new_units_added)' build/fuzz/$$t.log; \
	done

build/obj build/asan build/unit build/fuzz:
	@mkdir -p $@

# Installs missing Debian packages (quiet when all are there).
deps:
	@.ci/deps build

test-deps:
	@.ci/deps test

demo: deps
	@$(MAKE) --no-print-directory ferry
	@examples/hello/demo.sh

check: test-deps
	@$(MAKE) --no-print-directory ferry asan unit
	@tests/run

# ferry against rclone and curl on Azurite, and against cp -r locally (not part of check).
bench: test-deps
	@.ci/deps bench
	@$(MAKE) --no-print-directory ferry
	@tests/bench/bench.sh

format:
	clang-format -i src/*.c src/*.h tests/unit/*.c tests/unit/*.h

tidy:
	clang-tidy src/*.c -- -std=gnu11 -D_GNU_SOURCE

clean:
	rm -rf build ferry tests/tmp
