#!/usr/bin/python3
"""A FUSE filesystem that loses every write not fsynced when it is killed ("power cut").

usage: lossyfs.py BACKING_DIR MOUNTPOINT      (foreground; SIGKILL it to cut the power)

File data lives in memory until fsync(2) copies the whole file to BACKING_DIR. Namespace
operations (create, rename, unlink, mkdir) reach the backing directory at once, with the data
they have so far been fsynced with — like a filesystem that journals metadata but not data.

It mounts with allow_other: it runs as root, and the store under test runs as another user
(uid 65534) on it.
"""
import errno, os, stat, sys, threading, time
import fusepy
from fusepy import FUSE, FuseOSError, Operations

class LossyFS(Operations):
    def __init__(self, backing):
        self.backing = backing
        self.files = {}          # path -> bytearray (the in-memory, possibly unsynced content)
        self.lock = threading.Lock()

    def _real(self, path):
        return os.path.join(self.backing, path.lstrip("/"))

    def _content(self, path):
        if path not in self.files:
            with open(self._real(path), "rb") as f:
                self.files[path] = bytearray(f.read())
        return self.files[path]

    def getattr(self, path, fh=None):
        with self.lock:
            st = os.lstat(self._real(path))
            attrs = {k: getattr(st, k) for k in ("st_mode", "st_nlink", "st_uid", "st_gid", "st_atime", "st_mtime", "st_ctime")}
            attrs["st_size"] = len(self.files[path]) if path in self.files else st.st_size
            return attrs

    def readdir(self, path, fh):
        return [".", ".."] + [n for n in os.listdir(self._real(path)) if not n.endswith(".lossyfs-tmp")]

    def mkdir(self, path, mode):
        os.mkdir(self._real(path), mode)

    def rmdir(self, path):
        os.rmdir(self._real(path))

    def create(self, path, mode, fi=None):
        # The kernel sends CREATE for open(O_CREAT) also when the file exists: keep its content.
        with self.lock:
            os.close(os.open(self._real(path), os.O_CREAT | os.O_WRONLY, mode))
            self._content(path)
        return 0

    def open(self, path, flags):
        with self.lock:
            content = self._content(path)
            if flags & os.O_TRUNC:
                del content[:]
        return 0

    def read(self, path, size, offset, fh):
        with self.lock:
            return bytes(self._content(path)[offset:offset + size])

    def write(self, path, data, offset, fh):
        with self.lock:
            content = self._content(path)
            if offset > len(content):
                content.extend(b"\0" * (offset - len(content)))
            content[offset:offset + len(data)] = data
            return len(data)

    def truncate(self, path, length, fh=None):
        with self.lock:
            content = self._content(path)
            if length < len(content):
                del content[length:]
            else:
                content.extend(b"\0" * (length - len(content)))

    def fsync(self, path, datasync, fh):
        # Replace the backing file atomically: a kill in the middle of this copy must not destroy
        # what an earlier fsync made durable (a real disk would not lose it either).
        with self.lock:
            if path in self.files:
                real = self._real(path)
                tmp = real + ".lossyfs-tmp"
                with open(tmp, "wb") as f:
                    f.write(self.files[path])
                    f.flush()
                    os.fsync(f.fileno())
                os.replace(tmp, real)
        return 0

    def fsyncdir(self, path, datasync, fh):
        return 0

    def flush(self, path, fh):
        return 0

    def release(self, path, fh):
        return 0

    def rename(self, old, new):
        with self.lock:
            os.rename(self._real(old), self._real(new))
            if old in self.files:
                self.files[new] = self.files.pop(old)
            else:
                self.files.pop(new, None)

    def unlink(self, path):
        with self.lock:
            os.unlink(self._real(path))
            self.files.pop(path, None)

    def access(self, path, amode):
        if not os.path.exists(self._real(path)):
            raise FuseOSError(errno.ENOENT)
        return 0

    def statfs(self, path):
        st = os.statvfs(self.backing)
        return {k: getattr(st, k) for k in ("f_bavail", "f_bfree", "f_blocks", "f_bsize", "f_favail", "f_ffree", "f_files", "f_flag", "f_frsize", "f_namemax")}

if __name__ == "__main__":
    FUSE(LossyFS(sys.argv[1]), sys.argv[2], foreground=True, nothreads=False, allow_other=True)
