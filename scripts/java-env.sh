#!/usr/bin/env bash
# Resolves the JVM side of the interop suite into .tools/java/ (Maven's cache in .tools/m2):
# kafka-clients 4.x, Kafka's command-line tools (kafka-tools, kafka_2.13) and Kafka's
# broker (kafka-server) with their dependencies, and compiles the Java client scenarios
# of tests/interop/java. Writes:
#   .tools/java/classpath.txt   the dependencies, ':'-joined (as `kafka-run-class.sh` builds it)
#   .tools/java/target/classes  the compiled scenarios
#   .tools/java/log4j2.properties
# Idempotent: does nothing when the stamp (a hash of the pom, the sources and the logging
# configuration) is unchanged. Fails with a message when java (17 or later) or mvn is
# missing, or when Maven Central cannot be reached: it never skips silently.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
src="$root/tests/interop/java"
# .tools may be a symlink shared by several worktrees: the classpath names jars by the
# physical path, so it stays valid when the worktree that wrote it is gone.
mkdir -p "$root/.tools"
tools="$(cd "$root/.tools" && pwd -P)"
dest="$tools/java"
repo="$tools/m2"

fail() {
    echo "java-env: $*" >&2
    echo "java-env: the Java interop suites (tests/interop/test_java_*.py) cannot run." >&2
    exit 1
}

command -v java >/dev/null || fail "java is not on PATH: install a JDK 17 or later (e.g. apt-get install openjdk-17-jdk-headless)"
command -v javac >/dev/null || fail "javac is not on PATH: a JRE is not enough, install a JDK 17 or later"
command -v mvn >/dev/null || fail "mvn is not on PATH: install Maven 3.8 or later (e.g. apt-get install maven)"
major="$(java -XshowSettings:properties -version 2>&1 | awk -F'= ' '/java.specification.version/ {print $2}')"
case "$major" in
    ''|1.*) fail "java is too old (specification ${major:-unknown}); Kafka 4.x needs 17 or later" ;;
esac
[ "$major" -ge 17 ] || fail "java $major is too old; Kafka 4.x needs 17 or later"

stamp="$dest/.stamp"
want="$( (cat "$src/pom.xml" "$src/log4j2.properties"; find "$src" -path '*/src/*' -type f -name '*.java' | sort | xargs cat; echo "java $major $repo") | sha256sum | cut -d' ' -f1)"
# Every jar the classpath names must still be there (a cache copied or a repo moved is rebuilt).
jars_present() {
    local jar
    for jar in $(tr ':' ' ' < "$dest/classpath.txt"); do
        [ -f "$jar" ] || return 1
    done
}
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -s "$dest/classpath.txt" ] \
    && [ -d "$dest/target/classes" ] && jars_present; then
    exit 0
fi

mkdir -p "$dest"
log="$dest/mvn.log"
if ! mvn -B -q -f "$src/pom.xml" \
        -Dmaven.repo.local="$repo" \
        -Dvltava.build.dir="$dest/target" \
        -Dmdep.outputFile="$dest/classpath.txt" \
        compile dependency:build-classpath >"$log" 2>&1; then
    tail -40 "$log" >&2
    fail "mvn could not build tests/interop/java (full log: $log). If the errors above say" \
        "'Could not resolve' or 'Could not transfer', Maven Central is unreachable from here."
fi
[ -s "$dest/classpath.txt" ] || fail "mvn wrote no classpath into $dest/classpath.txt"
cp "$src/log4j2.properties" "$dest/log4j2.properties"
echo "$want" > "$stamp"
echo "java-env: Kafka $(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$src/pom.xml")" \
    "clients, tools and broker resolved into $dest (java $major)"
