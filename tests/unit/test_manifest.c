/* The manifest's SHA-256 of a file, and the record that spares hashing it again. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "manifest.h"
#include "path.h"
#include "tap.h"

int main(void)
{
    char dir[] = "/tmp/ferry-unit-manifest.XXXXXX";
    if (!mkdtemp(dir))
        return 1;
    char *f = path_join(dir, "data");
    FILE *fp = fopen(f, "w");
    fputs("abc", fp);
    fclose(fp);
    char hex[65];
    ferr_t e = FERR_INIT;
    OK(manifest_sha256(f, hex, &e) == 0, "a file is hashed");
    STREQ(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
          "SHA-256 of abc");
    char rec[160];
    ssize_t l = getxattr(f, "user.ferry.sha256", rec, sizeof rec - 1);
    OK(l > 64, "the hash is recorded beside the file");
    /* a record whose stamp matches is believed: proof that it is read, not recomputed */
    struct stat st;
    stat(f, &st);
    char stamp[64], fake[160];
    path_stamp(&st, stamp, sizeof stamp);
    int fl = snprintf(fake, sizeof fake, "%s\n%064d", stamp, 7);
    setxattr(f, "user.ferry.sha256", fake, (size_t)fl, 0);
    OK(manifest_sha256(f, hex, &e) == 0 && !strncmp(hex, "0000", 4),
       "an unchanged file's record is used");
    fp = fopen(f, "a");
    fputs("d", fp);
    fclose(fp);
    OK(manifest_sha256(f, hex, &e) == 0, "a changed file");
    STREQ(hex, "88d4266fd4e6338d13b845fcf289579d209c897823b9217da3e161936f031589",
          "is hashed again (SHA-256 of abcd)");
    unlink(f);
    rmdir(dir);
    free(f);
    TAP_DONE();
}
