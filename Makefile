# vqhammer: `make` builds everything into build/; `make test`, `make run`, `make bench`.
# Every target that needs packages runs the dependency step first (tools/deps.sh).

# The id-stamp rule below comes before `all`: name the goal, or a bare `make` builds one object.
.DEFAULT_GOAL := all
BUILD   := build
V       ?= 0
Q       := $(if $(filter 1,$(V)),,@)
BUILD_ID := $(shell git describe --always --dirty 2>/dev/null || echo unknown)
# Objects that embed the build id are rebuilt when it changes (a stamp file that changes with it).
BUILD_ID_FILE := $(BUILD)/build-id.txt
$(shell mkdir -p $(BUILD) && (echo '$(BUILD_ID)' | cmp -s - $(BUILD_ID_FILE) || echo '$(BUILD_ID)' > $(BUILD_ID_FILE)))

# ---- guest kernel (freestanding) -------------------------------------------------------------
KCC      := gcc
# Link-time optimisation: small functions of other files (the PRNG, the ring helpers, the
# expected-state table) inline into the stress loop. Under TCG every call's return is an
# indirect jump that QEMU looks up at run time (helper_lookup_tb_ptr, 9% of QEMU's CPU on
# null-co): about 14% less QEMU CPU per request. KLTO= builds without it.
KLTO     ?= -flto=auto
KCFLAGS  := -std=gnu11 -O2 -g -Wall -Wextra -Werror -ffreestanding -fno-pic -fno-pie \
            -fno-stack-protector -fno-omit-frame-pointer -mno-red-zone -mgeneral-regs-only \
            -mcmodel=small -fno-asynchronous-unwind-tables -Ikernel -Idrivers \
            -DVQH_BUILD_ID='"$(BUILD_ID)"' $(KLTO)
KLDFLAGS := -nostdlib -static -no-pie -Wl,-n -Wl,-z,max-page-size=0x1000 -Wl,--build-id=none -Wl,-z,noexecstack \
            -T linker.ld
NASM     := nasm

KERNEL_C   := $(wildcard kernel/*.c drivers/*.c)
KERNEL_ASM := $(wildcard kernel/*.asm) boot/pvh_entry.asm
KERNEL_OBJ := $(patsubst %.c,$(BUILD)/guest/%.o,$(KERNEL_C)) \
              $(patsubst %.asm,$(BUILD)/guest/%.asm.o,$(KERNEL_ASM))

# ---- UEFI loader (gnu-efi) -------------------------------------------------------------------
EFI_INC    := /usr/include/efi
EFI_LIB    := /usr/lib
EFI_CFLAGS := -std=gnu11 -O2 -Wall -Wextra -Werror -fpic -fshort-wchar -ffreestanding \
              -fno-stack-protector -fno-strict-aliasing -mno-red-zone -maccumulate-outgoing-args \
              -DEFI_FUNCTION_WRAPPER -DGNU_EFI_USE_MS_ABI -I$(EFI_INC) -I$(EFI_INC)/x86_64 -Ikernel
EFI_LDFLAGS := -nostdlib -znocombreloc -T $(EFI_LIB)/elf_x86_64_efi.lds -shared -Bsymbolic \
               -L$(EFI_LIB) $(EFI_LIB)/crt0-efi-x86_64.o

# ---- host side -------------------------------------------------------------------------------
# -iquote, not -I: kernel/time.h must not hide the system <time.h>; tools/ comes first so a
# host file (or test) asking for "report.h" gets the host one. tools/ has one folder per concern
# (tools/<concern>/ and tools/<concern>/<part>/): every one of them is on the quote path.
TOOLS_DIRS := $(sort $(patsubst %/,%,$(dir $(wildcard tools/*/*.[ch] tools/*/*/*.[ch]))))
HCC     := gcc
HCFLAGS := -std=gnu11 -O1 -g -Wall -Wextra -Werror -Wno-format-truncation -DVQH_HOST -D_GNU_SOURCE \
           $(addprefix -iquote ,$(TOOLS_DIRS)) -iquote kernel -iquote drivers -DVQH_BUILD_ID='"$(BUILD_ID)"'
HSAN    ?= -fsanitize=address,undefined -fno-omit-frame-pointer
# Pure logic shared with the kernel: compiled for the host and tested there.
PURE_C  := $(wildcard kernel/config.c kernel/msg.c kernel/msgsplit.c kernel/crc32c.c kernel/prng.c \
             kernel/blockfmt.c kernel/expect.c kernel/verify.c kernel/cmdline.c kernel/reqsize.c \
             drivers/virtqueue.c drivers/vq_split.c drivers/vq_packed.c kernel/dec.c)
