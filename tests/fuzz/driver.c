/*
 * driver.c — runs a fuzz target without libFuzzer: each file named on the
 * command line (or each file in a directory) is fed to
 * LLVMFuzzerTestOneInput once. `make test` uses it to replay the corpus
 * under the sanitizers with gcc; `make fuzz` links the same targets with
 * clang's libFuzzer instead.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
/* A target's set-up, when it has one (libFuzzer calls it the same way). */
int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

static int run_file(const char *path)
{
    FILE *fp = fopen(path, "rb");
    uint8_t *data = NULL;
    long size;

    if (fp == NULL || fseek(fp, 0, SEEK_END) != 0) {
        perror(path);
        return 1;
    }
    size = ftell(fp);
    rewind(fp);
    data = malloc(size > 0 ? (size_t)size : 1);
    if (data == NULL || fread(data, 1, (size_t)size, fp) != (size_t)size) {
        perror(path);
        fclose(fp);
        free(data);
        return 1;
    }
    fclose(fp);
    LLVMFuzzerTestOneInput(data, (size_t)size);
    free(data);
    return 0;
}

static int run_path(const char *path, int *count)
{
    struct stat sb;
    struct dirent *de;
    DIR *dir;
    char child[4096];
    int failed = 0;

    if (stat(path, &sb) != 0) {
        perror(path);
        return 1;
    }
    if (!S_ISDIR(sb.st_mode)) {
        (*count)++;
        return run_file(path);
    }
    dir = opendir(path);
    if (dir == NULL) {
        perror(path);
        return 1;
    }
    for (;;) {
        de = readdir(dir);
        if (de == NULL) {
            break;
        }
        if (de->d_name[0] == '.') {
            continue;
        }
        snprintf(child, sizeof(child), "%s/%s", path, de->d_name);
        failed |= run_path(child, count);
    }
    closedir(dir);
    return failed;
}

int main(int argc, char **argv)
{
    int failed = 0;
    int count = 0;

    if (LLVMFuzzerInitialize != NULL) {
        LLVMFuzzerInitialize(&argc, &argv);
    }
    for (int i = 1; i < argc; i++) {
        failed |= run_path(argv[i], &count);
    }
    printf("%s: %d input(s) replayed\n", argv[0], count);
    return failed;
}
