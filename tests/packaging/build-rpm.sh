#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Builds packaging/rpm/smstudio.spec with rpmbuild on Debian and checks the
# binary rpm. Debian's rpm has no systemd or meson macros and no rpm database
# of build dependencies: tests/packaging/rpm-on-debian.macros stands in for
# the macros and --nodeps skips BuildRequires. What this proves: the spec
# parses, builds, and its %files list is exactly what `meson install` puts in
# place (rpmbuild fails on missing and on unpackaged files).
#   tests/packaging/build-rpm.sh [--keep]
set -euo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
keep=0
[ "${1:-}" = --keep ] && keep=1
say() { printf '==> %s\n' "$*" >&2; }
fails=0
fail() { printf 'FAIL: %s\n' "$*" >&2; fails=$((fails + 1)); }
ok() { printf 'ok: %s\n' "$*"; }
t0=$SECONDS

work=$(mktemp -d /tmp/smstudio-rpm.XXXXXX)
cleanup() { if [ $keep = 1 ]; then say "kept $work"; else rm -rf "$work"; fi; }
trap cleanup EXIT

spec=$top/packaging/rpm/smstudio.spec
version=$(sed -n 's/^Version:[[:space:]]*//p' "$spec")
mkdir -p "$work"/{SOURCES,BUILD,RPMS,SRPMS,SPECS,BUILDROOT}
tar -C "$top" --exclude='./build*' --exclude=./.git --exclude=./.venv --exclude=./debian \
        --transform "s,^\\.,smstudio-$version," -cJf "$work/SOURCES/smstudio-$version.tar.xz" .
say "rpmbuild -bb (log: $work/rpmbuild.log)"
if ! rpmbuild -bb --nodeps --define "_topdir $work" \
        --load="$top/tests/packaging/rpm-on-debian.macros" "$spec" >"$work/rpmbuild.log" 2>&1; then
        tail -n 40 "$work/rpmbuild.log" >&2
        trap - EXIT; say "rpmbuild failed; kept $work"; exit 1
fi
rpm=$(find "$work/RPMS" -name "smstudio-$version-1.*.rpm" | head -n 1)
[ -n "$rpm" ] || { fail "no binary rpm"; exit 1; }
ok "built $(basename "$rpm")"

files=$(rpm -qlp "$rpm")
for f in /usr/sbin/smstudiod /usr/bin/smstudioctl /usr/lib/systemd/system/smstudiod.service \
        /usr/lib/systemd/system/smstudiod.socket /usr/lib/sysusers.d/smstudio.conf \
        /usr/lib/tmpfiles.d/smstudio.conf /etc/smstudio/smstudiod.yaml /etc/smstudio.d \
        /usr/lib/systemd/catalog/smstudio.catalog /usr/share/smstudio/lifecycle/idle-shutdown.sh \
        /usr/share/bash-completion/completions/smstudioctl /usr/share/man/man8/smstudiod.8 \
        /usr/share/man/man1/smstudioctl.1 /usr/share/man/man5/smstudio.d.5 \
        /usr/share/man/man5/smstudiod.yaml.5; do
        # Man pages are compressed by Fedora's brp scripts, not by Debian's rpm.
        if grep -qxE "$f(\.gz)?" <<<"$files"; then ok "$f"; else fail "rpm lacks $f"; fi
done
grep -qx /etc/smstudio/smstudiod.yaml <<<"$(rpm -qcp "$rpm")" &&
        ok "config(noreplace) /etc/smstudio/smstudiod.yaml" || fail "smstudiod.yaml is not %config"
modes=$(rpm -qp --qf '[%{FILEMODES:perms} %{FILEUSERNAME} %{FILENAMES}\n]' "$rpm")
for want in '-rwxr-xr-x root /usr/sbin/smstudiod' '-rwxr-xr-x root /usr/bin/smstudioctl' \
        '-rwxr-xr-x root /usr/share/smstudio/lifecycle/idle-shutdown.sh' \
        '-rw-r--r-- root /usr/lib/systemd/system/smstudiod.service'; do
        if grep -qx -- "$want" <<<"$modes"; then ok "$want"; else fail "want $want"; fi
done
scripts=$(rpm -qp --scripts "$rpm")
grep -q 'useradd -r -g smstudio -d /var/lib/smstudio' <<<"$scripts" &&
        ok "%pre creates user smstudio" || fail "%pre does not create the user"
grep -q 'systemd_post smstudiod.service smstudiod.socket' <<<"$scripts" &&
        ok "%post has systemd_post" || fail "%post lacks systemd_post"
mkdir "$work/x"
(cd "$work/x" && rpm2archive - <"$rpm" | tar -xzf -)
grep -q '^ExecStart=/usr/sbin/smstudiod' "$work/x/usr/lib/systemd/system/smstudiod.service" &&
        ok "unit ExecStart=/usr/sbin/smstudiod" || fail "unit ExecStart"

say "total: $((SECONDS - t0)) s"
if [ $fails -ne 0 ]; then say "$fails check(s) failed"; exit 1; fi
say "all checks passed"
