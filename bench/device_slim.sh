#!/bin/sh
# bench/device_slim.sh aside|back — the device machine's run tool copies the working tree (tracked
# files included) and refuses trees over 64 MiB; with a llama.cpp source tarball carried beside the
# tracked test models that limit is exceeded. `aside` moves the tracked files that no device run reads
# (bench/raw, the logits goldens, the fuzz corpus, every vocabulary but llama-spm's) to
# /tmp/zeta-aside, keeping their paths; `back` restores them. Run `back` after the call, before any
# commit: a commit made while they are aside would delete them.
set -eu
cd "$(dirname "$0")/.."
A=/tmp/zeta-aside
case "${1:-}" in
aside)
    mkdir -p "$A"
    { git ls-files bench/raw tests/data/goldens tests/fuzz/corpus; git ls-files tests/data/vocab | grep '\.gz$' | grep -v llama-spm; } |
    while read -r f; do
        [ -f "$f" ] || continue
        mkdir -p "$A/$(dirname "$f")" && mv "$f" "$A/$f"
    done
    echo "moved aside: $(find "$A" -type f | wc -l) files; tracked bytes now $(git ls-files -z | xargs -0 cat 2>/dev/null | wc -c)" ;;
back)
    [ -d "$A" ] || { echo "nothing aside"; exit 0; }
    (cd "$A" && find . -type f) | while read -r f; do mkdir -p "$(dirname "$f")"; mv "$A/$f" "$f"; done
    rm -rf "$A"
    git status --short | grep '^ D' | head -3 || true ;;
*)
    echo "usage: sh bench/device_slim.sh aside|back" >&2; exit 2 ;;
esac
