/* The transfer engine against a store whose listing is hostile: names that
 * would land outside the target must be refused with nothing written, and
 * the good ones still arrive. The store here is a test double of the
 * listing only; real servers are tested in tests/integration. */
#include <dirent.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "path.h"
#include "store/backend.h"
#include "tap.h"
#include "xfer.h"

static const char *names[] = {"../evil.txt",     "a/../../x.txt", "/abs.txt",
                              "back\\slash.txt", "ctrl\001.txt",  "dir/",
                              "good/ok.txt",     "good/x/..",     NULL};

static int fake_list(store_t *s, const char *prefix, const char *delim, unsigned flags,
                     store_list_fn fn, void *ud, ferr_t *err)
{
    (void)s, (void)prefix, (void)delim, (void)flags, (void)err;
    for (const char **n = names; *n; n++) {
        store_entry_t e = {.name = *n, .size = strcmp(*n, "dir/") ? 5 : 0};
        int rc = fn(ud, &e);
        if (rc)
            return rc;
    }
    return 0;
}

static int fake_read(store_t *s, const char *name, const char *etag, uint64_t off, uint64_t len,
                     int fd, uint64_t fd_off, store_bytes_fn on_bytes, void *ud, ferr_t *err)
{
    (void)s, (void)name, (void)etag, (void)off, (void)on_bytes, (void)ud, (void)err;
    return pwrite(fd, "hello", (size_t)len, (off_t)fd_off) == (ssize_t)len ? 0 : -1;
}

static int count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            n++;
    if (d)
        closedir(d);
    return n;
}

int main(void)
{
    char tmpl[] = "/tmp/ferry-xfer-XXXXXX";
    char *top = mkdtemp(tmpl);
    char *target = path_join(top, "deep/target");
    /* a backend of the test's own: a listing with hostile names */
    static const struct store_ops ops = {.list = fake_list, .read = fake_read};
    static const store_backend_t fake = {.type = "fake", .cli_name = "fake"};
    datastore_t ds = {.name = (char *)"fake", .backend = &fake};
    store_t s = {.ops = &ops, .backend = &fake, .ds = &ds};
    xfer_opts_t o = {.overwrite = 1, .label = "t"};
    xfer_result_t r = {0};
    ferr_t err = FERR_INIT;
    int rc = xfer_download_prefix(&s, "", 0, target, &o, &r, &err);
    OK(rc != 0 && err.code == FERR_TRANSFER, "a listing with hostile names fails the transfer");
    OK(r.files == 1, "the one good file arrives (got %llu)", (unsigned long long)r.files);
    OK(r.failed == 6, "the six hostile names fail (got %llu)", (unsigned long long)r.failed);
    char *ok = path_join(target, "good/ok.txt");
    struct stat st;
    OK(stat(ok, &st) == 0 && st.st_size == 5, "good/ok.txt is there, whole");
    OK(count_entries(top) == 1, "nothing was written beside the target's parent");
    char *deep = path_join(top, "deep");
    OK(count_entries(deep) == 1, "nothing was written beside the target");
    OK(count_entries(target) == 1, "the target holds only good/");
    OK(access("/abs.txt", F_OK) != 0, "nothing was written at /abs.txt");
    ferr_clear(&err);
    xfer_result_free(&r);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", top);
    if (system(cmd) != 0)
        return 1;
    free(ok);
    free(deep);
    free(target);
    TAP_DONE();
}
