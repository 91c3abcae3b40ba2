"""Where a Node server's one JavaScript thread spent its time, from a V8
CPU profile (node --cpu-prof): each sample is charged to one bucket by its
own frame and the frames above it, so the buckets add up to the whole.
Used by make bench on Azurite during ferry's large upload, where Azurite's
thread, not ferry, sets the pace.
Usage: nodeprof.py PROFILE.cpuprofile [WALL_S] > summary; --json FILE too."""
import collections
import json
import sys

# (bucket, test on (function name, url) of a frame): a sample goes to the
# bucket its innermost frame that matches any matches (the first in order)
BUCKETS = (
    ("idle (waiting for the network)", lambda f, u: f == "(idle)"),
    ("garbage collection", lambda f, u: f == "(garbage collector)"),
    ("MD5 of each block (Hash.update)", lambda f, u: f in ("update", "digest") and u.endswith("hash")),
    ("native code outside JavaScript (V8, libuv: socket reads, buffers)", lambda f, u: f == "(program)"),
    ("promises and async bookkeeping",
     lambda f, u: f in ("runMicrotasks", "processTicksAndRejections") or "async_hooks" in u),
    ("loading modules", lambda f, u: "loader" in u or f in ("require", "patchedRequire")),
    ("reading request bodies (streams, sockets)",
     lambda f, u: any(k in u for k in ("streams/", "node:net", "stream_base_commons"))),
    ("storing blocks (extent store, metadata)",
     lambda f, u: any(k in u for k in ("ExtentStore", "MetadataStore", "lokijs"))),
    ("HTTP parsing and request dispatch (express, auth, handlers)",
     lambda f, u: any(k in u for k in ("node:_http", "express", "router", "Middleware", "Authenticator",
                                       "Handler", "Dispatch", "generated"))),
)
OTHER = "other JavaScript and native code"


def bucket_of(stack):
    for f, u in stack:
        for name, test in BUCKETS:
            if test(f, u):
                return name
    return OTHER


def main(argv):
    p = json.load(open(argv[1]))
    wall = float(argv[2]) if len(argv) > 2 and argv[2] != "--json" else None
    nodes = {n["id"]: n for n in p["nodes"]}
    parent = {c: n["id"] for n in p["nodes"] for c in n.get("children", ())}
    spent = collections.Counter()
    for sample, dt in zip(p["samples"], p["timeDeltas"]):
        stack, x = [], sample
        while x is not None and len(stack) < 512:
            cf = nodes[x]["callFrame"]
            stack.append((cf["functionName"], cf["url"]))
            x = parent.get(x)
        # idle and gc are leaves with (root) above: decide on the leaf alone
        leaf = [stack[0]] if stack[0][0].startswith("(") else stack
        spent[bucket_of(leaf)] += max(dt, 0) / 1e6
    total = sum(spent.values())
    busy = total - spent[BUCKETS[0][0]] - spent["loading modules"]
    out = {"profile_s": round(total, 2), "busy_s": round(busy, 2),
           "buckets": {k: round(v, 3) for k, v in spent.most_common()}}
    print("    Azurite's JavaScript thread: %.2f s busy (loading modules and idle time apart; its start,"
          " the bench's own set-up requests and its stop are in it)" % busy)
    if wall:
        out["ferry_wall_s"] = wall
        print("    ferry's upload took %.2f s of wall: the server was busy %.0f%% of it" % (wall, 100 * busy / wall))
    for k, v in spent.most_common():
        if k in (BUCKETS[0][0], "loading modules"):
            continue
        print("    %6.2f s %5.1f%%  %s" % (v, 100 * v / max(busy, 1e-9), k))
    if "--json" in argv:
        json.dump(out, open(argv[argv.index("--json") + 1], "w"), indent=1)


if __name__ == "__main__":
    main(sys.argv)
