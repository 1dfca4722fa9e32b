#!/bin/sh
# The SDK as a user gets it: `make install` into a temporary prefix, the installed layout (header,
# libzeta.so with soname libzeta.so.0, libzeta.a, zeta.pc, bin/zeta), each program in examples/
# built with `cc ... $(pkg-config --cflags --libs zeta)` against that prefix only and run on the
# shipped stories260K model (simple streams text; chat answers two turns from stdin and the second
# reuses the first's tokens; embed_in_app's cross-thread cancel behaves as documented), one example
# linked statically against libzeta.a with `pkg-config --static` (checks Libs.private), and
# docs/API_REFERENCE.md mentions every public name of include/zeta.h and no name zeta.h lacks.
# A sanitizer build (the library has ASan/UBSan symbols) links the examples with the same
# -fsanitize flags. Skipped for a cross build (ZETA_EXEC set) and when pkg-config is missing.
# Run from the repository root with BUILD set (tests/run.sh does both).
BUILD=${BUILD:-build}
CC=${CC:-cc}
MODEL=models/stories260K.gguf

if [ -n "$ZETA_EXEC" ]; then echo "skip - sdk install (cross build)"; exit 0; fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# --- docs/API_REFERENCE.md covers zeta.h (needs no build) -------------------------------------
# Public names: every zeta_* / ZETA_* identifier in the header's code (comments removed): the
# functions, types, struct tags, enum constants and macros. -w: zeta_session must appear as a word
# of its own, not only inside zeta_session_new.
H=include/zeta.h
DOC=docs/API_REFERENCE.md
strip_comments() {
    awk '{ line = $0; out = "";
           while (length(line)) {
               if (inc) { i = index(line, "*/"); if (!i) { line = "" } else { line = substr(line, i + 2); inc = 0 } }
               else { i = index(line, "/*"); if (!i) { out = out line; line = "" }
                      else { out = out substr(line, 1, i - 1); line = substr(line, i + 2); inc = 1 } }
           }
           print out }' "$1"
}
if [ ! -f "$DOC" ]; then
    echo "FAIL - sdk $DOC is missing"
else
    strip_comments "$H" | grep -oE '\b(zeta|ZETA)_[A-Za-z0-9_]*[A-Za-z0-9]' | grep -vx 'ZETA_H' | sort -u >"$tmp/names"
    grep -E '^ZETA_API' "$H" | sed -E 's/^ZETA_API[^(]*[ *]([A-Za-z_][A-Za-z0-9_]*)\(.*/\1/' | sort -u >"$tmp/funcs"
    missing=$(while read -r n; do grep -qw -- "$n" "$DOC" || printf '%s ' "$n"; done <"$tmp/names")
    nf=$(wc -l <"$tmp/funcs"); nn=$(wc -l <"$tmp/names")
    unlisted=$(comm -23 "$tmp/funcs" "$tmp/names" | tr '\n' ' ')
    if [ "$nf" -lt 40 ] || [ -n "$unlisted" ]; then
        echo "FAIL - sdk API name extraction: $nf ZETA_API functions found (expected 40 or more); not among the names: $unlisted"
    elif [ -n "$missing" ]; then
        echo "FAIL - sdk $DOC does not mention: $missing"
    else
        echo "ok - sdk $DOC mentions all $nn public names of zeta.h ($nf functions)"
    fi
    # the reverse: names the reference mentions that zeta.h (code or comments) does not have
    grep -oE '\b(zeta|ZETA)_[A-Za-z0-9_]*[A-Za-z0-9]' "$H" | sort -u >"$tmp/known"
    stale=$(grep -oE '\b(zeta|ZETA)_[A-Za-z0-9_]*[A-Za-z0-9]' "$DOC" | sort -u | comm -23 - "$tmp/known" | tr '\n' ' ')
    if [ -n "$stale" ]; then echo "FAIL - sdk $DOC mentions names zeta.h does not have: $stale"
    else echo "ok - sdk $DOC mentions no name zeta.h lacks"; fi
fi

# --- install -----------------------------------------------------------------------------------
if ! command -v pkg-config >/dev/null 2>&1; then
    echo "skip - sdk install (pkg-config is not installed: apt-get install pkg-config)"
    exit 0
fi
if [ ! -f "$MODEL" ]; then echo "skip - sdk install ($MODEL is missing)"; exit 0; fi

