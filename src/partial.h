/* A large download in progress, kept so that the next ferry can finish it.
 *
 * A download big enough to move in blocks is written to
 * "<dir>/.<name>.ferry-partial", never under its final name. The process
 * writing it holds an flock on it; a record on the file (an xattr) names
 * the object it holds (ETag, size, block size) and how many leading blocks
 * are on disk for certain (recorded only after fdatasync). When ferry is
 * killed (SIGKILL, power loss) or gives up on a network that stayed down,
 * the file stays; the next download of the same object takes it over and
 * fetches only the rest. A different ETag means different content: the
 * file starts again from zero. */
#ifndef FERRY_PARTIAL_H
#define FERRY_PARTIAL_H

#include <stdint.h>

/* What a partial file holds: the object for the local path final. */
typedef struct partial_key {
    const char *final;
    const char *etag;
    uint64_t size, block;
} partial_key_t;

/* Opens, locks and sizes the partial file for k->final, taking over what
 * an earlier attempt left for the same object: *have leading blocks (at
 * most nblocks - 1, so that at least one block is fetched and the whole is
 * checked; an attempt that moved blocks of another size counts in whole
 * blocks of this one). Only a regular file of this user with one link is taken over.
 * Returns the fd, or -1 with errno: EWOULDBLOCK when another process is
 * fetching it right now. *path gets the partial's name. */
int partial_open(const partial_key_t *k, char **path, uint32_t *have);
/* The first n blocks are written: make them durable, then record them. */
int partial_save(int fd, const partial_key_t *k, uint32_t n);
/* The file is whole and checked: make it durable, drop the record and give
 * it its final name while still holding the lock, then close fd. On
 * failure the partial is removed (still locked) and errno says why. */
int partial_finish(int fd, const char *path, const char *final);
/* Gives up on a partial: removes it while still holding the lock, closes fd. */
void partial_drop(int fd, const char *path);

/* Removes what dead attempts left under dir (to depth levels): temporary
 * ".<name>.ferry-<pid>-<n>.part" files of processes that are gone, and
 * partial files nobody holds that have no valid record or are older than
 * a week (Azure drops uncommitted blocks after a week, too). */
void partial_sweep(const char *dir, int depth);
/* Is this file name one of ferry's own: a partial or a temporary? (An
 * upload never sends them.) */
int partial_is_ours(const char *base);

#endif
