#!/usr/bin/env bash
# Builds librdkafka from the rdkafka-sys crate's source into .tools/librdkafka/<version>/:
# the library, its broker test suite (tests/test-runner, run by
# tests/interop/test_librdkafka_suite.py) and examples/rdkafka_performance. Needs only a
# C/C++ compiler and make: ./configure uses what this machine has (no --install-deps);
# SSL and builtin SASL (PLAIN, SCRAM via OpenSSL) are kept when the OpenSSL headers
# exist, zstd/curl/GSSAPI only when their headers exist, LZ4 is the bundled copy.
# The crate comes from static.crates.io and is checked against a pinned sha256 (the
# cksum in the crates.io index for this version).
# RapidJSON (header-only; the suite checks statistics JSON with it, four tests skip without
# it) is unpacked from Debian's rapidjson-dev with `apt-get download` + `dpkg -x` when the
# system has no headers and apt-get is there, as scripts/kcat-env.sh does; else left out.
# Idempotent and keyed by version: a re-run with a finished build does nothing.
# .tools/librdkafka/current points at the finished build (./test.sh exports
# VLTAVA_LIBRDKAFKA_TESTS=.tools/librdkafka/current/librdkafka/tests and
# VLTAVA_RDKAFKA_PERFORMANCE=.tools/librdkafka/current/librdkafka/examples/rdkafka_performance).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
crate_version="4.10.0+2.12.1"
crate_sha256="e234cf318915c1059d4921ef7f75616b5219b10b46e9f3a511a15eb4b56a3f77"
crate_url="https://static.crates.io/crates/rdkafka-sys/rdkafka-sys-${crate_version/+/%2B}.crate"
dest="$root/.tools/librdkafka/$crate_version"
src="$dest/librdkafka"
stamp="$dest/.built"
# Bumped when the build steps change, so a re-run rebuilds an older build.
recipe="recipe 3"
current="$root/.tools/librdkafka/current"

if [ "$(cat "$stamp" 2>/dev/null)" = "$recipe" ] && [ -x "$src/tests/test-runner" ] &&
    [ -x "$src/examples/rdkafka_performance" ]; then
    ln -sfn "$crate_version" "$current"
    exit 0
fi

for tool in cc c++ make curl tar sha256sum; do
    command -v "$tool" >/dev/null ||
        { echo "librdkafka-env: $tool is needed to build librdkafka" >&2; exit 1; }
done

rm -rf "$dest"
mkdir -p "$dest"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
curl -fsSL --retry 3 --max-time 300 -o "$tmp/crate.tar.gz" "$crate_url"
got="$(sha256sum "$tmp/crate.tar.gz" | cut -d' ' -f1)"
if [ "$got" != "$crate_sha256" ]; then
    echo "librdkafka-env: $crate_url has sha256 $got, expected $crate_sha256" >&2
    exit 1
fi
tar -xzf "$tmp/crate.tar.gz" -C "$tmp"
mv "$tmp/rdkafka-sys-$crate_version/librdkafka" "$src"

# Whether a C header is found by the compiler.
has_header() {
    printf '#include <%s>\n' "$1" | cc -E -x c - >/dev/null 2>&1
}
opts=(--disable-lz4-ext --disable-syslog)
has_header openssl/ssl.h || opts+=(--disable-ssl)
has_header zlib.h || opts+=(--disable-zlib)
has_header zstd.h || opts+=(--disable-zstd)
has_header sasl/sasl.h || opts+=(--disable-gssapi)
has_header curl/curl.h || opts+=(--disable-curl)

# RapidJSON for the suite's statistics checks, unpacked into $dest/deps when missing.
cxxflags=()
if ! printf '#include <rapidjson/schema.h>\n' | c++ -E -x c++ - >/dev/null 2>&1; then
    deps="$dest/deps"
    mkdir -p "$deps"
    chmod 755 "$tmp"
    if command -v apt-get >/dev/null && command -v dpkg >/dev/null &&
        (cd "$tmp" && apt-get download -qq rapidjson-dev) >/dev/null 2>&1; then
        dpkg -x "$tmp"/rapidjson-dev_*.deb "$deps"
        # Debian's 1.1.0 uses std::iterator, deprecated in C++17 (configure checks with -Werror).
        cxxflags=("--CXXFLAGS=-I$deps/usr/include -Wno-deprecated-declarations")
    else
        echo "librdkafka-env: note: no RapidJSON headers (rapidjson-dev); the suite's" \
            "statistics tests will skip" >&2
    fi
fi

log="$dest/build.log"
jobs=2
echo "librdkafka-env: building librdkafka ${crate_version#*+} (configure ${opts[*]}; log in $log)"
if ! (
    cd "$src" &&
        ./configure --no-download "${opts[@]}" "${cxxflags[@]}" &&
        make -j"$jobs" libs &&
        make -j"$jobs" -C examples rdkafka_performance &&
        make -j"$jobs" -C tests test-runner
) >"$log" 2>&1; then
    echo "librdkafka-env: build failed; last lines of $log:" >&2
    tail -n 40 "$log" >&2
    exit 1
fi
for want in WITH_SSL WITH_SASL_SCRAM; do
    grep -q "^#define $want 1" "$src/config.h" ||
        echo "librdkafka-env: note: built without $want (SASL_SSL tests will be unavailable)" >&2
done
echo "$recipe" > "$stamp"
ln -sfn "$crate_version" "$current"
echo "librdkafka-env: built $src/tests/test-runner and $src/examples/rdkafka_performance"
