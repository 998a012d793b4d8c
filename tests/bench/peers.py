"""Peer mounts of the swiftfs benchmark: rclone mount (swift backend) and
s3fs (through Swift's s3api middleware), with SwiftfsMount's interface
(context manager; .path, .pid, .stats, .kind) so that every workload runs
them exactly as it runs swiftfs.

Each mount runs its daemon in the foreground (its pid is the process whose
peak RSS and CPU the bench reads), gets a fresh cache folder under the
bench's cache base unless the caller passes one to keep (a remount that
reads the on-disk cache), and is unmounted with fusermount3 -u.
"""
import os
import shutil

import bench as B

RCLONE_REMOTE = "benchswift"


def rclone_config(ctx):
    """The rclone config file of the bench Swift (TempAuth v1), written once
    per bench run into its work folder (mode 0600: it holds the key)."""
    path = os.path.join(ctx.workdir, "rclone.conf")
    if not os.path.exists(path):
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write("[%s]\ntype = swift\nenv_auth = false\nuser = %s\nkey = %s\n"
                    "auth = %s\nauth_version = 1\n"
                    % (RCLONE_REMOTE, B.USER, B.KEY, ctx.swift.auth_url))
    return path


def s3fs_passwd(ctx, bucket):
    """An s3fs passwd file for one bucket: BUCKET:ACCESS:SECRET, the access
    key (test:tester) holding a colon, which this form allows."""
    path = os.path.join(ctx.workdir, "s3fs-%s.passwd" % bucket)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write("%s:%s:%s\n" % (bucket, B.USER, B.KEY))
    return path


class PeerMount(B.SwiftfsMount):
    """Common part: a fresh cache folder (or the caller's, kept)."""

    def fresh_cache_dir(self):
        if self.given_cache_dir:
            os.makedirs(self.given_cache_dir, exist_ok=True)
            return self.given_cache_dir
        self.cache_dir = os.path.join(self.ctx.cache_base, os.path.basename(self.path))
        shutil.rmtree(self.cache_dir, ignore_errors=True)
        os.makedirs(self.cache_dir)
        return self.cache_dir

    def base_env(self):
        return {k: v for k, v in os.environ.items()
                if not k.startswith(("ST_", "OS_", "RCLONE_", "AWS"))}


class RcloneMount(PeerMount):
    """`rclone mount REMOTE:CONTAINER PATH` in the foreground. opts are
    rclone flags (e.g. --vfs-cache-mode=full)."""
    kind = "rclone"

    def command(self):
        cmd = ["rclone", "--config", rclone_config(self.ctx), "mount",
               "%s:%s" % (RCLONE_REMOTE, self.source), self.path,
               "--cache-dir", self.fresh_cache_dir()] + list(self.opts)
        env = self.base_env()
        env.update(self.extra_env)
        return cmd, env


class S3fsMount(PeerMount):
    """`s3fs BUCKET PATH -f -o url=...,use_path_request_style,...` through
    the bench Swift's s3api. opts are s3fs -o options; "use_cache" alone
    means use_cache=<fresh cache folder>."""
    kind = "s3fs"

    def command(self):
        opts = ["url=http://127.0.0.1:%d" % self.ctx.swift.port, "use_path_request_style",
                "passwd_file=" + s3fs_passwd(self.ctx, self.source)]
        for o in self.opts:
            opts.append("use_cache=" + self.fresh_cache_dir() if o == "use_cache" else o)
        cmd = ["s3fs", self.source, self.path, "-f", "-o", ",".join(opts)]
        env = self.base_env()
        env.update(self.extra_env)
        return cmd, env


def register():
    """Add the peer kinds and their configurations to the bench's tables."""
    B.MOUNT_KINDS.update(rclone=RcloneMount, s3fs=S3fsMount)
    # --use-server-modtime: the modification time comes from the listing,
    # not from a HEAD per object (X-Object-Meta-Mtime): the faster way,
    # kept for both cache modes. Otherwise rclone's defaults: with
    # --vfs-cache-mode full a closed file is uploaded 5 s later
    # (--vfs-write-back); rclone-full-wb0 starts at once, but with 0s, in
    # one run 11 of zarr's 65 renamed chunk files were still not in Swift
    # 120 s after zarr had finished.
    common = ["--use-server-modtime"]
    B.TARGETS.update({
        "rclone-full": {"kind": "rclone", "opts": ["--vfs-cache-mode=full"] + common},
        "rclone-off": {"kind": "rclone", "opts": ["--vfs-cache-mode=off"] + common,
                       "skip_rows": ["W6"],
                       "skip_why": "the cache mode does not change rclone's listings"},
        # the other way: modification times by HEAD (W6 shows the cost)
        "rclone-full-mtime": {"kind": "rclone", "opts": ["--vfs-cache-mode=full"]},
        "rclone-full-wb0": {"kind": "rclone", "opts": ["--vfs-cache-mode=full",
                                                       "--vfs-write-back=0s"] + common},
        "s3fs": {"kind": "s3fs", "opts": []},
        "s3fs-cache": {"kind": "s3fs", "opts": ["use_cache"], "skip_rows": ["W5", "W6", "W7w"],
                       "skip_why": "use_cache changes where s3fs reads from, not its "
                                   "uploads or listings: same requests as s3fs"},
        # -o writeback changes only what close() waits for (fs_flush); a
        # read or a listing takes swiftfs's own path, measured once there
        "swiftfs-wb": {"kind": "swiftfs", "opts": ["writeback"],
                       "skip_rows": ["W2", "W3", "W3r", "W4", "W6", "W7r", "W7c"],
                       "skip_why": "writeback changes close() only: reads and listings "
                                   "are swiftfs's"},
    })