# A sanitizer build's library references the ASan/UBSan (or TSan) runtimes; programs linked with it need the
# same -fsanitize flags (and `make install` must not rebuild anything without them).
san=
lib=$BUILD/libzeta.so
syms=$( (nm -D "$lib" || readelf --dyn-syms -W "$lib") 2>/dev/null)
case "$syms" in *__asan_*) san=address ;; esac
case "$syms" in *__ubsan_*) san=${san:+$san,}undefined ;; esac
SANFLAGS=${san:+-fsanitize=$san}
MAKESAN=${san:+SAN=1 OPT=-O1}
case "$syms" in *__tsan_*) SANFLAGS=-fsanitize=thread; MAKESAN="SAN=thread OPT=-O1" ;; esac

p=$tmp/prefix
# shellcheck disable=SC2086  # MAKESAN is two words or none
if ! make -s install BUILD="$BUILD" PREFIX="$p" $MAKESAN >"$tmp/install.log" 2>&1; then
    echo "FAIL - sdk make install: $(grep -v 'jobserver' "$tmp/install.log" | tail -n 1)"
    exit 0
fi
missing=
for f in include/zeta.h lib/libzeta.a lib/libzeta.so lib/libzeta.so.0 lib/pkgconfig/zeta.pc bin/zeta; do
    [ -e "$p/$f" ] || missing="$missing $f"
done
[ -x "$p/bin/zeta" ] || missing="$missing bin/zeta(executable)"
cmp -s include/zeta.h "$p/include/zeta.h" || missing="$missing include/zeta.h(differs)"
if [ -z "$missing" ]; then echo "ok - sdk install layout (include/zeta.h, lib/libzeta.{a,so,so.0}, lib/pkgconfig/zeta.pc, bin/zeta)"
else echo "FAIL - sdk install layout lacks:$missing"; fi

soname=$( (readelf -d "$p/lib/libzeta.so" || objdump -p "$p/lib/libzeta.so") 2>/dev/null | grep SONAME)
case "$soname" in
    *'[libzeta.so.0]'* | *' libzeta.so.0') echo "ok - sdk libzeta.so has soname libzeta.so.0" ;;
    *) echo "FAIL - sdk libzeta.so soname: '$soname', expected libzeta.so.0" ;;
esac

PC="env PKG_CONFIG_PATH=$p/lib/pkgconfig pkg-config"
hver=$(sed -n 's/^#define ZETA_VERSION_STRING "\(.*\)"/\1/p' "$H")
pver=$($PC --modversion zeta 2>"$tmp/pc.err")
if [ -n "$pver" ] && [ "$pver" = "$hver" ]; then echo "ok - sdk pkg-config finds zeta $pver (the header's version)"
else echo "FAIL - sdk pkg-config --modversion zeta: '$pver' ($(cat "$tmp/pc.err")), zeta.h says $hver"; fi

if "$p/bin/zeta" info "$MODEL" >"$tmp/o" 2>&1; then echo "ok - sdk installed zeta CLI runs"
else echo "FAIL - sdk installed zeta CLI: $(tail -n 1 "$tmp/o")"; fi

# --- the examples, against the installed prefix only --------------------------------------------
CFLAGS_EX="-std=c11 -Wall -Wextra -pedantic -Werror -O1 $SANFLAGS"
build() { # name extra-flags...
    n=$1; shift
    # shellcheck disable=SC2046,SC2086  # flag lists split on purpose
    if $CC $CFLAGS_EX "examples/$n.c" -o "$tmp/$n" $($PC --cflags --libs zeta) "$@" >"$tmp/cc.log" 2>&1; then
        echo "ok - sdk example $n builds with pkg-config"; return 0
    fi
    echo "FAIL - sdk example $n does not build: $(grep -m1 -E 'error|undefined' "$tmp/cc.log" || tail -n 1 "$tmp/cc.log")"
    return 1
}
export LD_LIBRARY_PATH="$p/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"

