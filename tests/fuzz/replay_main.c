/* replay_main.c — runs a fuzz target over files without libFuzzer: each argument is a file or a
 * directory of files (not recursive). Prints "ok - replay NAME: N inputs"; a failed property
 * aborts, which the test runner reports as a failure. */
#include "fuzz.h"

#include <dirent.h>
#include <string.h>
#include <sys/stat.h>

static int run_file(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    size_t cap = 1 << 16, n = 0;
    uint8_t *buf = malloc(cap);
    for (size_t r; buf && (r = fread(buf + n, 1, cap - n, f)) > 0;) {
        n += r;
        if (n == cap) {
            uint8_t *b = realloc(buf, cap *= 2);
            if (!b) { free(buf); buf = NULL; }
            buf = b;
        }
    }
    fclose(f);
    if (!buf) return -1;
    /* an exact-size copy, so that reads past the end are caught by the sanitizers */
    uint8_t *exact = malloc(n ? n : 1);
    if (!exact) { free(buf); return -1; }
    memcpy(exact, buf, n);
    free(buf);
    LLVMFuzzerTestOneInput(exact, n);
    free(exact);
    return 0;
}

int main(int argc, char **argv) {
    const char *name = argc > 0 ? strrchr(argv[0], '/') : NULL;
    name = name ? name + 1 : argv[0];
    if (!strncmp(name, "replay_", 7)) name += 7;
    int n = 0, bad = 0;
    for (int i = 1; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st) != 0) { printf("FAIL - replay %s: cannot read %s\n", name, argv[i]); return 1; }
        if (!S_ISDIR(st.st_mode)) {
            if (run_file(argv[i]) != 0) bad++;
            n++;
            continue;
        }
        DIR *d = opendir(argv[i]);
        if (!d) { printf("FAIL - replay %s: cannot open %s\n", name, argv[i]); return 1; }
        for (struct dirent *e; (e = readdir(d));) {
            if (e->d_name[0] == '.') continue;
            char path[4096];
            snprintf(path, sizeof path, "%s/%s", argv[i], e->d_name);
            if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) continue;
            if (run_file(path) != 0) bad++;
            n++;
        }
        closedir(d);
    }
    if (bad) { printf("FAIL - replay %s: %d of %d inputs unreadable\n", name, bad, n); return 1; }
    if (n == 0) { printf("FAIL - replay %s: no inputs\n", name); return 1; }
    printf("ok - replay %s: %d inputs\n", name, n);
    return 0;
}
