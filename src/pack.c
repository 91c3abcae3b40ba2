/* An output folder packed into one archive object (tar.gz, tar.zst, zip),
 * uploaded while it is packed: libarchive's output goes into 8 MiB blocks,
 * each put as it fills, where the store takes blocks before it knows the
 * size (STORE_CAP_OPEN_SIZE); where it must know the size first (a file
 * share, ADLS), after a pass that only counts the bytes, then the same
 * bytes again into blocks (the two must agree); a store without blocks
 * (a local folder) gets a nameless local file, written at the end. A
 * _ferry_manifest.json entry, last, lists every file. */
#define _GNU_SOURCE
#include "digest.h"
#include "pack.h"

#include <archive.h>
#include <archive_entry.h>
#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base64.h"
#include "log.h"
#include "path.h"
#include "xalloc.h"

#define BLOCK (8u << 20)
#define MAX_DEPTH 256
#define MAX_BLOCKS 50000

typedef struct sink {
    store_t *s;
    store_upload_t u;
    int stream; /* blocks as they fill; else tmp_fd */
    int tmp_fd;
    unsigned char *buf;
    size_t len;
    uint32_t nblocks;
    store_block_id_t *ids;
    uint64_t total;
    EVP_MD_CTX *md5; /* of the whole object */
    int count_only;  /* a pass that only counts (and hashes) the bytes */
    ferr_t *err;
} sink_t;

static int flush_block(sink_t *k)
{
    if (!k->len)
        return 0;
    if (k->nblocks >= MAX_BLOCKS)
        return ferr_set(k->err, FERR_IO, "%s: the archive passes %u blocks of 8 MiB", k->u.name,
                        MAX_BLOCKS);
    store_block_sums_t sums = {0};
    digest_of(DIGEST_CRC64, k->buf, k->len, sums.crc64);
    store_block_id(k->ids[k->nblocks], k->nblocks, sums.crc64);
    if (store_put_block(k->s, &k->u, k->nblocks, k->ids[k->nblocks], k->buf, k->len, &sums, k->err))
        return -1;
    k->nblocks++;
    k->len = 0;
    return 0;
}

static la_ssize_t sink_write(struct archive *a, void *ud, const void *data, size_t n)
{
    sink_t *k = ud;
    EVP_DigestUpdate(k->md5, data, n);
    k->total += n;
    if (k->count_only)
        return (la_ssize_t)n;
    if (!k->stream) {
        if (write(k->tmp_fd, data, n) != (ssize_t)n) {
            archive_set_error(a, errno, "cannot write the archive's local copy");
            return -1;
        }
        return (la_ssize_t)n;
    }
    for (size_t done = 0; done < n;) {
        size_t take = BLOCK - k->len < n - done ? BLOCK - k->len : n - done;
        memcpy(k->buf + k->len, (const char *)data + done, take);
        k->len += take;
        done += take;
        if (k->len == BLOCK && flush_block(k)) {
            archive_set_error(a, EIO, "%s", k->err->msg ? k->err->msg : "upload failed");
            return -1;
        }
    }
    return (la_ssize_t)n;
}

/* --- the folder's files into the archive --- */

typedef struct walk {
    struct archive *a;
    cJSON *files;
    uint64_t nfiles, bytes;
    const char *label;
    ferr_t *err;
    time_t stamp; /* the manifest entry's time */
} walk_t;

static int add_file(walk_t *w, int dfd, const char *name, const char *rel, const struct stat *st)
{
    int fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return ferr_errno(w->err, FERR_IO, errno, "%s: cannot read %s", w->label, rel);
    struct archive_entry *e = archive_entry_new();
    archive_entry_set_pathname(e, rel);
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, st->st_mode & 0777);
    archive_entry_set_size(e, st->st_size);
    archive_entry_set_mtime(e, st->st_mtim.tv_sec, st->st_mtim.tv_nsec);
    int rc =
        archive_write_header(w->a, e) == ARCHIVE_OK
            ? 0
            : ferr_set(w->err, FERR_IO, "%s: %s: %s", w->label, rel, archive_error_string(w->a));
    EVP_MD_CTX *sha = EVP_MD_CTX_new();
    EVP_DigestInit_ex(sha, EVP_sha256(), NULL);
    static __thread char buf[1 << 20];
    uint64_t left = (uint64_t)st->st_size;
    while (rc == 0 && left) {
        ssize_t n = read(fd, buf, left < sizeof buf ? (size_t)left : sizeof buf);
        if (n <= 0) {
            rc = ferr_errno(w->err, FERR_IO, n ? errno : EIO, "%s: reading %s (did it change?)",
                            w->label, rel);
            break;
        }
        EVP_DigestUpdate(sha, buf, (size_t)n);
        if (archive_write_data(w->a, buf, (size_t)n) != n)
            rc = ferr_set(w->err, FERR_IO, "%s: %s: %s", w->label, rel, archive_error_string(w->a));
        left -= (uint64_t)n;
    }
    unsigned char md[32];
    unsigned int ml = 0;
    EVP_DigestFinal_ex(sha, md, &ml);
    EVP_MD_CTX_free(sha);
    archive_entry_free(e);
    close(fd);
    if (rc == 0) {
        char hex[65];
        hex_encode(md, 32, hex);
        cJSON *f = cJSON_CreateObject();
        cJSON_AddStringToObject(f, "path", rel);
        cJSON_AddNumberToObject(f, "size", (double)st->st_size);
        cJSON_AddStringToObject(f, "sha256", hex);
        cJSON_AddItemToArray(w->files, f);
        w->nfiles++;
        w->bytes += (uint64_t)st->st_size;
    }
    return rc;
}

