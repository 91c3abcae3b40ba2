/* Names that may and may not become local paths. */
#include <stdlib.h>

#include "path.h"
#include "tap.h"

int main(void)
{
    const char *why;
    static const char *good[] = {
        "a", "a/b/c.txt", "with space/ü.txt", "a#b%c+d?e&f", "..a/b..", ".hidden", NULL};
    for (const char **g = good; *g; g++)
        OK(path_name_safe(*g, &why), "safe: '%s'", *g);
    static const char *bad[] = {"../x", "a/../../x", "/etc/passwd", "a\\b", "a//b", "./a", "a/./b",
                                "..",   "",          "a/\x01",      "a/..", NULL};
    for (const char **b = bad; *b; b++)
        OK(!path_name_safe(*b, &why) && why, "refused: '%s' (%s)", *b, why ? why : "");

    char *n = path_remote_normalize("/a//b/./c/", &why);
    STREQ(n, "a/b/c", "remote paths lose extra slashes and dots");
    free(n);
    n = path_remote_normalize("a/../b", &why);
    OK(n == NULL && why, "remote paths with .. are refused");
    n = path_remote_normalize("", &why);
    STREQ(n, "", "the empty remote path is the root");
    free(n);

    char *a = path_absolute("x/../y/./z", "/base");
    STREQ(a, "/base/y/z", "path_absolute cleans lexically");
    free(a);
    a = path_absolute("../../..", "/a");
    STREQ(a, "/", "path_absolute stops at /");
    free(a);
    char *j = path_join("/a/", "/b");
    STREQ(j, "/a/b", "path_join puts one slash");
    free(j);
    char *d = path_dirname("/a/b/c");
    STREQ(d, "/a/b", "dirname");
    free(d);
    TAP_DONE();
}