PURE_OBJ := $(patsubst %.c,$(BUILD)/host/%.o,$(PURE_C))
# tools/bench/insncount/plugin.c is a QEMU plugin, not part of vqhammer (`make insn-count`): one
# object for each plugin API version QEMUs accept, 1 (QEMU 7.2) and 2 (QEMU 10 wants at least 2).
INSN_PLUGIN := tools/bench/insncount/plugin.c
INSN_SO := $(BUILD)/insn-count-api1.so $(BUILD)/insn-count-api2.so
TOOLS_C  := $(filter-out tools/cli/main.c $(INSN_PLUGIN),$(wildcard tools/*/*.c tools/*/*/*.c))
TOOLS_OBJ := $(patsubst %.c,$(BUILD)/host/%.o,$(TOOLS_C))
HOST_LIBS := -ljansson -lm -lyaml -lsqlite3

UNIT_TESTS := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(wildcard tests/unit/test_*.c))
INTEG_TESTS := $(patsubst tests/integration/%.c,$(BUILD)/tests/%,$(wildcard tests/integration/test_*.c))
INTEG_HELPERS := $(filter-out tests/integration/test_%.c,$(wildcard tests/integration/*.c))

.PHONY: all clean deps test test-unit test-integration run bench lab-smoke soak insn-count
$(BUILD)/guest/kernel/hello.o $(BUILD)/host/tools/report/report.o $(BUILD)/rel/tools/report/report.o: $(BUILD_ID_FILE)
all: $(BUILD)/kernel.elf $(BUILD)/esp.img $(BUILD)/vqhammer $(UNIT_TESTS) $(INTEG_TESTS) $(INSN_SO)

deps:
	$(Q)tools/deps.sh

$(BUILD)/guest/%.o: %.c
	@mkdir -p $(dir $@)
	$(Q)$(KCC) $(KCFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/guest/%.asm.o: %.asm
	@mkdir -p $(dir $@)
	$(Q)$(NASM) -f elf64 -g -Ikernel/ -MD $(@:.o=.d) -MP -o $@ $<

$(BUILD)/kernel.elf: $(KERNEL_OBJ) linker.ld
	$(Q)$(KCC) $(KCFLAGS) $(KLDFLAGS) -o $@ $(KERNEL_OBJ) -lgcc

$(BUILD)/efi/uefi_loader.o: boot/uefi_loader.c kernel/bootinfo.h
	@mkdir -p $(dir $@)
	$(Q)$(KCC) $(EFI_CFLAGS) -c $< -o $@

$(BUILD)/efi/loader.so: $(BUILD)/efi/uefi_loader.o
	$(Q)ld $(EFI_LDFLAGS) $< -o $@ -lefi -lgnuefi

$(BUILD)/BOOTX64.EFI: $(BUILD)/efi/loader.so
	$(Q)objcopy -j .text -j .sdata -j .data -j .dynamic -j .dynsym -j .rel -j .rela -j .reloc \
	  --target=efi-app-x86_64 --subsystem=10 $< $@

# A real FAT image (not a fat:rw: directory, which blocks migration), built without root.
$(BUILD)/esp.img: $(BUILD)/BOOTX64.EFI $(BUILD)/kernel.elf
	$(Q)rm -f $@.tmp && truncate -s 16M $@.tmp && mformat -i $@.tmp -F -v VQHESP :: 2>/dev/null \
	  || mformat -i $@.tmp -v VQHESP ::
	$(Q)mmd -i $@.tmp ::/EFI ::/EFI/BOOT ::/vqhammer
	$(Q)mcopy -i $@.tmp $(BUILD)/BOOTX64.EFI ::/EFI/BOOT/BOOTX64.EFI
	$(Q)objcopy --strip-debug $(BUILD)/kernel.elf $@.kernel.tmp  # the loader reads less; gdb uses build/kernel.elf
	$(Q)mcopy -i $@.tmp $@.kernel.tmp ::/vqhammer/kernel.elf && rm -f $@.kernel.tmp
	$(Q)mv $@.tmp $@

$(BUILD)/host/%.o: %.c
	@mkdir -p $(dir $@)
	$(Q)$(HCC) $(HCFLAGS) $(HSAN) -MMD -MP -c $< -o $@

$(BUILD)/host/libpure.a: $(PURE_OBJ)
	$(Q)rm -f $@ && ar rcs $@ $^

$(BUILD)/host/libtools.a: $(TOOLS_OBJ)
	$(Q)rm -f $@ && ar rcs $@ $^ $(if $(TOOLS_OBJ),,$(BUILD)/host/kernel/msg.o)

# The tool itself is built apart, optimized and without sanitizers; the tests link the
# sanitized objects above.
# It links only the pure logic it calls: block format and verification (with their CRC, PRNG,
# expected-state text and decimal helpers) and the guest's configuration parser with its message encoder (--guest-config
# is checked before boot); kernel/wire.h is a header. The tests link all of it.
TOOL_PURE_C := $(filter kernel/blockfmt.c kernel/crc32c.c kernel/expect.c kernel/prng.c \
                 kernel/verify.c kernel/dec.c kernel/config.c kernel/msg.c,$(PURE_C))
REL_OBJ := $(patsubst %.c,$(BUILD)/rel/%.o,tools/cli/main.c $(TOOLS_C) $(TOOL_PURE_C))

$(BUILD)/rel/%.o: %.c
	@mkdir -p $(dir $@)
	$(Q)$(HCC) $(HCFLAGS) -O2 -MMD -MP -c $< -o $@

$(BUILD)/vqhammer: $(REL_OBJ)
	$(Q)$(HCC) -o $@ $^ $(HOST_LIBS)

$(BUILD)/tests/%: tests/unit/%.c $(BUILD)/host/libtools.a $(BUILD)/host/libpure.a
	@mkdir -p $(dir $@)
	$(Q)$(HCC) $(HCFLAGS) $(HSAN) -Itests -o $@ $^ -lcmocka $(HOST_LIBS)

# The integration tests' case-file parser (tests/integration/cases.cfg) is pure logic: its unit test links it.
$(BUILD)/tests/test_casefile: tests/integration/casefile.c tests/integration/caseexpr_parse.c tests/integration/caseexpr_eval.c

$(BUILD)/tests/%: tests/integration/%.c $(INTEG_HELPERS) $(BUILD)/host/libtools.a $(BUILD)/host/libpure.a
	@mkdir -p $(dir $@)
	$(Q)$(HCC) $(HCFLAGS) $(HSAN) -Itests -Itests/integration -DVQH_TOP='"$(CURDIR)"' -o $@ $^ -lcmocka $(HOST_LIBS)

test: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)tests/run.sh $(UNIT_TESTS) $(INTEG_TESTS)

test-unit: deps
	$(Q)$(MAKE) --no-print-directory $(UNIT_TESTS)
	$(Q)tests/run.sh $(UNIT_TESTS)

test-integration: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)tests/run.sh $(INTEG_TESTS)

run: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)$(BUILD)/vqhammer migrate $(ARGS)

bench: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)tools/bench/bench.sh

# Guest instructions per null-co request, by function; ARGS go to the script (--help).
$(BUILD)/insn-count-api%.so: $(INSN_PLUGIN)
	@mkdir -p $(dir $@)
	$(Q)$(HCC) -std=gnu11 -O2 -Wall -Wextra -Werror -shared -fPIC -fvisibility=hidden \
		-DVQH_PLUGIN_API=$* -o $@ $< -lpthread

insn-count: deps
	$(Q)$(MAKE) --no-print-directory $(BUILD)/kernel.elf $(INSN_SO)
	$(Q)tools/bench/insncount/insn-count.sh $(ARGS)

# Long fuzz runs of the parsers of outside input (libFuzzer, clang): `make fuzz` runs each target in
# tests/fuzz/ for FUZZ_SECONDS, its corpus kept in build/fuzz/corpus-NAME. The seeded, bounded
# versions are unit tests (tests/unit/test_fuzz_*.c) and run in `make test`.
FUZZ_SECONDS ?= 60
FUZZ_CC     := clang
FUZZ_CFLAGS := $(filter-out -Werror -Wno-format-truncation,$(HCFLAGS)) -Wno-unknown-warning-option \
               -fsanitize=address,undefined -fno-omit-frame-pointer
FUZZ_OBJ    := $(patsubst %.c,$(BUILD)/fuzzobj/%.o,$(PURE_C) $(TOOLS_C))
FUZZ_BINS   := $(patsubst tests/fuzz/%.c,$(BUILD)/fuzz/%,$(wildcard tests/fuzz/fuzz_*.c))

$(BUILD)/fuzzobj/%.o: %.c
	@mkdir -p $(dir $@)
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c $< -o $@

$(BUILD)/fuzz/%: tests/fuzz/%.c $(FUZZ_OBJ)
	@mkdir -p $(dir $@)
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< $(FUZZ_OBJ) $(HOST_LIBS)

.PHONY: fuzz
.SECONDARY: $(FUZZ_OBJ)
fuzz:
	$(Q)command -v $(FUZZ_CC) >/dev/null || { echo "make fuzz needs clang (libFuzzer): apt-get install clang"; exit 2; }
	$(Q)$(MAKE) --no-print-directory $(FUZZ_BINS)
	$(Q)for f in $(FUZZ_BINS); do mkdir -p $$f.corpus && echo "== $$f ($(FUZZ_SECONDS) s)" && \
	  $$f -max_total_time=$(FUZZ_SECONDS) -max_len=8192 $$f.corpus || exit 1; done

# The lab's page script is linked into the binary (.incbin), which -MMD does not see.
$(BUILD)/host/tools/lab/lab_html.o $(BUILD)/rel/tools/lab/lab_html.o: tools/lab/lab_html.js

# The lab mode end to end on tests/lab/smoke.yaml: database, JUnit, TAP, JSON and HTML in build/lab/.
lab-smoke: deps
	$(Q)$(MAKE) --no-print-directory $(BUILD)/vqhammer $(BUILD)/kernel.elf $(BUILD)/esp.img
	$(Q)$(BUILD)/vqhammer lab run tests/lab/smoke.yaml --root $(BUILD)/lab $(ARGS)

soak: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)tools/soak/soak.sh

clean:
	rm -rf $(BUILD)

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
