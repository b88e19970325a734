#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Builds the Debian package from packaging/debian, lints it, installs it into a
# fresh root and checks what it put there. Not a meson test: it takes minutes.
#
#   tests/packaging/build-deb.sh [--root=auto|debootstrap|extract] [--keep]
#
# --root=debootstrap  a minimal Debian 12 made by debootstrap; the package is
#                     installed with apt-get (dependencies from the mirror),
#                     so its maintainer scripts really run (user, no enable)
# --root=extract      dpkg-deb -x into an empty tree; the sysusers entry is
#                     applied with systemd-sysusers --root, the maintainer
#                     scripts are checked by content
# --root=auto         (default) debootstrap when it is installed and the
#                     mirror answers, else extract
# Needs root (debootstrap, chroot), dpkg-dev, debhelper, lintian, fakeroot.
# Environment: SMSTUDIO_DEB_MIRROR (default http://deb.debian.org/debian).
set -euo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
mode=auto
keep=0
for a in "$@"; do
        case $a in
        --root=auto | --root=debootstrap | --root=extract) mode=${a#--root=} ;;
        --keep) keep=1 ;;
        *) echo "usage: $0 [--root=auto|debootstrap|extract] [--keep]" >&2; exit 64 ;;
        esac
done
mirror=${SMSTUDIO_DEB_MIRROR:-http://deb.debian.org/debian}

say() { printf '==> %s\n' "$*" >&2; }
fails=0
fail() { printf 'FAIL: %s\n' "$*" >&2; fails=$((fails + 1)); }
ok() { printf 'ok: %s\n' "$*"; }
t0=$SECONDS
lap() { say "$1: $((SECONDS - lapstart)) s"; lapstart=$SECONDS; }
lapstart=$SECONDS

work=$(mktemp -d /tmp/smstudio-deb.XXXXXX)
root=$work/root
cleanup() {
        # Unmount what the debootstrap install mounted, even on failure.
        if mountpoint -q "$root/proc" 2>/dev/null; then umount "$root/proc" || true; fi
        if [ $keep = 1 ]; then say "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

# --- build ----------------------------------------------------------------
# A copy of the tree without build directories and local state; debian/ goes
# where dpkg-buildpackage wants it.
version=$(sed -n '1s/^smstudio (\([^)]*\)).*/\1/p' "$top/packaging/debian/changelog")
src=$work/smstudio-${version%-*}
mkdir "$src"
tar -C "$top" --exclude='./build*' --exclude=./.git --exclude=./.venv --exclude=./debian \
        -cf - . | tar -C "$src" -xf -
cp -a "$top/packaging/debian" "$src/debian"
say "dpkg-buildpackage -us -uc -b (log: $work/build.log)"
if ! (cd "$src" && dpkg-buildpackage -us -uc -b) >"$work/build.log" 2>&1; then
        tail -n 40 "$work/build.log" >&2
        trap - EXIT; say "build failed; kept $work"; exit 1
fi
arch=$(dpkg-architecture -qDEB_HOST_ARCH)
deb=$work/smstudio_${version}_${arch}.deb
[ -f "$deb" ] || { fail "no $deb"; exit 1; }
lap build

# --- lintian ----------------------------------------------------------------
# Every tag is shown; errors fail the test. (No `cmd | grep -q` in this
# script: with pipefail, grep quitting early fails the pipeline by SIGPIPE.)
lintian --tag-display-limit 0 "$deb" >"$work/lintian.log" 2>&1 || true
sed 's/^/  lintian: /' "$work/lintian.log"
if grep -q '^E: ' "$work/lintian.log"; then fail "lintian reports errors"; else ok "lintian: no errors"; fi
lap lintian

# --- control metadata -------------------------------------------------------
field() { dpkg-deb -f "$deb" "$1"; }
[ "$(field Package)" = smstudio ] && ok "Package smstudio" || fail "Package is $(field Package)"
[ "$(field Version)" = "$version" ] && ok "Version $version" || fail "Version is $(field Version)"
# One package name per line, version constraints dropped.
depends=$(field Depends | tr ',|' '\n\n' | sed 's/(.*//; s/[[:space:]]//g')
for p in libuv1 libcurl4 libjansson4 libyaml-0-2 libssl3 libsystemd0 libxml2 libinih1 \
        systemd-sysusers procps; do
        if grep -qx "$p" <<<"$depends"; then ok "Depends on $p"; else
                fail "Depends lacks $p: $(field Depends)"; fi
done
ctl=$work/control
mkdir "$ctl"
dpkg-deb -e "$deb" "$ctl"
grep -qx /etc/smstudio/smstudiod.yaml "$ctl/conffiles" &&
        ok "conffile /etc/smstudio/smstudiod.yaml" || fail "smstudiod.yaml is not a conffile"
# postinst: the user from the sysusers snippet, a daemon-reload; units are
# only re-enabled when the admin had enabled them (debian-installed), and
# nothing is started on a first install.
grep -q 'systemd-sysusers .*smstudio.conf' "$ctl/postinst" &&
        ok "postinst runs systemd-sysusers smstudio.conf" || fail "postinst does not create the user"
grep -q 'systemctl --system daemon-reload' "$ctl/postinst" &&
        ok "postinst reloads systemd" || fail "postinst does not reload systemd"
for u in smstudiod.service smstudiod.socket; do
        grep -q "deb-systemd-helper debian-installed '$u'" "$ctl/postinst" &&
                ok "postinst does not enable $u" || fail "postinst may enable $u"
done
if grep -q 'deb-systemd-invoke start' "$ctl/postinst"; then fail "postinst starts units"; else
        ok "postinst starts nothing"; fi
# On upgrade only the service is restarted, and only if it runs.
grep -q "deb-systemd-invoke try-restart 'smstudiod.service' " "$ctl/postinst" &&
        ok "postinst try-restarts the service on upgrade" || fail "no try-restart of the service"

# --- a fresh root -----------------------------------------------------------
if [ "$mode" = auto ]; then
        mode=extract
        if command -v debootstrap >/dev/null && [ "$(id -u)" = 0 ] &&
                curl -fsS -o /dev/null --max-time 10 "$mirror/dists/bookworm/Release"; then
                mode=debootstrap
        fi
fi
say "fresh root: $mode"
if [ "$mode" = debootstrap ]; then
        if ! debootstrap --variant=minbase bookworm "$root" "$mirror" >"$work/debootstrap.log" 2>&1; then
                tail -n 20 "$work/debootstrap.log" >&2; fail "debootstrap"; exit 1
        fi
        lap debootstrap
        mount -t proc proc "$root/proc"
        cp "$deb" "$root/tmp/"
        # apt resolves the dependencies from the mirror; dpkg runs the
        # maintainer scripts (systemd-sysusers, deb-systemd-helper) for real.
        if ! chroot "$root" sh -c "apt-get update -qq &&
                DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
                /tmp/$(basename "$deb")" >"$work/install.log" 2>&1; then
                tail -n 30 "$work/install.log" >&2; fail "apt-get install of the .deb"; exit 1
        fi
        umount "$root/proc"
        lap "install in the root"
        grep -qx 'Status: install ok installed' <<<"$(dpkg --root="$root" -s smstudio)" &&
                ok "dpkg: smstudio install ok installed" || fail "smstudio not installed"
        # Every shared library resolves inside the root.
        if chroot "$root" /usr/bin/smstudioctl validate /etc/smstudio.d >"$work/validate.out" 2>&1; then
                ok "smstudioctl runs in the root: $(cat "$work/validate.out")"
        else
                fail "smstudioctl validate in the root: $(cat "$work/validate.out")"
        fi
        # The units as Debian 12's systemd sees them. A minimal root has no
        # man(1), so only the Documentation= lookups may complain.
        chroot "$root" systemd-analyze verify /lib/systemd/system/smstudiod.service \
                /lib/systemd/system/smstudiod.socket >"$work/verify.out" 2>&1 || true
        if grep -v "Command 'man " "$work/verify.out" | grep . >"$work/verify.err"; then
                fail "systemd-analyze verify in the root: $(cat "$work/verify.err")"
        else
                ok "systemd-analyze verify in the root (ExecReload's /bin/kill from procps)"
        fi
        # systemd's dpkg trigger on /usr/lib/systemd/catalog indexed ours.
        id=$(sed -n 's/^-- \([0-9a-f]\{32\}\)$/\1/p' "$top/docs/smstudio.catalog" | head -n 1)
        chroot "$root" journalctl --list-catalog >"$work/catalog.out" 2>&1 || true
        if grep -q "^$id " "$work/catalog.out"; then
                ok "journal catalog indexed ($id)"
        else
                fail "journal catalog entry $id not indexed"
        fi
else
        mkdir "$root"
        dpkg-deb -x "$deb" "$root"
        # What postinst's systemd-sysusers does, against the extracted tree.
        systemd-sysusers --root="$root" smstudio.conf
        lap "extract"
fi

# --- files, modes, user, units ----------------------------------------------
# mode owner path
expect() {
        local want=$1 path=$2 got
        if [ ! -e "$root$path" ]; then fail "missing $path"; return; fi
        got=$(stat -c '%a %U:%G' "$root$path")
        [ "$got" = "$want root:root" ] && ok "$path $got" || fail "$path is $got, want $want root:root"
}
expect 755 /usr/sbin/smstudiod
expect 755 /usr/bin/smstudioctl
expect 644 /lib/systemd/system/smstudiod.service
expect 644 /lib/systemd/system/smstudiod.socket
expect 644 /usr/lib/sysusers.d/smstudio.conf
expect 644 /usr/lib/tmpfiles.d/smstudio.conf
expect 644 /etc/smstudio/smstudiod.yaml
expect 644 /usr/lib/systemd/catalog/smstudio.catalog
expect 755 /usr/share/smstudio/lifecycle/idle-shutdown.sh
expect 644 /usr/share/bash-completion/completions/smstudioctl
expect 644 /usr/share/man/man8/smstudiod.8.gz
expect 644 /usr/share/man/man1/smstudioctl.1.gz
expect 644 /usr/share/man/man5/smstudio.d.5.gz
expect 644 /usr/share/man/man5/smstudiod.yaml.5.gz
expect 644 /usr/share/doc/smstudio/copyright
cmp -s "$top/config/smstudiod.yaml" "$root/etc/smstudio/smstudiod.yaml" &&
        ok "shipped config is config/smstudiod.yaml" || fail "/etc/smstudio/smstudiod.yaml differs"
grep -q '^ELF.*pie executable' <<<"$(file -b "$root/usr/sbin/smstudiod")" &&
        ok "smstudiod is a PIE ELF" || fail "smstudiod: $(file -b "$root/usr/sbin/smstudiod")"

unit=$root/lib/systemd/system/smstudiod.service
grep -qx 'ExecStart=/usr/sbin/smstudiod.*' "$unit" && ok "unit ExecStart=/usr/sbin/smstudiod" ||
        fail "unit ExecStart: $(grep ExecStart= "$unit" || true)"
grep -qx 'User=smstudio' "$unit" && ok "unit User=smstudio" || fail "unit does not run as smstudio"
grep -qE '^Type=notify(-reload)?$' "$unit" && ok "unit $(grep ^Type= "$unit")" || fail "unit Type"
grep -qE '^u[[:space:]]+smstudio[[:space:]]' "$root/usr/lib/sysusers.d/smstudio.conf" &&
        ok "sysusers entry for user smstudio" || fail "no sysusers entry for smstudio"
grep -q '/etc/smstudio.d' "$root/usr/lib/tmpfiles.d/smstudio.conf" &&
        ok "tmpfiles entry for /etc/smstudio.d" || fail "no tmpfiles entry for /etc/smstudio.d"

# The user: a system account without a login shell, home the state directory.
pw=$(grep '^smstudio:' "$root/etc/passwd" || true)
IFS=: read -r _ _ uid _ _ home shell <<<"$pw"
if [ -z "$pw" ]; then fail "no user smstudio in the root"
elif [ "$uid" -ge 1000 ] || [ "$uid" -eq 0 ]; then fail "smstudio uid $uid is not a system uid"
else ok "user smstudio uid $uid home $home shell $shell"; fi
[ "$home" = /var/lib/smstudio ] || fail "smstudio home is $home"
case $shell in */nologin | /bin/false) ;; *) fail "smstudio shell $shell" ;; esac
grep -q '^smstudio:' "$root/etc/group" && ok "group smstudio" || fail "no group smstudio"