if build simple; then
    if readelf -d "$tmp/simple" 2>/dev/null | grep NEEDED | grep -q 'libzeta\.so\.0'; then
        echo "ok - sdk simple links against libzeta.so.0"
    else echo "FAIL - sdk simple does not record libzeta.so.0 as NEEDED"; fi
    "$tmp/simple" "$MODEL" "Once upon a time" 32 >"$tmp/o" 2>"$tmp/e"
    rc=$?
    gen=$(sed '1s/^Once upon a time//' "$tmp/o" | tr -d ' \n\t')
    if [ "$rc" -eq 0 ] && [ -n "$gen" ] && grep -q 'generated tokens' "$tmp/e"; then
        echo "ok - sdk simple streams text and a summary"
    else echo "FAIL - sdk simple: exit $rc, $(wc -c <"$tmp/o") bytes of text: $(tail -n 1 "$tmp/e")"; fi
    "$tmp/simple" "$tmp/no-such-model.gguf" >"$tmp/o" 2>"$tmp/e"
    rc=$?
    if [ "$rc" -ne 0 ] && grep -q 'no-such-model.gguf' "$tmp/e"; then echo "ok - sdk simple reports a missing model"
    else echo "FAIL - sdk simple with a missing model: exit $rc: $(tail -n 1 "$tmp/e")"; fi
fi

if build chat; then
    printf 'Hello, who are you?\nTell me a story about a dog.\n/quit\n' | "$tmp/chat" "$MODEL" -n 16 >"$tmp/o" 2>"$tmp/e"
    rc=$?
    g1=$(sed -n 's/.*turn 1: .* \([0-9]*\) generated.*/\1/p' "$tmp/e")
    g2=$(sed -n 's/.*turn 2: .* \([0-9]*\) generated.*/\1/p' "$tmp/e")
    r2=$(sed -n 's/.*turn 2: .* \([0-9]*\) reused.*/\1/p' "$tmp/e")
    # both turns answered (a reply may be empty if the model ends its turn at once; not both)
    if [ "$rc" -eq 0 ] && [ -n "$g1" ] && [ -n "$g2" ] && [ $((g1 + g2)) -gt 0 ] && [ -n "$(tr -d '> \n\t' <"$tmp/o")" ]; then
        echo "ok - sdk chat answers two turns from stdin"
    else echo "FAIL - sdk chat: exit $rc, generated '$g1' / '$g2' tokens: $(tail -n 1 "$tmp/e")"; fi
    if [ "${r2:-0}" -gt 0 ]; then echo "ok - sdk chat's second turn reuses $r2 tokens of the first"
    else echo "FAIL - sdk chat's second turn reused '${r2}' tokens, expected > 0: $(grep 'turn 2' "$tmp/e")"; fi
    if grep -q 'using chatml' "$tmp/e"; then echo "ok - sdk chat falls back to chatml with a warning (model without a template)"
    else echo "FAIL - sdk chat printed no chatml fallback warning for a model without a template"; fi
fi

if build embed_in_app -pthread; then
    "$tmp/embed_in_app" "$MODEL" >"$tmp/o" 2>&1
    rc=$?
    if [ "$rc" -eq 0 ]; then echo "ok - sdk embed_in_app: concurrent sessions, cancel and reuse behave as documented"
    else echo "FAIL - sdk embed_in_app exit $rc: $(grep -E ': NO:|cancelled|embed_in_app' "$tmp/o" | head -n 3 | tr '\n' ' ')"; fi
fi

# --- static linking: libzeta.a plus Libs.private --------------------------------------------------
# `pkg-config --static` adds Libs.private (-lm ...); -l:libzeta.a makes the linker take the archive
# although libzeta.so sits next to it. Run without the prefix on the library path.
libs=$($PC --static --libs zeta | sed 's/-lzeta\b/-l:libzeta.a/')
# shellcheck disable=SC2046,SC2086  # flag lists split on purpose
if $CC $CFLAGS_EX examples/simple.c -o "$tmp/simple-static" $($PC --cflags zeta) $libs >"$tmp/cc.log" 2>&1; then
    if readelf -d "$tmp/simple-static" 2>/dev/null | grep NEEDED | grep -q libzeta; then
        echo "FAIL - sdk static example still needs libzeta.so"
    elif LD_LIBRARY_PATH='' "$tmp/simple-static" "$MODEL" "Once" 8 >"$tmp/o" 2>"$tmp/e"; then
        echo "ok - sdk simple links statically with pkg-config --static ($libs)"
    else echo "FAIL - sdk static simple: $(tail -n 1 "$tmp/e")"; fi
else
    echo "FAIL - sdk static link with pkg-config --static ($libs): $(grep -m1 -E 'undefined|error' "$tmp/cc.log")"
fi
