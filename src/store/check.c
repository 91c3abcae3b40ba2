/* The --check-md5 policy (azcopy's names): what a read does with the MD5
 * the store keeps for an object. */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"
#include "store.h"

static check_md5_t policy = CHECK_FAIL_IF_DIFFERENT;
static const char *const names[] = {"FailIfDifferent", "FailIfDifferentOrMissing", "LogOnly",
                                    "NoCheck"};

void store_set_check_md5(check_md5_t c)
{
    policy = c;
}

check_md5_t store_check_md5(void)
{
    return policy;
}

const char *store_check_md5_name(check_md5_t c)
{
    return names[c];
}

int store_check_md5_parse(const char *s, check_md5_t *out)
{
    for (int i = 0; s && i < 4; i++)
        if (!strcasecmp(s, names[i])) {
            *out = (check_md5_t)i;
            return 0;
        }
    return -1;
}

int store_md5_verdict(const char *name, const char *noun, const char *want, const char *got,
                      ferr_t *err)
{
    return store_digest_verdict(name, noun, "MD5", want, got, err);
}

int store_digest_verdict(const char *name, const char *noun, const char *digest, const char *want,
                         const char *got, ferr_t *err)
{
    if (policy == CHECK_NONE)
        return 0;
    if (!want || !*want) {
        if (policy == CHECK_FAIL_IF_DIFFERENT_OR_MISSING)
            return ferr_set(err, FERR_TRANSFER,
                            "%s: the %s has no %s to check it by, and --check-md5 is "
                            "FailIfDifferentOrMissing; the file was not kept",
                            name, noun, digest);
        return 0;
    }
    if (!got || !strcmp(want, got))
        return 0;
    if (policy == CHECK_LOG_ONLY) {
        log_warn("%s: content does not match the %s's %s (%s, got %s); kept, as --check-md5 "
                 "is LogOnly",
                 name, noun, digest, want, got);
        return 0;
    }
    return ferr_set(err, FERR_TRANSFER,
                    "%s: content does not match the %s's %s (%s, got %s); the file was not kept",
                    name, noun, digest, want, got);
}
