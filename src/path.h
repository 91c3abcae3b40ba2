/* Local paths: joining, creating folders, atomic writes, and the one check
 * that decides whether a remote name may become a local path. */
#ifndef FERRY_PATH_H
#define FERRY_PATH_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "error.h"

/* malloc'd "a/b" with exactly one slash between; b may be empty. */
char *path_join(const char *a, const char *b);
/* Absolute form of p relative to base (or cwd when base is NULL), with
 * "." and ".." segments removed lexically. */
char *path_absolute(const char *p, const char *base);
/* Parent folder of p, malloc'd. */
char *path_dirname(const char *p);
/* mkdir -p with mode; existing folders are fine. */
int path_mkdirs(const char *dir, int mode, ferr_t *err);
/* Creates dest/rel_dir one component at a time, refusing any component of
 * rel_dir that exists as a symlink or a file: nothing is written outside dest.
 * *made (if given): 1 when this call made rel_dir itself, so it is empty. */
int path_mkdirs_under(const char *dest, const char *rel_dir, int *made, ferr_t *err);
/* path lies inside base (a folder, which may itself be reached through a
 * symlink) and no component of it below base is a symlink: what is written
 * or read there stays inside base. A missing component is fine (nothing to
 * follow). Checked with openat and O_NOFOLLOW, one component at a time. */
int path_check_under(const char *base, const char *path, ferr_t *err);
/* Is name a safe relative name (no "..", no leading "/", no "\\", no NUL,
 * no empty or "." segment, no control characters, valid UTF-8)? *why gets
 * a reason. */
int path_name_safe(const char *name, const char **why);
/* Bytes in the valid UTF-8 character at s; 0 at its end or where the
 * bytes are not UTF-8. */
size_t path_utf8_char(const char *s);
/* Normalises a datastore path: strips leading/trailing slashes and "./",
 * refuses "..". Returns malloc'd string or NULL with *why set. */
char *path_remote_normalize(const char *p, const char **why);
/* Writes data to path via a temporary file and rename; mode for new file. */
int path_write_atomic(const char *path, const void *data, size_t len, int mode, ferr_t *err);
/* Reads a whole small file, malloc'd and NUL-terminated. */
int path_read_all(const char *path, char **out, size_t *len, ferr_t *err);
/* pread of exactly n bytes at off (retrying short reads); -1 with errno. */
int path_pread_full(int fd, void *buf, size_t n, uint64_t off);
/* The digest of a whole file (md: EVP_md5(), EVP_sha256()...) into out,
 * at least EVP_MAX_MD_SIZE bytes; its length in *len. A read error is an
 * error, never the digest of part of the file. */
int path_digest(const char *path, const EVP_MD *md, unsigned char *out, unsigned int *len,
                ferr_t *err);
/* Copies len bytes of in at off to out at out_off: a reflink when it is the
 * whole file and the filesystem can, else copy_file_range, else read and
 * write (across filesystems, or where copy_file_range is refused). -1 with
 * errno. on_bytes (may be NULL) hears of the bytes as they are copied. */
int path_copy_range(int in, uint64_t off, int out, uint64_t out_off, uint64_t len,
                    void (*on_bytes)(void *ud, uint64_t n), void *ud);
/* "size:mtime" of a file: what a record kept beside it (an xattr) was true
 * of; a file that no longer has this stamp has changed since. */
struct stat;
void path_stamp(const struct stat *st, char *buf, size_t n);
/* A temporary name beside path: "<dir>/.<base>.ferry-<pid>-<n>.part". */
char *path_temp_beside(const char *path);
/* A file to be written whole, then given the name final, never seen
 * half-written under it: a nameless file in final's folder (O_TMPFILE; a
 * killed writer leaves nothing), or, where the filesystem has none, a
 * temporary name beside it (*tmp, malloc'd; else NULL). fd, or -1 (errno). */
int path_tmp_open(const char *final, char **tmp);
/* The file is whole: it takes the name final (what is there is replaced;
 * a new name costs one change to the folder) and fd is closed. 0, or -1
 * with errno (a folder in the way: EISDIR); the temporary is removed
 * either way. */
int path_tmp_place(int fd, const char *tmp, const char *final);

#endif
