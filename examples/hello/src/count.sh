#!/bin/sh
# The example's "training": counts words in every file of the input folder
# and writes the top words to the output folder. Only POSIX sh and awk.
set -eu
data=$1 out=$2 top=$3
mkdir -p "$out"
find "$data" -type f -print0 | xargs -0 cat |
    tr -cs 'A-Za-z' '\n' | tr 'A-Z' 'a-z' | awk 'NF' |
    sort | uniq -c | sort -k1,1nr -k2 | head -n "$top" > "$out/top-words.txt"
files=$(find "$data" -type f | wc -l)
printf 'files=%s top=%s run=%s\n' "$files" "$top" "${FERRY_RUN_ID:-?}" > "$out/summary.txt"
echo "counted words in $files files; top $top written to $out"