/* A folder's own entry: an empty one is carried too, and its mode. */
static int add_dir_entry(walk_t *w, const char *rel, const struct stat *st)
{
    struct archive_entry *e = archive_entry_new();
    char *name = xasprintf("%s/", rel);
    archive_entry_set_pathname(e, name);
    archive_entry_set_filetype(e, AE_IFDIR);
    archive_entry_set_perm(e, st->st_mode & 0777);
    archive_entry_set_mtime(e, st->st_mtim.tv_sec, st->st_mtim.tv_nsec);
    int rc =
        archive_write_header(w->a, e) == ARCHIVE_OK
            ? 0
            : ferr_set(w->err, FERR_IO, "%s: %s: %s", w->label, rel, archive_error_string(w->a));
    archive_entry_free(e);
    free(name);
    return rc;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every file below folder dfd, in name order (so the same folder makes the
 * same archive); symlinks are left out, as an upload leaves them. */
static int add_folder(walk_t *w, int dfd, const char *prefix, int depth)
{
    DIR *d = fdopendir(dfd);
    if (!d) {
        close(dfd);
        return ferr_errno(w->err, FERR_IO, errno, "%s: cannot read %s", w->label, prefix);
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") &&
            (depth || strcmp(e->d_name, "_ferry_manifest.json"))) {
            if (n == cap)
                names = xrealloc(names, (cap = cap ? cap * 2 : 64) * sizeof *names);
            names[n++] = xstrdup(e->d_name);
        }
    if (n)
        qsort(names, n, sizeof *names, by_name);
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        char *rel = *prefix ? xasprintf("%s/%s", prefix, names[i]) : xstrdup(names[i]);
        struct stat st;
        if (rc == 0 && fstatat(dirfd(d), names[i], &st, AT_SYMLINK_NOFOLLOW) == 0) {
            if (S_ISREG(st.st_mode)) {
                rc = add_file(w, dirfd(d), names[i], rel, &st);
            } else if (S_ISDIR(st.st_mode) && depth < MAX_DEPTH) {
                rc = add_dir_entry(w, rel, &st);
                int sub = rc ? -1
                             : openat(dirfd(d), names[i],
                                      O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (rc == 0)
                    rc = sub < 0 ? ferr_errno(w->err, FERR_IO, errno, "%s: %s", w->label, rel)
                                 : add_folder(w, sub, rel, depth + 1);
            } else if (S_ISLNK(st.st_mode)) {
                log_warn("%s: %s is a symlink: not packed", w->label, rel);
            }
        }
        free(rel);
        free(names[i]);
    }
    free(names);
    closedir(d);
    return rc;
}

static int add_manifest(walk_t *w)
{
    cJSON *m = cJSON_CreateObject();
    cJSON_AddNumberToObject(m, "file_count", (double)w->nfiles);
    cJSON_AddNumberToObject(m, "bytes", (double)w->bytes);
    cJSON_AddItemToObject(m, "files", w->files);
    w->files = NULL;
    char *text = cJSON_Print(m);
    cJSON_Delete(m);
    size_t len = text ? strlen(text) : 0;
    struct archive_entry *e = archive_entry_new();
    archive_entry_set_pathname(e, "_ferry_manifest.json");
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0644);
    archive_entry_set_size(e, (la_int64_t)len);
    archive_entry_set_mtime(e, w->stamp, 0);
    int rc = text && archive_write_header(w->a, e) == ARCHIVE_OK &&
                     archive_write_data(w->a, text, len) == (la_ssize_t)len
                 ? 0
                 : ferr_set(w->err, FERR_IO, "%s: the archive's manifest: %s", w->label,
                            archive_error_string(w->a));
    archive_entry_free(e);
    free(text);
    return rc;
}

const char *pack_extension(const char *format)
{
    static const char *known[] = {"tar.gz", "tar.zst", "zip", NULL};
    for (int i = 0; known[i]; i++)
        if (format && !strcmp(format, known[i]))
            return known[i];
    return NULL;
}

static struct archive *new_writer(const char *format)
{
    struct archive *a = archive_write_new();
    if (!strcmp(format, "zip")) {
        archive_write_set_format_zip(a);
    } else {
        archive_write_set_format_pax_restricted(a);
        if (!strcmp(format, "tar.gz")) {
            archive_write_add_filter_gzip(a);
            archive_write_set_filter_option(a, "gzip", "timestamp", NULL); /* reproducible */
        } else
            archive_write_add_filter_zstd(a);
    }
    archive_write_set_bytes_in_last_block(a, 1);
    return a;
}

