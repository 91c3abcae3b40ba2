/* ${{...}} and $AZUREML_DATAREFERENCE_ substitution. */
#include <stdlib.h>

#include "job.h"
#include "tap.h"

static const char *lookup(void *ud, const char *ref)
{
    (void)ud;
    if (!strcmp(ref, "inputs.data"))
        return "/in/data";
    if (!strcmp(ref, "inputs.my-data"))
        return "/in/my data";
    if (!strcmp(ref, "outputs.model"))
        return "/out/model";
    if (!strcmp(ref, "run.id"))
        return "r1";
    if (!strcmp(ref, "a") || !strcmp(ref, "ab"))
        return ref[1] ? "AB" : "A";
    return NULL;
}

static char *sub(const char *t, char **bad)
{
    char *out = NULL;
    *bad = NULL;
    job_subst(t, lookup, NULL, &out, bad);
    return out;
}

static const struct {
    const char *in, *want, *name;
} cases[] = {
    {"python t.py --data ${{inputs.data}} --out ${{outputs.model}}",
     "python t.py --data /in/data --out /out/model", "plain references"},
    {"${{ inputs.data }}/x ${{  run.id}}", "/in/data/x r1", "inner spaces"},
    {"${{inputs.my-data}}", "/in/my data", "hyphenated names"},
    {"${{inputs.data}}${{inputs.data}}", "/in/data/in/data", "adjacent references"},
    {"no refs, $HOME and ${PATH} and {{x}} stay", "no refs, $HOME and ${PATH} and {{x}} stay",
     "other dollar forms are untouched"},
};

int main(void)
{
    char *bad, *o;
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        o = sub(cases[i].in, &bad);
        STREQ(o, cases[i].want, "%s", cases[i].name);
        free(o);
    }
    o = sub("x ${{inputs.nope}} y", &bad);
    OK(o == NULL && bad && !strcmp(bad, "inputs.nope"), "unknown reference reported: %s",
       bad ? bad : "(null)");
    free(bad);
    o = sub("x ${{inputs.data", &bad);
    OK(o == NULL && bad == NULL, "unterminated reference is an error with no name");
    o = sub("", &bad);
    STREQ(o, "", "empty text");
    free(o);

    o = NULL;
    job_subst_datarefs("--a $AZUREML_DATAREFERENCE_ab/x --b ${AZUREML_DATAREFERENCE_a}", lookup,
                       NULL, &o, &bad);
    STREQ(o, "--a AB/x --b A", "data references: longest key and braces");
    free(o);
    o = NULL;
    OK(job_subst_datarefs("$AZUREML_DATAREFERENCE_zz", lookup, NULL, &o, &bad) != 0 && bad &&
           !strcmp(bad, "zz"),
       "unknown data reference reported");
    free(bad);
    TAP_DONE();
}
