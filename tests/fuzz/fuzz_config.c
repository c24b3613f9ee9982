/*
 * fuzz_config.c — the INI configuration loader on arbitrary bytes: it must
 * report problems, never crash, leak or read out of bounds.
 */
#include "config/config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[] = "/tmp/ds-fuzz-config-XXXXXX";
    struct ds_config *cfg = NULL;
    FILE *devnull = fopen("/dev/null", "w");
    int fd = mkstemp(path);

    if (fd < 0 || devnull == NULL) {
        abort();
    }
    if (write(fd, data, size) != (ssize_t)size) {
        abort();
    }
    close(fd);
    ds_config_load(path, &cfg, devnull);
    ds_config_free(&cfg);
    fclose(devnull);
    unlink(path);
    return 0;
}
