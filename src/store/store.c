/* The store interface's wrappers: the one place that calls a backend's
 * operations. An error gets the datastore's name in front; an optional
 * operation a backend lacks answers FERR_UNSUPPORTED. */
#include <stdio.h>

#include "store/backend.h"

int store_open(store_t **out, const datastore_t *ds, ferr_t *err)
{
    *out = NULL;
    if (!ds->backend->open)
        return ferr_set(err, FERR_UNSUPPORTED,
                        "datastore %s is of type %s, which cannot move data yet (this version of "
                        "ferry moves data on local and azure_blob datastores)",
                        ds->name, ds->backend->type);
    if (ds->backend->open(out, ds, err))
        return -1;
    (*out)->backend = ds->backend;
    return 0;
}

void store_close(store_t *s)
{
    if (s)
        s->ops->close(s);
}

unsigned store_caps(const store_t *s)
{
    return s->backend->caps;
}

const datastore_t *store_datastore(const store_t *s)
{
    return s->ds;
}

static int unsupported(const store_t *s, const char *what, ferr_t *err)
{
    return ferr_set(err, FERR_UNSUPPORTED, "datastore %s (%s) cannot %s", s->ds->name,
                    s->backend->type, what);
}

/* An error from the backend, with the datastore's name in front. */
static int named(const store_t *s, int rc, ferr_t *err)
{
    if (rc && err->code != FERR_NOTFOUND)
        ferr_wrap(err, "datastore %s", s->ds->name);
    return rc;
}

int store_clone(store_t *s, store_t **out, ferr_t *err)
{
    *out = NULL;
    if (!s->ops->clone)
        return unsupported(s, "open a second connection", err);
    if (named(s, s->ops->clone(s, out, err), err))
        return -1;
    (*out)->backend = s->backend;
    return 0;
}

int store_list(store_t *s, const char *prefix, const char *delim, store_list_fn fn, void *ud,
               ferr_t *err)
{
    int rc = s->ops->list(s, prefix, delim, 0, fn, ud, err);
    return rc < 0 ? named(s, rc, err) : rc;
}

int store_walk(store_t *s, const char *prefix, unsigned flags, store_list_fn fn, void *ud,
               ferr_t *err)
{
    if (!(s->backend->caps & STORE_CAP_HNS))
        flags &= ~(unsigned)STORE_LIST_DIRS;
    int rc = s->ops->list(s, prefix, NULL, flags, fn, ud, err);
    return rc < 0 ? named(s, rc, err) : rc;
}

int store_mkdir(store_t *s, const char *name, ferr_t *err)
{
    if (!s->ops->mkdir)
        return unsupported(s, "make folders", err);
    return named(s, s->ops->mkdir(s, name, err), err);
}

const char *store_name_problem(const store_t *s, const char *name)
{
    return s->ops->name_problem ? s->ops->name_problem(s, name) : NULL;
}

int store_stat(store_t *s, const char *name, store_entry_t *e, ferr_t *err)
{
    return named(s, s->ops->stat(s, name, e, err), err);
}

int store_read_ex(store_t *s, const store_read_t *r, ferr_t *err)
{
    if ((r->md5 || r->keep || r->segs) && !(s->backend->caps & STORE_CAP_RANGED_READS))
        return ferr_set(err, FERR_INTERNAL, "%s: reads with a digest are not offered here",
                        s->ds ? s->ds->name : "store");
    if (r->segs && (r->md5 || r->range_md5 || !r->seg))
        return ferr_set(err, FERR_INTERNAL, "a read asks for one digest or segments, not both");
    if (r->range_md5 &&
        (!r->md5 || r->len > STORE_RANGE_MD5_MAX || !(s->backend->caps & STORE_CAP_RANGE_MD5)))
        return ferr_set(err, FERR_INTERNAL, "%s: no MD5 of a range of %llu bytes is offered here",
                        s->ds ? s->ds->name : "store", (unsigned long long)r->len);
    return named(s, s->ops->read(s, r, err), err);
}

int store_read(store_t *s, const char *name, const char *etag, uint64_t off, uint64_t len, int fd,
               uint64_t fd_off, store_bytes_fn on_bytes, void *ud, ferr_t *err)
{
    store_read_t r = {.name = name,
                      .etag = etag,
                      .off = off,
                      .len = len,
                      .fd = fd,
                      .fd_off = fd_off,
                      .on_bytes = on_bytes,
                      .ud = ud};
    return store_read_ex(s, &r, err);
}

int store_digests(store_t *s, const char *name, const char *etag, uint64_t size,
                  store_digest_t **out, uint32_t *n, ferr_t *err)
{
    *out = NULL;
    *n = 0;
    if (!s->ops->digests)
        return 0;
    return named(s, s->ops->digests(s, name, etag, size, out, n, err), err);
}

int store_write(store_t *s, const char *name, int fd, uint64_t size, store_bytes_fn on_bytes,
                void *ud, store_put_t *put, ferr_t *err)
{
    return named(s, s->ops->write(s, name, fd, size, on_bytes, ud, put, err), err);
}

int store_remove(store_t *s, const char *name, ferr_t *err)
{
    return named(s, s->ops->remove(s, name, err), err);
}

int store_upload_begin(store_t *s, const store_upload_t *u, store_held_fn held, void *ud,
                       ferr_t *err)
{
    if (!s->ops->put_block)
        return unsupported(s, "stage blocks", err);
    return s->ops->upload_begin ? named(s, s->ops->upload_begin(s, u, held, ud, err), err) : 0;
}

int store_put_block(store_t *s, const store_upload_t *u, uint32_t index, const char *id,
                    const void *buf, size_t len, const store_block_sums_t *sums, ferr_t *err)
{
    if (!s->ops->put_block)
        return unsupported(s, "stage blocks", err);
    return named(s, s->ops->put_block(s, u, index, id, buf, len, sums, err), err);
}

int store_commit_blocks(store_t *s, const store_upload_t *u, const store_block_id_t *ids,
                        uint32_t n, const char *md5, store_put_t *put, ferr_t *err)
{
    if (!s->ops->commit_blocks)
        return unsupported(s, "commit blocks", err);
    return named(s, s->ops->commit_blocks(s, u, ids, n, md5, put, err), err);
}

int store_check(store_t *s, int create, ferr_t *err)
{
    if (!s->ops->check)
        return unsupported(s, "check its access", err);
    return s->ops->check(s, create, err);
}

void store_block_id(store_block_id_t out, uint32_t index, const digest_t crc)
{
    char hex[2 * DIGEST_MAX + 1];
    snprintf(out, STORE_BLOCK_ID_LEN + 1, "ferry-%05u-%s", index % 100000,
             digest_hex(DIGEST_CRC64, crc, hex));
}
