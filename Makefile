# voxtts build: a static library (src/), the voxtts command (cli/), unit tests
# (tests/unit/) and small tools (tools/*.c).  `make SAN=1` builds everything with
# AddressSanitizer + UndefinedBehaviorSanitizer into build-san/.
CC      ?= cc
SAN     ?= 0
ifeq ($(SAN),1)
BUILD   ?= build-san
OPT     ?= -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all
else
BUILD   ?= build
OPT     ?= -O2 -g
endif
WARN    = -Wall -Wextra -Werror -Wno-unused-parameter
CFLAGS  += -std=c11 -D_GNU_SOURCE $(OPT) $(WARN) -Iinclude -Isrc -MMD -MP
LDLIBS  = -lpcre2-8 -lcjson -lsndfile -lsoxr -lm -lpthread

SRC     := $(sort $(wildcard src/*/*.c))
OBJ     := $(SRC:%.c=$(BUILD)/%.o)
LIB     := $(BUILD)/libvoxtts.a
CLI_SRC := $(sort $(wildcard cli/*.c))
CLI_OBJ := $(CLI_SRC:%.c=$(BUILD)/%.o)
TESTS   := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(sort $(wildcard tests/unit/test_*.c)))
TOOLS   := $(patsubst tools/%.c,$(BUILD)/tools/%,$(sort $(wildcard tools/*.c)))

.PHONY: all test clean
# Keep the objects of tests and tools (make would delete them as intermediates).
.SECONDARY:
all: $(BUILD)/voxtts $(TESTS) $(TOOLS)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(LIB): $(OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/voxtts: $(CLI_OBJ) $(LIB)
	$(CC) $(CFLAGS) $^ $(LDLIBS) -o $@

$(BUILD)/tests/%: $(BUILD)/tests/unit/%.o $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $^ $(LDLIBS) -o $@

$(BUILD)/tools/%: $(BUILD)/tools/%.o $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $^ $(LDLIBS) -o $@

test: all
	BUILD=$(BUILD) tests/run.sh

clean:
	rm -rf build build-san

# Header dependencies of every object (tests and tools too, so a changed struct
# rebuilds them).
-include $(OBJ:.o=.d) $(CLI_OBJ:.o=.d) $(TESTS:$(BUILD)/tests/%=$(BUILD)/tests/unit/%.d) \
	$(TOOLS:%=%.d)
