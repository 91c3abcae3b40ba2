"""Validates job or datastore files against ferry's JSON Schemas with a real
validator (python3-jsonschema), one line per file: "valid" or "invalid: why".
Usage: schema_check.py job|datastore FILE..."""
import json
import os
import sys

import jsonschema
import yaml

here = os.path.dirname(os.path.abspath(__file__))
schemas = os.path.join(here, "..", "schemas")
store = {}
for name in os.listdir(schemas):
    with open(os.path.join(schemas, name)) as f:
        s = json.load(f)
    store[s["$id"]] = s
root = store["https://ferry.invalid/schemas/%s.schema.json" % sys.argv[1]]
cls = jsonschema.validators.validator_for(root)
cls.check_schema(root)
validator = cls(root, resolver=jsonschema.RefResolver.from_schema(root, store=store))

for path in sys.argv[2:]:
    try:
        with open(path, encoding="utf-8") as f:
            doc = json.load(f) if path.endswith(".json") else yaml.safe_load(f)
    except Exception as e:  # not YAML at all: invalid for the schema too
        print(f"{path}: invalid: not loadable: {type(e).__name__}")
        continue
    e = jsonschema.exceptions.best_match(validator.iter_errors(doc))
    if e is not None:
        print(f"{path}: invalid: {'/'.join(map(str, e.path)) or '(root)'}: {e.message[:160]}")
    else:
        print(f"{path}: valid")
