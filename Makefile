# Top-level build: every binary into bin/, the shared library into build/.
# make            build everything
# make test       install what is missing (scripts/deps.sh), build, then
#                 the unit, fuzz and integration tests (scripts/test.sh)
# make asan       AddressSanitizer + UBSan build, out of tree: objects in
#                 build/asan/, binaries and modules in build/asan/bin/
# make test-asan  make test on that build (CHAT_TEST_STORES=sqlite for
#                 the bats suite on SQLite only, as .ci/run does)
# make check      source checks (scripts/check): banned.h, bats negations
# make fuzz       libFuzzer targets (clang) into build-fuzz/; scripts/fuzz
# make run        install what is missing, build, start the stack on
#                 embedded defaults in .chat/
# make install PREFIX=/usr/local
#
# Run-time modules: libpq and libcurl are not linked into the daemons
# (their dependency chains cost ~4 MiB of RSS in every process at exec).
# shared/db-pg.c becomes $(BIN)/chat-pg.so and shared/http-curl.c
# $(BIN)/chat-curl.so, loaded with dlopen when a daemon needs them
# (shared/module.c).  They call back into libchat only through the table
# of functions module_load hands them (struct module_host, module.h), so
# programs export nothing for them; a module is linked with -z defs, so a
# call past the table fails its link, not its dlopen.

CC      ?= gcc
PREFIX  ?= /usr/local
# sanitizers for this build (make asan sets them for its own tree; a plain
# make never reads them from anywhere but its command line)
SANITIZE ?=
PKGS    := libwebsockets libuv libcjson libsodium libcurl libpq sqlite3 zlib
# what a daemon links; libpq and libcurl only through the modules (zlib:
# gatewayd gzips the web page; libwebsockets maps it anyway)
# libuv: the servers' loop runs lws on a uv loop of ours, on epoll
# (http-server.c)
CORE_PKGS := libwebsockets libuv libcjson libsodium sqlite3 zlib

# One version for every program (chatctl, chatui, the daemons' --version),
# from one place: the VERSION file.  It goes into CSTD, so the fuzz build
# has it too, and into the flags files, so a new version rebuilds all.
VERSION  := $(shell cat VERSION)
CSTD     := -std=c11 -D_GNU_SOURCE -DCHAT_VERSION='"$(VERSION)"'
WARN     := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
            -Wmissing-prototypes -Wwrite-strings -Wformat=2 -Wvla
OPT      ?= -O2 -g
ifneq ($(SANITIZE),)
OPT      := -O1 -g
endif
CFLAGS_ALL := $(CSTD) $(WARN) $(OPT) -Ishared -pthread \
              $(shell pkg-config --cflags $(PKGS) 2>/dev/null) $(CFLAGS)
LDLIBS_ALL := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lpthread -lm $(LDLIBS)
LDLIBS_CORE := $(shell pkg-config --libs $(CORE_PKGS) 2>/dev/null) -lpthread -lm $(LDLIBS)
ifneq ($(SANITIZE),)
CFLAGS_ALL += -fsanitize=$(SANITIZE) -fno-sanitize-recover=all -fno-omit-frame-pointer
LDFLAGS    += -fsanitize=$(SANITIZE)
endif

ifeq ($(V),1)
Q :=
else
Q := @
endif

B   := build
# where the binaries go; a private BIN (and B) lets several builds coexist
BIN ?= bin
# make asan's tree: the daemons find chat-pg.so and chat-curl.so beside
# themselves, so the modules go to ASAN_BIN with them
ASAN_B   ?= $(B)/asan
ASAN_BIN ?= $(ASAN_B)/bin

