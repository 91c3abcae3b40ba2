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

.PHONY: all deps test-deps demo check asan unit clean format tidy bench

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

unit: $(UNIT_BINS)

build/obj build/asan build/unit:
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
