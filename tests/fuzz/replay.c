/* Runs a fuzz target over files, as an ordinary test: each corpus file is
 * one TAP line. Built with gcc and the sanitizers by `make check`. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        FILE *f = fopen(argv[i], "rb");
        if (!f) {
            printf("not ok %d - %s: cannot open\n", i, argv[i]);
            continue;
        }
        fseek(f, 0, SEEK_END);
        long n = ftell(f);
        fseek(f, 0, SEEK_SET);
        uint8_t *buf = malloc(n > 0 ? (size_t)n : 1);
        size_t got = fread(buf, 1, (size_t)(n > 0 ? n : 0), f);
        fclose(f);
        LLVMFuzzerTestOneInput(buf, got);
        free(buf);
        printf("ok %d - replay %s\n", i, argv[i]);
    }
    printf("1..%d\n", argc - 1);
    return 0;
}
