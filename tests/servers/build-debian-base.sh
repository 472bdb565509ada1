#!/usr/bin/env bash
# Make the base image of deploy/Dockerfile, debian:bookworm-slim, from
# Debian's own packages with debootstrap, for machines that cannot pull it
# from a registry. Its root filesystem is made once and cached as a tarball
# in HERALD_CACHE (default ~/.cache/herald), keyed by suite, point release
# and release date; it is imported into buildah's local storage as
# localhost/herald-base:KEY and tagged docker.io/library/debian:bookworm-slim
# (replacing a pulled image of that name), so `FROM debian:bookworm-slim`
# finds it and the same Dockerfile serves `docker build` unchanged.
# Prints the image name. A second run finds the image and returns.
#
# Like the official slim image: the minbase variant (Essential and apt),
# no documentation, manual pages or translations, installed or later,
# deb822 sources for the suite, its updates and security, no apt lists.
set -euo pipefail
SUITE=${DEBIAN_SUITE:-bookworm}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
SECURITY_MIRROR=${DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
CACHE=${HERALD_CACHE:-$HOME/.cache/herald}
image=docker.io/library/debian:$SUITE-slim
mkdir -p "$CACHE"

# The key: suite, point release (Version:) and its date, from the mirror's
# Release file. Offline, the newest cached tarball of the suite serves.
release=$(curl -fsS --max-time 60 "$MIRROR/dists/$SUITE/Release" 2>/dev/null || true)
version=$(printf '%s\n' "$release" | sed -n 's/^Version: *//p')
date=$(printf '%s\n' "$release" | sed -n 's/^Date: *//p')
if [ -n "$version" ] && [ -n "$date" ]; then
  key=debian-$SUITE-$version-$(date -u -d "$date" +%Y%m%d)
else
  tarball=$(ls -1 "$CACHE"/debian-"$SUITE"-*.tar.gz 2>/dev/null | sort -V | tail -n1 || true)
  [ -n "$tarball" ] || { echo "build-debian-base: cannot read $MIRROR/dists/$SUITE/Release and nothing is cached" >&2; exit 1; }
  key=$(basename "$tarball" .tar.gz)
fi
tarball=$CACHE/$key.tar.gz
local=localhost/herald-base:$key

if buildah inspect --type image "$local" >/dev/null 2>&1; then
  buildah tag "$local" "$image"
  echo "$image"; exit 0
fi

if [ ! -f "$tarball" ]; then
  root=$(mktemp -d "$CACHE/$key.XXXXXX")
  trap 'rm -rf "$root"' EXIT
  echo "build-debian-base: debootstrap $SUITE ($key) from $MIRROR" >&2
  # Nothing of what the package manager will install later either.
  mkdir -p "$root/etc/dpkg/dpkg.cfg.d"
  cat > "$root/etc/dpkg/dpkg.cfg.d/slim" <<'EOF'
# A container base: no documentation, manual pages or translations.
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
EOF
  debootstrap --variant=minbase "$SUITE" "$root" "$MIRROR" >"$root.log" 2>&1 \
    || { tail -n 20 "$root.log" >&2; rm -f "$root.log"; exit 1; }
  rm -f "$root.log"
  rm -f "$root/etc/apt/sources.list"
  cat > "$root/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: $MIRROR
Suites: $SUITE $SUITE-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: $SECURITY_MIRROR
Suites: $SUITE-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
  cat > "$root/etc/apt/apt.conf.d/slim" <<'EOF'
// A container base: no translations, no package caches left in layers.
Acquire::Languages "none";
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
EOF
  # What debootstrap installed before the excludes took effect.
  find "$root/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
  find "$root/usr/share/doc" -mindepth 1 -type d -empty -delete
  rm -rf "$root"/usr/share/{man,info,groff,lintian,linda}/*
  find "$root/usr/share/locale" -mindepth 1 -maxdepth 1 -not -name locale.alias -exec rm -rf {} +
  rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/* "$root"/var/cache/debconf/*-old \
         "$root"/var/log/apt/* "$root"/var/log/*.log "$root"/tmp/* "$root"/var/tmp/* \
         "$root"/etc/resolv.conf "$root"/etc/hostname
  : > "$root/etc/machine-id"
  tar --numeric-owner --xattrs -C "$root" -cf - . | gzip -1 > "$tarball.tmp"
  mv "$tarball.tmp" "$tarball"
  rm -rf "$root"; trap - EXIT
fi

ctr=$(buildah from scratch)
trap 'buildah rm "$ctr" >/dev/null 2>&1 || true' EXIT
mnt=$(buildah mount "$ctr")
tar --numeric-owner --xattrs -xzpf "$tarball" -C "$mnt"
buildah umount "$ctr" >/dev/null
buildah config --os linux --arch "$(dpkg --print-architecture)" \
  --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
  --cmd '["bash"]' "$ctr"
buildah commit -q --rm "$ctr" "$local" >/dev/null
trap - EXIT
buildah tag "$local" "$image"
echo "$image"
