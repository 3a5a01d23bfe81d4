#!/bin/sh
# Prepares, once per machine, the real 2013 pkgsrc tree, its bootstrap kit and
# pkgsrc's own pbulk tools in a cache directory outside the repository, keyed
# by the tarball's checksum; prints that directory. Later runs reuse it.
#
#   scripts/pkgsrc2013.sh [DATA_DIR]     (default ../shared/data/pkgsrc-2013)
#
# The cache directory, ${XDG_CACHE_HOME:-$HOME/.cache}/herd/pkgsrc-2013-SHA/:
#   pkgsrc/       the unpacked tree, stamped with a herd tree id
#   prefix/       the bootstrap kit (bmake, pkg_install, mk files); its path is
#                 compiled into those tools, so hosts see their own copy there
#   kit.tar       the pristine prefix, which each build's Init restores
#   pbulk/        pbulk-scan, pbulk-resolve, pbulk-build built from this tree
#   ready         written last: without it, whatever is there is redone
#
# The bootstrap's prefix cannot be built elsewhere and renamed, so the gate is
# the `ready` file, and a lock keeps two preparations from racing. Takes about
# 2-3 minutes on 2 cores; needs gcc, make, bash, zstd, flock (util-linux).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
data=${1:-$here/../../shared/data/pkgsrc-2013}
data=$(cd "$data" && pwd)
anchors=$(cd "$data/../../anchors" && pwd)
tarball=$data/pkgsrc-2013-03-30.tar.zst
sha=$(sha256sum "$tarball" | cut -c1-12)
dir=${XDG_CACHE_HOME:-$HOME/.cache}/herd/pkgsrc-2013-$sha

if [ -f "$dir/ready" ]; then
  echo "$dir"
  exit 0
fi
mkdir -p "$dir"
exec 9>"$dir/lock"
flock 9
if [ -f "$dir/ready" ]; then
  echo "$dir"
  exit 0
fi

echo "pkgsrc2013: preparing $dir (tree, bootstrap, pbulk tools; about 3 minutes)" >&2
rm -rf "$dir/pkgsrc" "$dir/prefix" "$dir/pbulk" "$dir/kit.tar" "$dir"/tmp.*
tmp=$(mktemp -d "$dir/tmp.XXXXXX")
mkdir "$tmp/tree"
zstd -qdc "$tarball" | tar -x -C "$tmp/tree"
sh "$data/bootstrap.sh" "$tmp/tree" "$dir/prefix" "$tmp/work" >&2
(cd "$dir/prefix" && tar -cf "$tmp/kit.tar" .)
mv "$tmp/kit.tar" "$dir/kit.tar"
rm -rf "$tmp/tree/pkgsrc/bootstrap/work" "$tmp/work"
cat /proc/sys/kernel/random/uuid >"$tmp/tree/pkgsrc/.herd-tree-id"
mv "$tmp/tree/pkgsrc" "$dir/pkgsrc"
sh "$anchors/build-pbulk-resolve.sh" "$dir/pkgsrc" "$tmp/pbulk" >/dev/null
mv "$tmp/pbulk" "$dir/pbulk"
mv "$tmp/work.log" "$dir/bootstrap.log" 2>/dev/null || true
rm -rf "$tmp"
date -u +%Y-%m-%dT%H:%M:%SZ >"$dir/ready"
echo "pkgsrc2013: ready" >&2
echo "$dir"
