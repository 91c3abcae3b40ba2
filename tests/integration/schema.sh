# The JSON Schemas in schemas/ and ferry say the same about every example
# and fixture, checked with a real validator (python3-jsonschema).
. "$(dirname "$0")/../lib.sh"
FX=$TOP/tests/fixtures

check_agree() { # check_agree SCHEMA EXPECT(valid|invalid) FERRY_CMD... -- FILES
    local schema=$1 expect=$2 file verdict fr
    shift 2
    for file in "$@"; do
        verdict=$(/usr/bin/python3 "$TOP/tests/schema_check.py" "$schema" "$file")
        case "$verdict" in *": valid") verdict=valid ;; *) verdict=invalid ;; esac
        if [ "$schema" = job ]; then
            run "$FERRY" validate "$file"
        elif [ "$schema" = data-asset ]; then
            run "$FERRY" --workspace "$T/ws-$RANDOM" data create --file "$file"
        else
            run "$FERRY" --workspace "$T/ws-$RANDOM" datastore create --file "$file" --skip-validation
        fi
        fr=valid
        [ "$RC" -ne 0 ] && fr=invalid
        if [ "$verdict" = "$expect" ] && [ "$fr" = "$expect" ]; then
            _ok "${file#"$TOP"/}: schema and ferry both say $expect"
        else
            _fail "${file#"$TOP"/}: expected $expect" "schema: $verdict, ferry: $fr" "$(/usr/bin/python3 "$TOP/tests/schema_check.py" "$schema" "$file")"
        fi
    done
}

check_agree job valid "$TOP"/examples/*/*.yml "$FX"/jobs/good/*
check_agree job invalid $(ls "$FX"/jobs/bad/* | grep -v '\.err$')
check_agree datastore valid "$FX"/datastores/good/*
check_agree datastore invalid "$FX"/datastores/bad/*
check_agree data-asset valid "$FX"/data/good/*
check_agree data-asset invalid "$FX"/data/bad/*

# every schema is itself a valid JSON Schema
for s in "$TOP"/schemas/*.json; do
    if /usr/bin/python3 -c 'import json,sys,jsonschema; s=json.load(open(sys.argv[1])); jsonschema.validators.validator_for(s).check_schema(s)' "$s"; then
        _ok "${s#"$TOP"/} is a valid JSON Schema"
    else
        _fail "${s#"$TOP"/} is a valid JSON Schema"
    fi
done
