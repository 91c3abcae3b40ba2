# The code's shape, as issue 10 set it: backends live in src/store/ and
# nothing outside it names one; the store's files link without a cycle; no
# source file grows past about 700 lines; every C file is formatted as
# .clang-format says.
. "$(dirname "$0")/../lib.sh"
cd "$TOP"
names=$(grep -rnE '"(local|azure_blob|azure-blob|azure_file|azure-file|azure_data_lake_gen2|azure-data-lake-gen2)"|\bDS_[A-Z]' \
    src --include='*.c' --include='*.h' | grep -v '^src/store/')
expect_eq "$names" "" "no code outside src/store/ names a backend"
caps=$(grep -rn 'store_backend_find("' src --include='*.c' --include='*.h' | grep -v '^src/store/')
expect_eq "$caps" "" "nor looks one up by a literal name"
long=$(wc -l src/*.[ch] src/*/*.[ch] src/*/*/*.[ch] | awk '$2 != "total" && $1 > 720 {print $2 " " $1}')
expect_eq "$long" "" "no source file over about 700 lines"
cycle=$(/usr/bin/python3 - build/obj/store <<'PY'
import subprocess, sys, glob, os
objs = sorted(glob.glob(os.path.join(sys.argv[1], '**', '*.o'), recursive=True))
syms = {o: subprocess.run(['nm', o], capture_output=True, text=True).stdout.split('\n') for o in objs}
defs = {o: {l.split()[-1] for l in s if len(l.split()) == 3 and l.split()[1] in 'TDRB'} for o, s in syms.items()}
need = {o: {l.split()[-1] for l in s if len(l.split()) == 2 and l.split()[0] == 'U'} for o, s in syms.items()}
edges = {a: {b for b in objs if b != a and need[a] & defs[b]} for a in objs}
def reach(a, seen):
    for b in edges[a]:
        if b not in seen:
            seen.add(b)
            reach(b, seen)
    return seen
print(' '.join(os.path.relpath(a, sys.argv[1]) for a in objs if a in reach(a, set())))
if not objs:
    print('no objects')
PY
)
expect_eq "$cycle" "" "the store's files link without a cycle"
if command -v clang-format >/dev/null; then
    bad=$(clang-format --dry-run --Werror src/*.[ch] src/*/*.[ch] src/*/*/*.[ch] tests/unit/*.[ch] tests/fuzz/*.c 2>&1 | grep -c 'error:')
    expect_eq "$bad" "0" "every C file is formatted as .clang-format says (make format)"
else
    _fail "clang-format is installed (make check installs it)"
fi
