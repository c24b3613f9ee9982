/*
 * fuzz_read_xls.c — the XLS reader (freexl) on arbitrary bytes: every
 * input must end in rows or a clean error, never a crash, a leak or an
 * out-of-bounds access. Mutated compound files exercise freexl and the cell
 * conversion in the parsing child (a crash there must come back as an
 * error, as for the freexl over-read kept in the corpus) and the parent's
 * checks of the rows the child sends.
 *
 * The input goes through a memory file (fuzz_read.h). Dispatch is by
 * content, so a mutation that breaks the signature lands in another reader,
 * which is fine: it must hold as well.
 */
#include "tests/fuzz/fuzz_read.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_read_all("ds-fuzz-xls", data, size);
    return 0;
}
