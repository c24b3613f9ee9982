/*
 * fuzz_read_ics.c — the ICS reader (libical) on arbitrary bytes: every
 * input must end in rows or a clean error, never a crash, a leak or an
 * out-of-bounds access. Mutated calendars exercise the component walk, time
 * zones, all-day dates and recurrence expansion.
 *
 * The input goes through a memory file (fuzz_read.h). Dispatch is by
 * content, so a mutation that breaks the signature lands in another reader,
 * which is fine: it must hold as well.
 */
#include "tests/fuzz/fuzz_read.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_read_all("ds-fuzz-ics", data, size);
    return 0;
}
