#!/bin/sh
# Fetches Debian bookworm's own Node.js 18 (the one the base image runs the enclave bootstrap with) into
# .cache/node18 without installing it, and prints the path of a wrapper that runs it. Needs root (the
# wrapper overlays Debian's externalized builtins on /usr/share in a private mount namespace) and access to
# Debian's archive. Used to run the bootstrap tests under Node 18:
#   MSE_TEST_NODE=$(scripts/debian-node18.sh) node --test dist/enclave/bootstrap.e2e.test.js
set -eu
dir="$(cd "$(dirname "$0")/.." && pwd)/.cache/node18"
if [ ! -x "$dir/node" ]; then
  mkdir -p "$dir/debs" "$dir/root"
  cd "$dir/debs"
  # Debian's build (another nodejs, e.g. NodeSource's, may be the candidate on this machine)
  v="$(apt-cache madison nodejs | awk '/dfsg/ { print $3; exit }')"
  apt-get download "nodejs=$v" "libnode108=$v" libc-ares2 node-acorn node-cjs-module-lexer node-undici >&2
  for f in ./*.deb; do dpkg-deb -x "$f" "$dir/root"; done
  cat >"$dir/node" <<WRAPPER
#!/bin/sh
exec unshare -m sh -c 'mount -t overlay overlay -o lowerdir=$dir/root/usr/share:/usr/share /usr/share && LD_LIBRARY_PATH=$dir/root/usr/lib/x86_64-linux-gnu exec $dir/root/usr/bin/node "\$@"' sh "\$@"
WRAPPER
  chmod +x "$dir/node"
fi
"$dir/node" --version >&2
echo "$dir/node"
