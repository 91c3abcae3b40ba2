/* The store interface through its table: the backends' names, options and
 * URL forms, the capabilities the engine asks for, and the local backend's
 * operations on a real folder (symlinks and escapes refused). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "datastore.h"
#include "path.h"
#include "store.h"
#include "xalloc.h"
#include "tap.h"

typedef struct names {
    char got[512];
} names_t;

static int collect(void *ud, const store_entry_t *e)
{
    names_t *n = ud;
    size_t l = strlen(n->got);
    snprintf(n->got + l, sizeof n->got - l, "%s%s", l ? "," : "", e->name);
    return 0;
}

static const char *opts_local(void *ud, const char *name)
{
    (void)ud;
    return !strcmp(name, "account") ? "acct" : NULL;
}

static const char *opts_blob(void *ud, const char *name)
{
    (void)ud;
    if (!strcmp(name, "account"))
        return "acct";
    if (!strcmp(name, "container"))
        return "data";
    if (!strcmp(name, "account-url"))
        return "http://127.0.0.1:10000/acct";
    return NULL;
}

static void table(void)
{
    OK(store_backend_count() == 5, "five backends in the table");
    const store_backend_t *web = store_backend_find("https");
    OK(web && !store_backend_cli_name(web) && !(store_backend_caps(web) & STORE_CAP_LIST) &&
           (store_backend_caps(web) & STORE_CAP_RANGED_READS),
       "plain https: not registered by a CLI name, read in ranges, never listed");
    const store_backend_t *b = store_backend_find("azure-blob");
    OK(b && b == store_backend_find("azure_blob"), "found by CLI and YAML name alike");
    OK(!store_backend_find("s3") && !store_backend_find(NULL), "an unknown name finds none");
    OK(store_backend_folder() == store_backend_find("local"), "local folders have their backend");
    STREQ(store_backend_names(0), "local, azure_blob, azure_file or azure_data_lake_gen2",
          "the names, for messages");
    OK((store_backend_caps(b) & STORE_CAP_PARALLEL_BLOCKS) &&
           (store_backend_caps(b) & STORE_CAP_REMOTE) &&
           !(store_backend_caps(store_backend_folder()) & STORE_CAP_REMOTE),
       "capabilities: blob is remote with parallel blocks, a folder is not remote");
    OK(store_backend_takes(b, "container") && !store_backend_takes(b, "root"),
       "blob takes --container, not --root");
    OK(store_backend_option("share") && !strcmp(store_backend_option("share"), "share") &&
           !store_backend_option("bogus"),
       "the command line takes every option some backend takes, and no other");
    STREQ(store_backend_usage(b), "--account A --container C", "a backend's usage line");
    STREQ(store_backend_misused(store_backend_folder(), opts_local, NULL), "account",
          "--account misused on a local datastore is named");
    STREQ(store_backend_container_key(store_backend_find("azure_file")), "file_share_name",
          "a file share's YAML key");
    OK(store_backend_can_open(store_backend_find("azure_data_lake_gen2")) &&
           store_backend_can_open(store_backend_find("azure_file")) && store_backend_can_open(b),
       "every backend can move data");
    datastore_t *ds = datastore_new("d", b);
    ferr_t e = FERR_INIT;
    OK(store_backend_from_options(b, ds, opts_blob, NULL, &e) == 0 && !strcmp(ds->protocol, "http"),
       "blob options fill the datastore (http from the account URL)");
    OK(datastore_validate(ds, &e) == 0, "and it is valid");
    char *loc = store_location(ds);
    STREQ(loc, "http://127.0.0.1:10000/acct/data", "its location");
    free(loc);
    char *id = store_identity(ds);
    OK(id && strstr(id, "azure_blob|http://127.0.0.1:10000/acct|acct|"), "its cache identity");
    free(id);
    datastore_free(ds);
    ferr_clear(&e);
}

static void urls(void)
{
    datastore_t *a = NULL, *b = NULL;
    char *path = NULL;
    const char *why = NULL;
    OK(store_url_parse("https://acct.blob.core.windows.net/data/x/y.csv", "in", &a, &path, &why) ==
               0 &&
           a && !strcmp(path, "x/y.csv") && !strcmp(a->container, "data"),
       "a blob URL becomes an ad-hoc datastore and a path");
    free(path);
    OK(store_url_parse("wasbs://data@acct.blob.core.windows.net/z", "in2", &b, &path, &why) == 0,
       "so does wasbs://");
    OK(store_same_place(a, b), "both reach the same container");
    datastore_free(b);
    free(path);
    b = NULL;
    OK(store_url_parse("https://acct.blob.core.windows.net/other/z", "in3", &b, &path, &why) == 0 &&
           !store_same_place(a, b),
       "another container is another place");
    datastore_free(a);
    datastore_free(b);
    free(path);
    OK(store_url_parse("s3://bucket/x", "in", &a, &path, &why) == -2 && !a,
       "a form no backend owns: -2");
    OK(store_url_parse("wasbs://data@example.com/x", "in", &a, &path, &why) == -1 && why && !a,
       "a wrong URL of an owned form: -1 with the reason (%s)", why ? why : "");
    OK(store_url_parse("https://acct.file.core.windows.net/share/d/f", "in", &a, &path, &why) ==
               0 &&
           a && !strcmp(store_backend_type(a->backend), "azure_file") && !strcmp(path, "d/f"),
       "a file-share URL is the file backend's");
    free(path);
    OK(store_url_parse("https://acct.blob.core.windows.net/share/d/f", "in", &b, &path, &why) ==
               0 &&
           !store_same_place(a, b) && !store_same_place(b, a),
       "a container and a share of one name and account are two places");
    datastore_free(a);
    datastore_free(b);
    free(path);
    /* an emulator's URL says no service: a registered share at its account URL claims it */
    datastore_t *reg = datastore_new("share", store_backend_find("azure_file"));
    reg->account = xstrdup("devstoreaccount1");
    reg->container = xstrdup("share");
    reg->account_url = xstrdup("http://127.0.0.1:9999/devstoreaccount1/");
    OK(store_url_parse("http://127.0.0.1:9999/devstoreaccount1/share/a.txt", "in", &a, &path,
                       &why) == 0 &&
           store_same_place(reg, a),
       "a path-style URL reaches the file share registered at that account URL");
    free(path);
    datastore_free(a);
    OK(store_url_parse("http://127.0.0.1:9998/devstoreaccount1/share/a.txt", "in", &a, &path,
                       &why) == 0 &&
           !store_same_place(reg, a),
       "but not one at another port");
    free(path);
    datastore_free(a);
    datastore_free(reg);
    a = NULL;
}

