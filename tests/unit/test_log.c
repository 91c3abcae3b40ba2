/* The redactor every log line passes through. */
#include <stdlib.h>

#include "log.h"
#include "tap.h"

int main(void)
{
    log_add_secret("Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsu");
    char *r = log_redact("key=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsu end");
    STREQ(r, "key=*** end", "a registered secret is masked");
    free(r);
    r = log_redact("GET https://a.blob.core.windows.net/c/x?sv=2021&sig=abc%2Bdef&se=1 200");
    STREQ(r, "GET https://a.blob.core.windows.net/c/x?sv=2021&sig=REDACTED&se=1 200",
          "a SAS signature is masked");
    free(r);
    r = log_redact("?sig=x");
    STREQ(r, "?sig=REDACTED", "a signature at the end");
    free(r);
    r = log_redact("design=ok");
    STREQ(r, "design=ok", "a word ending in sig= is not a signature");
    free(r);
    log_add_secret("abc");
    r = log_redact("abc abc");
    STREQ(r, "abc abc", "too-short values are not treated as secrets");
    free(r);
    TAP_DONE();
}