# Nothing enabled: no symlink to our units anywhere under /etc/systemd.
links=$(find "$root/etc/systemd" -name 'smstudiod.*' 2>/dev/null || true)
[ -z "$links" ] && ok "no unit enabled" || fail "units enabled: $links"

# Reinstall over an edited config, then purge (debootstrap root only).
if [ "$mode" = debootstrap ]; then
        echo '# edited by the admin' >>"$root/etc/smstudio/smstudiod.yaml"
        edited=$(cat "$root/etc/smstudio/smstudiod.yaml")
        printf 'kind: User\nname: alice\n' >"$root/etc/smstudio.d/alice.yaml"
        mkdir -p "$root/var/lib/smstudio" && touch "$root/var/lib/smstudio/state"
        if chroot "$root" dpkg -i "/tmp/$(basename "$deb")" >"$work/reinstall.log" 2>&1 </dev/null; then
                [ "$(cat "$root/etc/smstudio/smstudiod.yaml")" = "$edited" ] &&
                        ok "reinstall keeps the edited smstudiod.yaml" || fail "reinstall overwrote smstudiod.yaml"
        else
                fail "reinstall: $(tail -n 5 "$work/reinstall.log")"
        fi
        if chroot "$root" dpkg --purge smstudio >"$work/purge.log" 2>&1 </dev/null; then
                for f in /usr/sbin/smstudiod /etc/smstudio/smstudiod.yaml /var/lib/smstudio; do
                        [ ! -e "$root$f" ] && ok "purge removed $f" || fail "purge left $f"
                done
                [ -f "$root/etc/smstudio.d/alice.yaml" ] &&
                        ok "purge kept the admin's /etc/smstudio.d/alice.yaml" || fail "purge removed manifests"
        else
                fail "purge: $(tail -n 5 "$work/purge.log")"
        fi
fi

say "total: $((SECONDS - t0)) s"
if [ $fails -ne 0 ]; then say "$fails check(s) failed"; exit 1; fi
say "all checks passed"