# module name -> its source and the library it brings
MOD_pg_SRC    := shared/db-pg.c
MOD_pg_LIBS   := $(shell pkg-config --libs libpq 2>/dev/null)
MOD_curl_SRC  := shared/http-curl.c
MOD_curl_LIBS := $(shell pkg-config --libs libcurl 2>/dev/null)
# notifyd's mail (smtp.url): libcurl's SMTP in a module of its own, so
# that the HTTP module's ops stay as they are
MOD_smtp_SRC  := shared/smtp-curl.c
MOD_smtp_LIBS := $(MOD_curl_LIBS)
# librdkafka (scripts/deps.sh installs it): the Kafka relay and consumer,
# chat-kafka.so, and the mock cluster fixture of its tests; without it
# neither is built and the Kafka tests skip, the rest builds as before
HAVE_KAFKA    := $(shell pkg-config --exists rdkafka 2>/dev/null && echo 1)
MOD_kafka_SRC  := shared/events-kafka.c
MOD_kafka_LIBS := $(shell pkg-config --libs rdkafka libcjson 2>/dev/null)
# librabbitmq (scripts/deps.sh installs it): notifyd's delivery queue on
# RabbitMQ, chat-amqp.so; without it the module is not built and the
# RabbitMQ tests skip
HAVE_AMQP     := $(shell pkg-config --exists librabbitmq 2>/dev/null && echo 1)
MOD_amqp_SRC  := shared/mq-amqp.c
MOD_amqp_LIBS := $(shell pkg-config --libs librabbitmq 2>/dev/null)
MOD_NAMES := pg curl smtp $(if $(HAVE_KAFKA),kafka) $(if $(HAVE_AMQP),amqp)
MODULES   := $(MOD_NAMES:%=$(BIN)/chat-%.so)
# every module's source stays out of libchat, built or not
MOD_SRC   := $(foreach m,pg curl smtp kafka amqp,$(MOD_$(m)_SRC))

LIB_SRC  := $(filter-out $(MOD_SRC),$(wildcard shared/*.c))
LIB_OBJ  := $(LIB_SRC:%.c=$(B)/%.o)
LIB      := $(B)/libchat.a

DAEMONS  := $(notdir $(wildcard daemons/*))
DAEMON_BINS := $(foreach d,$(DAEMONS),$(if $(wildcard daemons/$(d)/*.c),$(BIN)/$(d)))
CLI_SRC  := $(wildcard cli/*.c)
TUI_SRC  := $(wildcard tui/*.c)
FIX_SRC  := $(filter-out $(if $(HAVE_KAFKA),,tests/fixtures/kafka/%),\
              $(wildcard tests/fixtures/*/*.c))
# a fixture's libraries beyond a daemon's
FIX_LIBS_kafka-mock := $(shell pkg-config --libs rdkafka 2>/dev/null)
FIX_BINS := $(foreach f,$(FIX_SRC),$(B)/fixtures/$(notdir $(f:.c=)))
BENCH_SRC := $(wildcard bench/*.c)
BENCH_BINS := $(BENCH_SRC:bench/%.c=$(B)/bench/%)
UNIT_SRC := $(filter-out $(if $(HAVE_KAFKA),,tests/unit/test-events-kafka.c),\
              $(wildcard tests/unit/test-*.c))
UNIT_BINS := $(UNIT_SRC:tests/unit/%.c=$(B)/tests/%)

BINS := $(DAEMON_BINS) $(if $(CLI_SRC),$(BIN)/chatctl) $(if $(TUI_SRC),$(BIN)/chatui)

# chatctl's completion scripts, written by chatctl from its command table
# (`chatctl completion SHELL`) and kept in the checkout; rewritten only
# when they change, so that a build leaves them alone otherwise
COMPLETION_SHELLS := bash zsh fish
COMPLETIONS := $(if $(CLI_SRC),$(COMPLETION_SHELLS:%=completions/chatctl.%))
# where each shell looks, under PREFIX
BASH_COMPLETION_DIR ?= $(PREFIX)/share/bash-completion/completions
ZSH_COMPLETION_DIR  ?= $(PREFIX)/share/zsh/site-functions
FISH_COMPLETION_DIR ?= $(PREFIX)/share/fish/vendor_completions.d

all: $(BINS) $(MODULES) $(FIX_BINS) $(BENCH_BINS) $(COMPLETIONS)

# Rebuild everything when the flags change.
$(B)/flags: FORCE
	@mkdir -p $(B)
	@echo '$(CC) $(CFLAGS_ALL) $(LDFLAGS) $(LDLIBS_ALL)' | cmp -s - $@ || \
	  echo '$(CC) $(CFLAGS_ALL) $(LDFLAGS) $(LDLIBS_ALL)' > $@

$(B)/%.o: %.c $(B)/flags
	@mkdir -p $(dir $@)
	@$(if $(Q),echo '  CC      $<')
	$(Q)$(CC) $(CFLAGS_ALL) -MMD -MP -c -o $@ $<

# gatewayd serves the page of the tree it was built from when it runs
# from there (no installed page beside it); web/ may move with the tree,
# so its path is the one thing this object knows beyond CFLAGS
$(B)/daemons/gatewayd/web.o: CFLAGS_ALL += -DCHAT_SOURCE_WEB_DIR='"$(CURDIR)/web"'

$(LIB): $(LIB_OBJ)
	@$(if $(Q),echo '  AR      $@')
	$(Q)rm -f $@ && ar rcs $@ $^

# module objects are position-independent
$(B)/pic/%.o: %.c $(B)/flags
	@mkdir -p $(dir $@)
	@$(if $(Q),echo '  CC      $<')
	$(Q)$(CC) $(CFLAGS_ALL) -fPIC -MMD -MP -c -o $@ $<

$(foreach m,$(MOD_NAMES),$(eval $(BIN)/chat-$(m).so: $(MOD_$(m)_SRC:%.c=$(B)/pic/%.o)))
$(MODULES):
	@mkdir -p $(BIN)
	@$(if $(Q),echo '  LINK    $@')
	$(Q)$(CC) $(CFLAGS_ALL) -shared $(LDFLAGS) $(MOD_DEFS) -o $@ $^ \
	  $(MOD_$(patsubst $(BIN)/chat-%.so,%,$@)_LIBS)

# every symbol a module uses must come from its own libraries (what it
# needs of the program goes through struct module_host); the sanitizers'
# runtime is the program's, so their builds cannot say so at link time
MOD_DEFS := $(if $(SANITIZE),,-Wl,-z,defs)

# objs SOURCES: their objects in $(B).  Rules below call it rather than
# write patsubst with a %, which a pattern rule's prerequisites would take
# for its stem (patsubst then matched nothing and the programs linked
# their .c files, compiled again at every link and never rebuilt when a
# header changed).
objs = $(patsubst %.c,$(B)/%.o,$(1))

.SECONDEXPANSION:
$(BIN)/%: $$(call objs,$$(wildcard daemons/$$*/*.c)) $(LIB) | $(MODULES)
	@mkdir -p $(BIN)
	@$(if $(Q),echo '  LINK    $@')
	$(Q)$(CC) $(CFLAGS_ALL) $(LDFLAGS) -o $@ $^ $(LDLIBS_CORE)

