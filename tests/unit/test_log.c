/* The redactor every log line passes through. */
#include <stdlib.h>

#include "error.h"
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
    /* errors are made clean: they also reach run manifests, where no log line guards them */
    ferr_t e = FERR_INIT;
    ferr_set(&e, FERR_TRANSFER, "GET %s failed", "http://h/c/x?sv=1&sig=secretsig&se=2");
    STREQ(e.msg, "GET http://h/c/x?sv=1&sig=REDACTED&se=2 failed",
          "an error message hides a SAS signature");
    ferr_wrap(&e, "with key %s", "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsu");
    OK(e.msg && !strstr(e.msg, "Eby8vd"),
       "and a registered secret, also in context added later: %s", e.msg ? e.msg : "(null)");
    ferr_clear(&e);
    TAP_DONE();
}