static void local_store(void)
{
    char dir[] = "/tmp/ferry-unit-store.XXXXXX";
    if (!mkdtemp(dir))
        return;
    char cmd[256];
    snprintf(cmd, sizeof cmd,
             "cd %s && mkdir -p a/b && echo x > a/b/x && echo t > a/b.txt && echo s > a/bz && "
             "ln -s /etc/passwd a/link && mkfifo a/fifo",
             dir);
    OK(system(cmd) == 0, "a folder with files, a symlink and a fifo");
    store_t *s = NULL;
    ferr_t e = FERR_INIT;
    OK(store_open_folder(&s, "tmp", dir, &e) == 0, "a folder opens as a store");
    if (!s)
        return;
    OK(!(store_caps(s) & STORE_CAP_REMOTE) && (store_caps(s) & STORE_CAP_CLONE),
       "a local store: not remote, can clone");
    names_t n = {{0}};
    OK(store_list(s, "a/", NULL, collect, &n, &e) == 0, "it lists");
    STREQ(n.got, "a/b.txt,a/b/x,a/bz", "in byte order, files only: no symlink, no fifo");
    store_entry_t en;
    OK(store_stat(s, "a/b.txt", &en, &e) == 0 && en.size == 2 && en.etag, "stat of a file");
    OK(store_stat(s, "a/link", &en, &e) != 0 && e.code == FERR_NOTFOUND, "a symlink is not a file");
    OK(store_stat(s, "../etc/passwd", &en, &e) != 0 && e.code == FERR_UNSAFE, "'..' is refused");
    OK(strstr(e.msg, "datastore tmp") != NULL, "errors name the datastore (%s)", e.msg);
    int fd = open(dir, O_RDWR | O_TMPFILE, 0600);
    OK(fd >= 0 && write(fd, "hello", 5) == 5, "a file to write");
    store_put_t put;
    OK(store_write(s, "new/deep/h.txt", fd, 5, NULL, NULL, &put, &e) == 0,
       "written under a new folder");
    char *full = path_join(dir, "new/deep/h.txt");
    struct stat st;
    OK(stat(full, &st) == 0 && st.st_size == 5, "and it is there, whole");
    OK(store_remove(s, "new/deep/h.txt", &e) == 0 && stat(full, &st) != 0, "removed");
    OK(store_remove(s, "new/deep/h.txt", &e) == 0, "removing what is gone is not an error");
    store_upload_t up = {"x", 1, 1, ""};
    store_block_sums_t sums = {0};
    OK(store_put_block(s, &up, 0, "id", "b", 1, &sums, &e) != 0 && e.code == FERR_UNSUPPORTED,
       "an operation the backend lacks answers 'unsupported'");
    if (fd >= 0)
        close(fd);
    free(full);
    store_close(s);
    ferr_clear(&e);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        return;
}