$(BIN)/chatctl: $(CLI_SRC:%.c=$(B)/%.o) $(LIB)
	@mkdir -p $(BIN)
	@$(if $(Q),echo '  LINK    $@')
	$(Q)$(CC) $(CFLAGS_ALL) $(LDFLAGS) -o $@ $^ $(LDLIBS_ALL) -lreadline

completions/chatctl.%: $(BIN)/chatctl
	@mkdir -p $(dir $@)
	@$(if $(Q),echo '  GEN     $@')
	$(Q)$(BIN)/chatctl completion $* >$@.tmp.$$$$ && \
	  { cmp -s $@.tmp.$$$$ $@ && rm -f $@.tmp.$$$$ || mv $@.tmp.$$$$ $@; }; \
	  touch $@

$(BIN)/chatui: $(TUI_SRC:%.c=$(B)/%.o) $(LIB)
	@mkdir -p $(BIN)
	@$(if $(Q),echo '  LINK    $@')
	$(Q)$(CC) $(CFLAGS_ALL) $(LDFLAGS) -o $@ $^ $(LDLIBS_ALL) -lncursesw

$(B)/fixtures/%: $$(call objs,$$(wildcard tests/fixtures/*/$$*.c)) $(LIB)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo '  LINK    $@')
	$(Q)$(CC) $(CFLAGS_ALL) $(LDFLAGS) -o $@ $^ $(LDLIBS_CORE) $(FIX_LIBS_$*)

$(B)/bench/%: $(B)/bench/%.o $(LIB)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo '  LINK    $@')
	$(Q)$(CC) $(CFLAGS_ALL) $(LDFLAGS) -o $@ $^ $(LDLIBS_ALL)

# A unit test links its own object and the objects tests/unit/deps.mk
# names for it (deps.test-NAME: shared/ objects, and a program's but its
# main.o), nothing else: a test of the JSON parser does not pull in the
# database.  An object missing from a line fails the test's link;
# scripts/unit-deps prints the lines of a new test.  The libraries are a
# daemon's (libpq and libcurl come through the run-time modules, loaded
# as the daemons load them: scripts/test.sh points CHAT_MODULE_DIR at
# $(BIN)), plus the front-ends' that libs.test-NAME names.
include tests/unit/deps.mk
UNIT_LIB_curl     := $(MOD_curl_LIBS)
UNIT_LIB_ncursesw := -lncursesw
UNIT_LIB_readline := -lreadline
# (the Kafka module's test runs librdkafka's mock cluster itself)
UNIT_LIB_rdkafka  := $(shell pkg-config --libs rdkafka 2>/dev/null)
unit_deps = $(if $(filter undefined,$(origin deps.$(1))),$(error \
  tests/unit/deps.mk has no deps.$(1) (scripts/unit-deps $(1) prints it)),\
  $(addprefix $(B)/,$(deps.$(1))))
$(UNIT_BINS): $(B)/tests/%: $(B)/tests/unit/%.o $$(call unit_deps,$$*) | $(MODULES)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo '  LINK    $@')
	$(Q)$(CC) $(CFLAGS_ALL) $(LDFLAGS) $(UNIT_WRAP) -o $@ $^ $(LDLIBS_CORE) \
	  -lcmocka $(foreach l,$(libs.$*),$(UNIT_LIB_$(l)))

# Allocation-failure tests (tests/unit/alloc-fail.h) link the counting
# allocator, and --wrap sends their objects' malloc & co to it.
UNIT_ALLOC_FAIL := test-alloc-fail
$(UNIT_ALLOC_FAIL:%=$(B)/tests/%): $(B)/tests/unit/alloc-fail.o
$(UNIT_ALLOC_FAIL:%=$(B)/tests/%): UNIT_WRAP := \
	-Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc,--wrap=free,--wrap=strdup,--wrap=strndup

units: $(UNIT_BINS) $(MODULES)

deps:
	@scripts/deps.sh

# What scripts/test.sh tests: this build, whatever B and BIN say.
TEST_ENV = CHAT_BUILD=$(abspath $(1)) CHAT_BIN=$(abspath $(2)) \
	   CHAT_FIXTURES=$(abspath $(1))/fixtures
# make test builds the fuzz targets unless their runs are off
TEST_FUZZ = $(if $(filter 0,$(CHAT_TEST_FUZZ)),,fuzz)

# run and test are the two commands typed on a fresh machine: deps.sh
# installs what is missing first, then a second make builds, because
# this one read pkg-config's flags before the packages were there.
test: deps
	$(Q)$(MAKE) --no-print-directory all units $(TEST_FUZZ)
	@$(call TEST_ENV,$(B),$(BIN)) scripts/test.sh

test-asan: deps
	$(Q)$(MAKE) --no-print-directory asan $(TEST_FUZZ)
	@$(call TEST_ENV,$(ASAN_B),$(ASAN_BIN)) scripts/test.sh

unit: all units
	@$(call TEST_ENV,$(B),$(BIN)) scripts/test.sh unit

# a tree of its own, so that the normal build never changes under it
asan:
	$(Q)$(MAKE) --no-print-directory B=$(ASAN_B) BIN=$(ASAN_BIN) \
	  SANITIZE=address,undefined all units

check:
	@scripts/check

run: deps
	$(Q)$(MAKE) --no-print-directory all
	@CHAT_BIN=$(abspath $(BIN)) scripts/run.sh

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1 \
	  $(DESTDIR)$(PREFIX)/share/man/man5 $(DESTDIR)$(PREFIX)/share/man/man8 \
	  $(DESTDIR)$(PREFIX)/lib/chat
	install -m 0755 $(BINS) $(DESTDIR)$(PREFIX)/bin/
	# the launcher under the name of its man page, chat-stack(1)
	install -m 0755 scripts/stack $(DESTDIR)$(PREFIX)/bin/chat-stack
	install -m 0644 $(MODULES) $(DESTDIR)$(PREFIX)/lib/chat/
	-install -m 0644 man/*.1 $(DESTDIR)$(PREFIX)/share/man/man1/
	-install -m 0644 man/*.5 $(DESTDIR)$(PREFIX)/share/man/man5/
	-install -m 0644 man/*.8 $(DESTDIR)$(PREFIX)/share/man/man8/
	install -d $(DESTDIR)$(BASH_COMPLETION_DIR) \
	  $(DESTDIR)$(ZSH_COMPLETION_DIR) $(DESTDIR)$(FISH_COMPLETION_DIR)
	install -m 0644 completions/chatctl.bash \
	  $(DESTDIR)$(BASH_COMPLETION_DIR)/chatctl
	install -m 0644 completions/chatctl.zsh \
	  $(DESTDIR)$(ZSH_COMPLETION_DIR)/_chatctl
	install -m 0644 completions/chatctl.fish \
	  $(DESTDIR)$(FISH_COMPLETION_DIR)/chatctl.fish
	# the web page, where an installed gatewayd looks for it
	# (<bin>/../share/chat/web); a new copy replaces the old one whole
	rm -rf $(DESTDIR)$(PREFIX)/share/chat/web
	install -d $(DESTDIR)$(PREFIX)/share/chat/web
	cp -R web/. $(DESTDIR)$(PREFIX)/share/chat/web/
	chmod -R u=rwX,go=rX $(DESTDIR)$(PREFIX)/share/chat/web

clean:
	rm -rf $(B) $(BIN)

FORCE:
.PHONY: all units deps test test-asan unit asan check run install clean FORCE
.SECONDARY:

# (make asan's tree inside $(B) has its own)
-include $(shell find $(B) -path '$(ASAN_B)' -prune -o -name '*.d' -print 2>/dev/null)

# ---- fuzzing: make fuzz (run them with scripts/fuzz) -------------------
# Every tests/fuzz/fuzz-NAME.c becomes $(FB)/fuzz-NAME, a libFuzzer
# binary built with clang under ASan and UBSan.  It links an archive of
# every shared/*.c (modules apart) and chatui's files but main.c,
# compiled again with clang and coverage into $(FB)/, never mixed with
# the gcc objects of $(B): a new parser in shared/ or a new
# tests/fuzz/fuzz-NAME.c needs no line here, one of chatctl's or a
# daemon's a FUZZ_DEPS.NAME line (below).
FUZZ_CC     ?= clang
FB          ?= build-fuzz
FUZZ_SRC    := $(wildcard tests/fuzz/fuzz-*.c)
FUZZ_BINS   := $(FUZZ_SRC:tests/fuzz/%.c=$(FB)/%)
FUZZ_LIB    := $(FB)/libchat-fuzz.a
FUZZ_LIB_OBJ := $(patsubst %.c,$(FB)/%.o,$(LIB_SRC) $(filter-out tui/main.c,$(TUI_SRC)))
FUZZ_CFLAGS := $(CSTD) $(WARN) -O1 -g -Ishared -pthread \
               $(shell pkg-config --cflags $(PKGS) 2>/dev/null) \
               -fsanitize=address,undefined -fno-sanitize-recover=all \
               -fno-omit-frame-pointer

fuzz: $(FUZZ_BINS)

$(FB)/flags: FORCE
	@mkdir -p $(FB)
	@echo '$(FUZZ_CC) $(FUZZ_CFLAGS) $(LDLIBS_ALL)' | cmp -s - $@ || \
	  echo '$(FUZZ_CC) $(FUZZ_CFLAGS) $(LDLIBS_ALL)' > $@

$(FB)/%.o: %.c $(FB)/flags
	@mkdir -p $(dir $@)
	@$(if $(Q),echo '  FUZZCC  $<')
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -MMD -MP -c -o $@ $<

$(FUZZ_LIB): $(FUZZ_LIB_OBJ)
	@$(if $(Q),echo '  AR      $@')
	$(Q)rm -f $@ && ar rcs $@ $^

# A target of code outside the archive (chatctl's, a daemon's) names
# those objects here; they link before the archive.
FUZZ_DEPS.conv-import := cli/conv-io.o cli/api.o cli/out.o cli/idprefix.o
FUZZ_DEPS.web-path := daemons/gatewayd/web-path.o
FUZZ_DEPS.mail-header := daemons/notifyd/mail-msg.o
FUZZ_DEPS.retry-after := daemons/notifyd/webhook-retry.o
FUZZ_DEPS.event := daemons/analyticsd/rollup.o daemons/analyticsd/range.o \
	daemons/analyticsd/sketch.o daemons/analyticsd/erase.o \
	daemons/analyticsd/agg.o
$(foreach t,$(FUZZ_SRC:tests/fuzz/fuzz-%.c=%),$(eval \
  $(FB)/fuzz-$(t): $(addprefix $(FB)/,$(FUZZ_DEPS.$(t)))))

$(FB)/fuzz-%: $(FB)/tests/fuzz/fuzz-%.o $(FUZZ_LIB)
	@$(if $(Q),echo '  LINK    $@')
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ \
	  $(filter %.o,$^) $(FUZZ_LIB) \
	  $(LDLIBS_ALL) -lncursesw

fuzz-clean:
	rm -rf $(FB)

# (make test builds them for its short fuzz runs: scripts/test.sh,
# scripts/fuzz --suite; CHAT_TEST_FUZZ=0 leaves both out)
clean: fuzz-clean
.PHONY: fuzz fuzz-clean

-include $(shell find $(FB) -name '*.d' 2>/dev/null)