static int no_held(void *ud, long index, const char *id, size_t len, int committed)
{
    (void)ud, (void)index, (void)id, (void)len, (void)committed;
    return 0;
}

/* The object whole: its blocks committed, or the local copy written. */
static int finish(sink_t *k, const char *md5, store_put_t *put)
{
    if (k->stream)
        return flush_block(k)
                   ? -1
                   : store_commit_blocks(k->s, &k->u, k->ids, k->nblocks, md5, put, k->err);
    return store_write(k->s, k->u.name, k->tmp_fd, k->total, NULL, NULL, put, k->err);
}

/* One pass: the folder packed into k; w's counts filled. stamp: the
 * manifest entry's time (the same in both passes of a two-pass pack). */
static int pack_pass(sink_t *k, const char *src_dir, const char *format, const char *label,
                     time_t stamp, walk_t *w, ferr_t *err)
{
    struct archive *a = new_writer(format);
    *w = (walk_t){.a = a, .files = cJSON_CreateArray(), .label = label, .err = err, .stamp = stamp};
    int rc = archive_write_open(a, k, NULL, sink_write, NULL) == ARCHIVE_OK
                 ? 0
                 : ferr_set(err, FERR_IO, "%s: %s", label, archive_error_string(a));
    int dfd = rc == 0 ? open(src_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
    if (rc == 0)
        rc = dfd < 0 ? ferr_errno(err, FERR_IO, errno, "%s: cannot read %s", label, src_dir)
                     : add_folder(w, dfd, "", 0);
    if (rc == 0)
        rc = add_manifest(w);
    if (archive_write_close(a) != ARCHIVE_OK && rc == 0)
        rc = err->msg ? -1 : ferr_set(err, FERR_IO, "%s: %s", label, archive_error_string(a));
    archive_write_free(a);
    cJSON_Delete(w->files);
    w->files = NULL;
    return rc;
}

static char *md5_final(EVP_MD_CTX *c)
{
    unsigned char md[16];
    unsigned int ml = 0;
    EVP_DigestFinal_ex(c, md, &ml);
    EVP_MD_CTX_free(c);
    return base64_encode(md, 16);
}

int pack_upload(store_t *s, const char *src_dir, const char *name, const char *format,
                const char *label, xfer_result_t *res, ferr_t *err)
{
    sink_t k = {.s = s, .u = {.name = name, .block = BLOCK}, .tmp_fd = -1, .err = err};
    unsigned caps = store_caps(s);
    k.stream = (caps & STORE_CAP_PARALLEL_BLOCKS) != 0;
    time_t stamp = time(NULL);
    walk_t w;
    int rc = 0;
    char *dry_md5 = NULL;
    if (k.stream && !(caps & STORE_CAP_OPEN_SIZE)) {
        /* a store that sizes the object first (a file share, ADLS): a pass that
         * only counts, then the same bytes again into blocks */
        sink_t dry = {.count_only = 1, .err = err, .md5 = EVP_MD_CTX_new()};
        EVP_DigestInit_ex(dry.md5, EVP_md5(), NULL);
        rc = pack_pass(&dry, src_dir, format, label, stamp, &w, err);
        dry_md5 = md5_final(dry.md5);
        k.u.size = dry.total;
    }
    k.md5 = EVP_MD_CTX_new();
    EVP_DigestInit_ex(k.md5, EVP_md5(), NULL);
    if (rc == 0 && k.stream) {
        k.buf = xmalloc(BLOCK);
        k.ids = xcalloc(MAX_BLOCKS, sizeof *k.ids);
        rc = store_upload_begin(s, &k.u, no_held, NULL, err);
    } else if (rc == 0) {
        char *dir = path_dirname(src_dir);
        k.tmp_fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
        if (k.tmp_fd < 0)
            rc = ferr_errno(err, FERR_IO, errno, "cannot make a file in %s for the archive", dir);
        free(dir);
    }
    if (rc == 0)
        rc = pack_pass(&k, src_dir, format, label, stamp, &w, err);
    char *b64 = md5_final(k.md5);
    if (rc == 0 && dry_md5 && (k.total != k.u.size || strcmp(dry_md5, b64)))
        rc = ferr_set(err, FERR_TRANSFER,
                      "%s: the folder changed while it was packed (two passes gave different "
                      "archives); nothing was committed",
                      label);
    store_put_t put = {0};
    if (rc == 0)
        rc = finish(&k, b64, &put);
    if (rc == 0) {
        xfer_item_t *it = xfer_result_add(res, NULL, name, k.total); /* (no one local file) */
        if (it) {
            it->status = XFER_DONE;
            it->md5 = xstrdup(b64);
            it->etag = *put.etag ? xstrdup(put.etag) : NULL;
        }
        res->files++;
        res->bytes += k.total;
        log_info("%s: packed %llu files (%llu bytes) into %s, %llu bytes", label,
                 (unsigned long long)w.nfiles, (unsigned long long)w.bytes, name,
                 (unsigned long long)k.total);
    }
    free(b64);
    free(dry_md5);
    if (k.tmp_fd >= 0)
        close(k.tmp_fd);
    free(k.buf);
    free(k.ids);
    return rc;
}
