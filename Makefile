SHELL := /bin/bash
# ferry: `make` builds ./ferry; `make demo` and `make check` also install what
# they need (Debian packages) first. See README.md.

CC      ?= cc
CFLAGS  ?= -O2 -g
WARN    := -Wall -Wextra -Wshadow -Wmissing-prototypes -Wstrict-prototypes -Wformat=2 \
           -Wno-format-nonliteral -Wwrite-strings -Wconversion
CPPFLAGS += -Isrc -I/usr/include/fuse3
LIBS    := -lyaml -lcjson -lcurl -lexpat -lcrypto -lfuse3 -larchive -lpthread

# src/ holds the shared core; each storage backend lives under src/store/.
SRCS    := $(wildcard src/*.c src/cli/*.c src/store/*.c src/store/*/*.c)
LIBSRCS := $(filter-out src/main.c,$(SRCS))
OBJS    := $(SRCS:src/%.c=build/obj/%.o)
ASAN_OBJS := $(SRCS:src/%.c=build/asan/%.o)
TSAN_OBJS := $(LIBSRCS:src/%.c=build/tsan/%.o)
ASAN    := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
TSAN    := -fsanitize=thread -fno-omit-frame-pointer
# Each object records the headers it read (-MMD -MP): a changed header
# rebuilds exactly what includes it.
DEPFLAGS = -MMD -MP

UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=build/unit/%)
FUZZ_TARGETS := $(patsubst tests/fuzz/fuzz_%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_REPLAY  := $(FUZZ_TARGETS:%=build/fuzz/replay_%)
FUZZ_SECONDS ?= 60


.PHONY: all deps test-deps demo check asan tsan unit clean format format-check tidy bench fuzz valgrind

all: ferry

build/obj/%.o: src/%.c
	@mkdir -p $(@D)
	$(CC) -std=gnu11 $(CPPFLAGS) $(CFLAGS) $(WARN) $(DEPFLAGS) -c $< -o $@

build/asan/%.o: src/%.c
	@mkdir -p $(@D)
	$(CC) -std=gnu11 $(CPPFLAGS) -O1 -g $(ASAN) $(WARN) $(DEPFLAGS) -c $< -o $@

build/tsan/%.o: src/%.c
	@mkdir -p $(@D)
	$(CC) -std=gnu11 $(CPPFLAGS) -O1 -g $(TSAN) $(WARN) $(DEPFLAGS) -c $< -o $@

-include $(OBJS:.o=.d) $(ASAN_OBJS:.o=.d) $(TSAN_OBJS:.o=.d)

ferry: $(OBJS)
	$(CC) $(CFLAGS) -o $@ $(OBJS) $(LIBS)

# The same program built with AddressSanitizer and UBSan; the tests run it too.
asan: build/asan/ferry
build/asan/ferry: $(ASAN_OBJS)
	$(CC) -g $(ASAN) -o $@ $(ASAN_OBJS) $(LIBS)

build/unit/%: tests/unit/%.c tests/unit/tap.h $(filter-out build/asan/main.o,$(ASAN_OBJS)) | build/unit
	$(CC) -std=gnu11 $(CPPFLAGS) -O1 -g $(ASAN) $(WARN) $(DEPFLAGS) -o $@ $< \
		$(filter-out build/asan/main.o,$(ASAN_OBJS)) $(LIBS)
-include $(UNIT_BINS:=.d)

# The transfer engine is threaded: its unit test also runs under
# ThreadSanitizer (build/tsan/test_xfer; tests/run runs it).
TSAN_BINS := build/tsan/test_xfer
.SECONDARY: $(TSAN_OBJS)
tsan: $(TSAN_BINS)
build/tsan/test_%: tests/unit/test_%.c tests/unit/tap.h $(TSAN_OBJS)
	$(CC) -std=gnu11 $(CPPFLAGS) -O1 -g $(TSAN) $(WARN) -o $@ $< $(TSAN_OBJS) $(LIBS)

unit: $(UNIT_BINS) $(FUZZ_REPLAY) $(TSAN_BINS)

# The unit tests under valgrind's memcheck (not part of check: slow).
valgrind: $(UNIT_SRCS:tests/unit/%.c=build/valgrind/%)
	@for t in $^; do echo "valgrind $$t"; \
		valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite \
			$$t >/dev/null || exit 1; done; echo "valgrind: no errors"
build/valgrind/%: tests/unit/%.c tests/unit/tap.h $(filter-out build/obj/main.o,$(OBJS))
	@mkdir -p $(@D)
	$(CC) -std=gnu11 $(CPPFLAGS) -O0 -g $(WARN) -o $@ $< $(filter-out build/obj/main.o,$(OBJS)) $(LIBS)

# Each fuzz target also builds with a small driver that replays its corpus:
# an ordinary test in make check (gcc, sanitizers). make fuzz runs the real
# fuzzer (clang's libFuzzer) for FUZZ_SECONDS each.
build/fuzz/replay_%: tests/fuzz/fuzz_%.c tests/fuzz/replay.c $(filter-out build/asan/main.o,$(ASAN_OBJS)) | build/fuzz
	$(CC) -std=gnu11 $(CPPFLAGS) -O1 -g $(ASAN) -o $@ $< tests/fuzz/replay.c \
		$(filter-out build/asan/main.o,$(ASAN_OBJS)) $(LIBS)
build/fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(LIBSRCS) | build/fuzz
	clang -std=gnu11 $(CPPFLAGS) -O1 -g -fsanitize=fuzzer,address,undefined -o $@ $< $(LIBSRCS) $(LIBS)
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

build/unit build/fuzz:
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

FORMATTED := $(wildcard src/*.[ch] src/cli/*.[ch] src/store/*.[ch] src/store/*/*.[ch] tests/unit/*.[ch] tests/fuzz/*.c)
format:
	clang-format -i $(FORMATTED)
# Part of check (tests/run): every C file as .clang-format says.
format-check:
	@clang-format --dry-run --Werror $(FORMATTED)

tidy:
	clang-tidy $(SRCS) -- -std=gnu11 -D_GNU_SOURCE -Isrc

clean:
	rm -rf build ferry tests/tmp