static void errors(void)
{
    ferr_t e = FERR_INIT;
    ferr_errno(&e, FERR_IO, EACCES, "cannot read %s", "x");
    ferr_wrap(&e, "datastore %s", "d");
    OK(e.sys_errno == EACCES && e.code == FERR_IO && strstr(e.msg, "datastore d: cannot read x"),
       "an error keeps the system's errno through added context");
    ferr_set(&e, FERR_USAGE, "another");
    OK(e.sys_errno == 0, "a new error without one has none");
    ferr_clear(&e);
}

/* Azure Files' names, refused before any request; the store opens without one. */
static void file_names(void)
{
    datastore_t *ds = datastore_new("share", store_backend_find("azure_file"));
    ds->account = xstrdup("devstoreaccount1");
    ds->container = xstrdup("share");
    ds->account_url = xstrdup("http://127.0.0.1:9/devstoreaccount1");
    ferr_t e = FERR_INIT;
    store_t *s = NULL;
    OK(store_open(&s, ds, &e) == 0 && s, "a file share opens (no request yet)");
    if (!s) {
        datastore_free(ds);
        ferr_clear(&e);
        return;
    }
    OK((store_caps(s) & STORE_CAP_FOLD_CASE) && (store_caps(s) & STORE_CAP_HNS),
       "a share folds case and has folders");
    OK(!store_name_problem(s, "a/b c/ü ñ#%+&;=.txt"),
       "spaces, unicode and URL characters are fine");
    static const char *const bad[] = {"a/what?.txt", "q\"uote", "c:d",    "p|ipe",
                                      "a<b",         "a>b",     "st*r",   "back\\slash",
                                      "ctl\x01",     "dir./x",  "trail ", "trail."};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        OK(store_name_problem(s, bad[i]) != NULL, "refused: %s", bad[i]);
    char longpart[300];
    memset(longpart, 'x', sizeof longpart - 1);
    longpart[sizeof longpart - 1] = 0;
    OK(store_name_problem(s, longpart) != NULL, "a part over 255 characters is refused");
    store_t *local = NULL;
    if (store_open_folder(&local, "here", "/tmp", &e) == 0) {
        OK(!store_name_problem(local, "what?.txt") && !(store_caps(local) & STORE_CAP_FOLD_CASE),
           "a local folder has no such rule");
        store_close(local);
    }
    store_close(s);
    datastore_free(ds);
    ferr_clear(&e);
}

int main(void)
{
    file_names();
    errors();
    table();
    urls();
    local_store();
    TAP_DONE();
}
