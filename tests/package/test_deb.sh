#!/bin/bash
# test_deb.sh - the Debian package on this machine: dpkg -i, then the checks of lib_install.sh on
# /usr/bin/cloudm (run memoizes a test program from any directory with no environment variable,
# man -w finds the pages, the completion loads through bash-completion in `bash -i`, doctor),
# systemd-analyze verify on the installed unit (man page check included), then dpkg -r removes
# every binary (conffiles stay, as Debian wants) and dpkg -P the rest.
#
# It changes the machine, so it is not a ctest: .ci/run's "package" stage runs it after
# .ci/package. It refuses to run when cloudm is already installed, and removes (purges) the
# package on every exit path, so the machine is left as it was found.
#
# Usage: test_deb.sh DEB   (as root)
. "$(dirname "$0")/../e2e/lib.sh"
. "$(dirname "$0")/lib_install.sh"
DEB=$(realpath "$1")

if [ "$(id -u)" -ne 0 ]; then
  echo "test_deb.sh: needs root (dpkg -i)" >&2
  exit 1
fi
if [ "$(dpkg-query -W -f='${db:Status-Status}' cloudm 2>/dev/null)" != "" ] &&
  [ "$(dpkg-query -W -f='${db:Status-Status}' cloudm 2>/dev/null)" != not-installed ]; then
  echo "test_deb.sh: cloudm is already installed here; not touching it" >&2
  exit 1
fi
installed=0
cleanup() {
  if [ "$installed" = 1 ]; then
    dpkg -P cloudm >"$CM_TMP/purge.log" 2>&1 || cat "$CM_TMP/purge.log" >&2
  fi
  rm -rf "$CM_TMP"
}
trap cleanup EXIT

# Minimal images exclude /usr/share/man and /usr/share/doc from dpkg (path-exclude): include
# this package's files anyway, for this install only.
installed=1
if ! dpkg --path-include='/usr/share/man/*' --path-include='/usr/share/doc/cloudm/*' -i "$DEB" \
  >"$CM_TMP/install.log" 2>&1; then
  cat "$CM_TMP/install.log" >&2
  cm_fail "dpkg -i $DEB"
  cm_done
fi
cm_ok "dpkg -i $(basename "$DEB")"
triplet=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
bins=(/usr/bin/cloudm "/usr/lib/$triplet/cloudm/libcloudm.so" "/usr/lib/$triplet/cloudm/libcloudm-remote.so")
others=(/usr/share/man/man1/cloudm.1.gz /usr/share/man/man5/cloudm.conf.5.gz
  /usr/share/man/man8/cloudm-keycache.8.gz /usr/share/bash-completion/completions/cloudm
  /lib/systemd/system/cloudm-keycache.service /usr/share/doc/cloudm/examples/lgamma.conf)
conffiles=(/etc/cloudm/cloudm.conf /etc/default/cloudm-keycache)
for f in "${bins[@]}" "${others[@]}" "${conffiles[@]}"; do
  cm_expect_eq "installed: $f" "$([ -f "$f" ] && echo yes || echo no)" yes
done
cm_expect_eq "conffiles" "$(dpkg-query -W -f='${Conffiles}' cloudm | awk 'NF {print $1}' | sort | tr '\n' ' ')" \
  "/etc/cloudm/cloudm.conf /etc/default/cloudm-keycache "
cm_expect_eq "the system config parses (cloudm check)" \
  "$(cd / && env -i PATH=/usr/bin:/bin HOME=/nonexistent /usr/bin/cloudm check >/dev/null 2>&1; echo $?)" 0

cm_install_checks /usr/bin/cloudm "" /usr/share/bash-completion/completions/cloudm loader

# The system config: with no -c, no CLOUDM_CONFIG, no ./cloudm.conf and no user config,
# /etc/cloudm/cloudm.conf is used (the purge below removes the edited conffile too).
cat >/etc/cloudm/cloudm.conf <<CONF
[cache]
shared_path = $CM_TMP/sysseg-%u
[function lgamma]
signature = f64 lgamma(f64 x)
writes    = signgam:4
CONF
mkdir -p "$CM_TMP/nowhere"
(cd "$CM_TMP/nowhere" && env -i PATH=/usr/bin:/bin HOME="$CM_TMP/nowhere" /usr/bin/cloudm run \
  --report="$CM_TMP/sys.json" -- "$CM_TMP/memo_prog") >"$CM_TMP/sys.out" 2>"$CM_TMP/sys.err"
echo $? >"$CM_TMP/sys.rc"
cm_same plain sys
cm_expect_eq "system config: lgamma hits" "$(cm_hits sys lgamma)" 980

SYSTEMD_LOG_LEVEL=warning systemd-analyze verify /lib/systemd/system/cloudm-keycache.service \
  >"$CM_TMP/verify.out" 2>&1
cm_expect_eq "systemd-analyze verify (installed unit, man page included): exit status" "$?" 0
cm_expect_nomatch "systemd-analyze verify: no complaint about the unit" "$CM_TMP/verify.out" 'cloudm-keycache'

# dpkg -r removes every binary; the conffiles stay until purge.
dpkg -r cloudm >"$CM_TMP/remove.log" 2>&1
cm_expect_eq "dpkg -r cloudm: exit status" "$?" 0
for f in "${bins[@]}" "${others[@]}"; do
  cm_expect_eq "removed: $f" "$([ -e "$f" ] && echo present || echo gone)" gone
done
cm_expect_eq "nothing of cloudm left in /usr/lib/$triplet" "$([ -e "/usr/lib/$triplet/cloudm" ] && echo present || echo gone)" gone
dpkg -P cloudm >"$CM_TMP/purge.log" 2>&1
cm_expect_eq "dpkg -P cloudm: exit status" "$?" 0
installed=0
for f in "${conffiles[@]}"; do
  cm_expect_eq "purged: $f" "$([ -e "$f" ] && echo present || echo gone)" gone
done
cm_expect_eq "package state after purge" "$(dpkg-query -W -f='${db:Status-Status}' cloudm 2>/dev/null || echo not-installed)" not-installed
cm_done
