#!/usr/bin/env bash
# Builds the Go client scenarios of tests/interop/go (franz-go kgo and kadm, IBM/sarama,
# segmentio/kafka-go) into .tools/go/goclients, with the Go module cache and build cache
# under .tools/go (GOPATH, GOMODCACHE, GOCACHE), the modules from the Go module proxy as
# go.mod and go.sum pin them. Idempotent: does nothing when the stamp (a hash of go.mod,
# go.sum, the sources and the Go version) is unchanged. Fails with a message when go is
# missing or too old, or when the module proxy cannot be reached: it never skips silently.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
src="$root/tests/interop/go"
dest="$root/.tools/go"

fail() {
    echo "go-env: $*" >&2
    echo "go-env: the Go interop suite (tests/interop/test_go_clients.py) cannot run." >&2
    exit 1
}

command -v go >/dev/null || fail "go is not on PATH: install Go 1.26 or later"
need="$(sed -n 's/^go \([0-9.]*\)$/\1/p' "$src/go.mod")"
have="$(go env GOVERSION | sed 's/^go//')"
if [ "$(printf '%s\n%s\n' "$need" "$have" | sort -V | head -1)" != "$need" ]; then
    fail "go $have is older than the go $need that tests/interop/go/go.mod needs"
fi

stamp="$dest/.stamp"
want="$( (cd "$src" && cat go.mod go.sum $(ls *.go | sort); echo "go $have") | sha256sum | cut -d' ' -f1)"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -x "$dest/goclients" ]; then
    exit 0
fi

mkdir -p "$dest"
export GOPATH="$dest/gopath" GOMODCACHE="$dest/gopath/pkg/mod" GOCACHE="$dest/cache"
# The toolchain on the machine, the modules exactly as go.sum pins them (a module cache
# that `rm -rf .tools` can remove).
export GOTOOLCHAIN=local GOFLAGS="-mod=readonly -modcacherw -buildvcs=false"
log="$dest/build.log"
if ! (cd "$src" && go mod download && go build -o "$dest/goclients.new" .) >"$log" 2>&1; then
    tail -40 "$log" >&2
    fail "go could not build tests/interop/go (full log: $log). If the errors above name" \
        "the module proxy ('dial tcp', 'Get \"https://...', 'no such host'), it is unreachable" \
        "from here (GOPROXY=$(go env GOPROXY))."
fi
mv "$dest/goclients.new" "$dest/goclients"
echo "$want" > "$stamp"
echo "go-env: $(cd "$src" && grep -E 'franz-go|sarama|kafka-go' go.mod | grep -v indirect | awk '{print $1"@"$2}' | tr '\n' ' ')built into $dest/goclients (go $have)"
