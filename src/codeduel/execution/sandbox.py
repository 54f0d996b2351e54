"""Isolation layers applied to each untrusted child process, and probes for them.

Every layer is best effort: it is probed once when a worker starts and recorded as a
:class:`~codeduel.execution.base.LayerStatus`; a layer that does not work on this machine is
skipped with the reason, never a crash. The functions here are called in the forked child,
before any untrusted code runs, so they use only ``os`` and ``ctypes`` (no new imports).

Why each layer (see docs/security.md):

- own process group + group kill: the deadline kills everything the child started;
- rlimits: memory, CPU, file size, open files, processes;
- privilege drop (root only): to a uid of the worker's own (:func:`worker_uid`, else 65534) so
  ``RLIMIT_NPROC`` and file permissions apply and no worker's programs share a count or
  signal rights with another's;
- network namespace (per worker): no usable network at all;
- Landlock: filesystem allowlist (read-only interpreter, read-write scratch dir), TCP and
  signal scoping where the kernel supports it;
- seccomp: deny process creation, exec, signals to others, sockets and escape syscalls;
- scratch (per worker): a private tmpfs of bounded size and inode count in its own mount
  namespace, so no program can fill shared memory or leave a tree the host must clean.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import resource
import stat
import sys
from typing import Any

NOBODY = 65534
# Each worker's programs run as SANDBOX_UID_BASE + the worker's pid: a uid no account uses,
# unique among live workers (pids are), so RLIMIT_NPROC counts one worker's programs alone.
SANDBOX_UID_BASE = 2_000_000_000


def worker_uid(pid: int) -> int:
    """The uid the programs of the worker with ``pid`` run as (where it can be set)."""
    return SANDBOX_UID_BASE + pid


CLONE_THREAD = 0x00010000
CLONE_NEWNS = 0x00020000
CLONE_NEWUSER = 0x10000000
CLONE_NEWNET = 0x40000000

PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36
PR_SET_KEEPCAPS = 8
PR_SET_SECCOMP = 22
PR_SET_NO_NEW_PRIVS = 38
SECCOMP_MODE_FILTER = 2
CAP_DAC_READ_SEARCH = 2
_LINUX_CAPABILITY_VERSION_3 = 0x20080522

# Landlock (uapi/linux/landlock.h); the syscall numbers are the same on every 64-bit arch.
_SYS_LANDLOCK_CREATE_RULESET = 444
_SYS_LANDLOCK_ADD_RULE = 445
_SYS_LANDLOCK_RESTRICT_SELF = 446
_LL_CREATE_RULESET_VERSION = 1
_LL_RULE_PATH_BENEATH = 1
LL_EXECUTE = 1 << 0
LL_WRITE_FILE = 1 << 1
LL_READ_FILE = 1 << 2
LL_READ_DIR = 1 << 3
LL_TRUNCATE = 1 << 14
LL_IOCTL_DEV = 1 << 15
_LL_FS_V1 = (1 << 13) - 1
_LL_REFER = 1 << 13
_LL_NET_BIND_TCP = 1
_LL_NET_CONNECT_TCP = 2
_LL_SCOPE_ABSTRACT_UNIX = 1
_LL_SCOPE_SIGNAL = 2

# Denied with EPERM once seccomp is on. clone is denied only without CLONE_THREAD (threads
# still work, subject to RLIMIT_NPROC); clone3 gets ENOSYS so libc falls back to clone.
SECCOMP_DENY = (
    "fork",
    "vfork",
    "execve",
    "execveat",
    "kill",
    "tkill",
    "tgkill",
    "rt_sigqueueinfo",
    "rt_tgsigqueueinfo",
    "pidfd_open",
    "pidfd_send_signal",
    "pidfd_getfd",
    "socket",
    "socketpair",
    "connect",
    "bind",
    "listen",
    "accept",
    "accept4",
    "ptrace",
    "process_vm_readv",
    "process_vm_writev",
    "kcmp",
    "unshare",
    "setns",
    "mount",
    "umount2",
    "move_mount",
    "open_tree",
    "fsopen",
    "fsmount",
    "fspick",
    "mount_setattr",
    "pivot_root",
    "chroot",
    "bpf",
    "perf_event_open",
    "keyctl",
    "add_key",
    "request_key",
    "userfaultfd",
    "io_uring_setup",
    "io_uring_enter",
    "io_uring_register",
    "setsid",
    "setpgid",
    "setuid",
    "setgid",
    "setreuid",
    "setregid",
    "setresuid",
    "setresgid",
    "setgroups",
    "setfsuid",
    "setfsgid",
    "capset",
    "reboot",
    "swapon",
    "swapoff",
    "init_module",
    "finit_module",
    "delete_module",
    "kexec_load",
    "kexec_file_load",
    "iopl",
    "ioperm",
    "acct",
    "settimeofday",
    "clock_settime",
    "clock_adjtime",
    "adjtimex",
    "sethostname",
    "setdomainname",
    "quotactl",
    "name_to_handle_at",
    "open_by_handle_at",
    "syslog",
    "vhangup",
    "mknod",
    "mknodat",
    "fanotify_init",
)


# What a compiler or language runtime must be allowed (``exec`` programs): start processes,
# run programs, signal its own processes (Go preempts goroutines with tgkill). Signals to
# processes outside the program stay blocked by Landlock's signal scope (ABI >= 6) and the
# separate process group; sockets stay denied except AF_UNIX pairs inside the program.
EXEC_ALLOWED = frozenset(
    {
        "fork",
        "vfork",
        "execve",
        "execveat",
        "kill",
        "tkill",
        "tgkill",
        "rt_sigqueueinfo",
        "rt_tgsigqueueinfo",
        "pidfd_open",
        "pidfd_send_signal",
        "socket",
        "socketpair",
    }
)
SECCOMP_DENY_EXEC = tuple(name for name in SECCOMP_DENY if name not in EXEC_ALLOWED)
_AF_UNIX = 1
# Namespace flags a process created by clone() may not ask for (unshare is denied outright).
_CLONE_NEW = (0x00020000, 0x00000080, 0x02000000, 0x04000000, 0x08000000, 0x10000000,
              0x20000000, 0x40000000)  # fmt: skip

PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_RAISE = 2


class _Libc:
    """C functions resolved once per worker, with their signatures set.

    Resolving a ctypes function and assigning ``argtypes`` touches many objects; doing it
    in every forked child would copy those pages each time.
    """

    def __init__(self) -> None:
        lib = ctypes.CDLL(None, use_errno=True)  # the running process: libc is in it
        ulong = ctypes.c_ulong
        self.prctl = lib["prctl"]
        self.prctl.argtypes = [ctypes.c_int, ulong, ulong, ulong, ulong]
        self.prctl_ptr = lib["prctl"]  # a second object: arg3 is a pointer here
        self.prctl_ptr.argtypes = [ctypes.c_int, ulong, ctypes.c_void_p, ulong, ulong]
        self.unshare = lib["unshare"]
        self.unshare.argtypes = [ctypes.c_int]
        self.mount = lib["mount"]
        self.mount.argtypes = [ctypes.c_char_p] * 3 + [ulong, ctypes.c_char_p]
        self.capset = lib["capset"]
        self.syscall = lib["syscall"]
        self.syscall.restype = ctypes.c_long


_libc: _Libc | None = None


def libc() -> _Libc:
    """The C library functions this module calls (Python 3.11 wraps none of them)."""
    global _libc
    if _libc is None:
        _libc = _Libc()
    return _libc


def _check(ret: int, what: str) -> int:
    if ret < 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")
    return ret


def prctl(option: int, arg2: int = 0, arg3: int = 0, arg4: int = 0, arg5: int = 0) -> int:
    return _check(libc().prctl(option, arg2, arg3, arg4, arg5), "prctl")


def is_root() -> bool:
    return sys.platform.startswith("linux") and os.geteuid() == 0


# --------------------------------------------------------------------------- network namespace


def unshare_worker() -> str:
    """Give the calling worker its own network and mount namespaces (one each, for life).

    Returns which namespaces were entered ("net+mnt", "net", or raises OSError). As non-root
    this needs a user namespace; the worker then maps its own uid/gid into it, so files it and
    its children create on the private tmpfs keep a real owner.
    """
    root = is_root()
    uid, gid = os.getuid(), os.getgid()
    flags = CLONE_NEWNET | CLONE_NEWNS
    if not root:
        flags |= CLONE_NEWUSER
    if libc().unshare(flags) == 0:
        if not root:
            _map_ids(uid, gid)
        return "net+mnt"
    err = ctypes.get_errno()
    flags &= ~CLONE_NEWNS
    if libc().unshare(flags) == 0:
        if not root:
            _map_ids(uid, gid)
        return "net"
    raise OSError(err, f"unshare(CLONE_NEWNET): {os.strerror(err)}")


def _map_ids(uid: int, gid: int) -> None:
    """Map this process's own ids into the user namespace it just created."""
    with contextlib.suppress(OSError), open("/proc/self/setgroups", "w") as f:
        f.write("deny")
    for name, value in (("uid_map", uid), ("gid_map", gid)):
        with contextlib.suppress(OSError), open(f"/proc/self/{name}", "w") as f:
            f.write(f"{value} {value} 1")


_MS_NOSUID = 2
_MS_NODEV = 4
_MS_REC = 16384
_MS_PRIVATE = 1 << 18


def mount_scratch(path: str, size_mb: int, inodes: int, uid: int, gid: int) -> None:
    """Mount a private tmpfs of ``size_mb`` MiB and ``inodes`` files at ``path``.

    Called once per worker, inside its own mount namespace (:func:`unshare_worker`): mounts
    are made private first so nothing propagates to the host. The bound is what keeps a
    program from filling /dev/shm (and with it the memory cgroup the judges live in) or from
    leaving millions of files; the mount disappears with the worker's namespace even if the
    worker is killed.
    """
    lib = libc()
    if lib.mount(b"none", b"/", None, _MS_REC | _MS_PRIVATE, None) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"making mounts private: {os.strerror(err)}")
    opts = f"size={max(1, size_mb)}m,nr_inodes={max(16, inodes)},mode=0700"
    if is_root():
        opts += f",uid={uid},gid={gid}"
    flags = _MS_NOSUID | _MS_NODEV
    if lib.mount(b"codeduel", os.fsencode(path), b"tmpfs", flags, opts.encode()) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"mounting a tmpfs at {path}: {os.strerror(err)}")


def remove_tree(path: str, *, keep_root: bool = False) -> int:
    """Delete ``path`` (a directory, a file or a link) without recursion or path lengths.

    ``shutil.rmtree`` recurses once per level and builds full paths: a program that nests a
    few thousand directories makes it raise RecursionError (and paths exceed PATH_MAX). This
    walks with one open directory at a time, relative to its parent's fd, never following a
    link, and restores permissions a program removed. Returns how many entries it could not
    delete (0 when everything is gone). ``keep_root``: empty the directory, keep it.
    """
    flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
    try:
        fd = os.open(path, flags)
    except NotADirectoryError:
        return _unlink_quietly(path)
    except OSError as e:
        if e.errno == errno.ELOOP or (e.errno == errno.ENOTDIR and not keep_root):
            return _unlink_quietly(path)
        if e.errno == errno.ENOENT:
            return 0
        return 1
    names: list[str] = []  # the path from the root down to the current directory
    stuck: set[tuple[int, int]] = set()  # (dev, inode) of entries that cannot be removed
    failed = 0
    try:
        while True:
            descended = False
            try:
                with os.scandir(fd) as entries:
                    for entry in entries:
                        try:
                            st = entry.stat(follow_symlinks=False)
                        except OSError:
                            continue
                        if (st.st_dev, st.st_ino) in stuck:
                            continue
                        if stat.S_ISDIR(st.st_mode):
                            child = _open_dir(entry.name, fd, flags)
                            if child is None:
                                stuck.add((st.st_dev, st.st_ino))
                                failed += 1
                                continue
                            names.append(entry.name)
                            os.close(fd)
                            fd = child
                            descended = True
                            break
                        try:
                            os.unlink(entry.name, dir_fd=fd)
                        except FileNotFoundError:
                            pass
                        except OSError:
                            stuck.add((st.st_dev, st.st_ino))
                            failed += 1
            except OSError:
                failed += 1
            if descended:
                continue
            if not names:  # back at the root: everything below is gone (or stuck)
                break
            parent = os.open("..", flags, dir_fd=fd)
            here = os.fstat(fd)
            os.close(fd)
            fd = parent
            name = names.pop()
            try:
                os.rmdir(name, dir_fd=fd)
            except FileNotFoundError:
                pass
            except OSError:
                if (here.st_dev, here.st_ino) not in stuck:
                    stuck.add((here.st_dev, here.st_ino))
                    failed += 1
    finally:
        os.close(fd)
    if not keep_root and not failed:
        try:
            os.rmdir(path)
        except FileNotFoundError:
            pass
        except OSError:
            failed += 1
    return failed


def _open_dir(name: str, parent_fd: int, flags: int) -> int | None:
    """Open a subdirectory to empty it, first giving back the permissions a program took."""
    for attempt in range(2):
        try:
            return os.open(name, flags, dir_fd=parent_fd)
        except PermissionError:
            if attempt:
                return None
            try:
                os.chmod(name, 0o700, dir_fd=parent_fd, follow_symlinks=False)
            except OSError:
                return None
        except OSError:
            return None
    return None


def _unlink_quietly(path: str) -> int:
    try:
        os.unlink(path)
    except FileNotFoundError:
        return 0
    except OSError:
        return 1
    return 0


def set_oom_score(value: int) -> None:
    """Make this process (and what it forks) the OOM killer's first choice (best effort):
    under memory pressure a candidate dies, never the judge that would report it."""
    with contextlib.suppress(OSError), open("/proc/self/oom_score_adj", "w") as f:
        f.write(str(value))


# --------------------------------------------------------------------------- privileges


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [
        ("effective", ctypes.c_uint32),
        ("permitted", ctypes.c_uint32),
        ("inheritable", ctypes.c_uint32),
    ]


class PrivilegeDrop:
    """Become ``uid`` (as gid too) with no groups (root only), so NPROC and file modes apply.

    With ``keep_dac_read_search`` the child keeps only CAP_DAC_READ_SEARCH, so it can still
    import the interpreter's modules when they live under a private home (e.g. pyenv in
    /root); that is only granted when Landlock restricts reads to an allowlist. The capset
    arguments are built once (in the zygote), so a child only makes the syscalls.
    """

    def __init__(self, keep_dac_read_search: bool, uid: int = NOBODY) -> None:
        self.keep = keep_dac_read_search
        self.uid = uid
        self._header = _CapHeader(_LINUX_CAPABILITY_VERSION_3, 0)
        self._data = (_CapData * 2)()
        self._data[0].effective = self._data[0].permitted = 1 << CAP_DAC_READ_SEARCH
        self._args = (ctypes.byref(self._header), ctypes.byref(self._data))

    def apply(self, ambient: bool = False) -> None:
        """Drop to ``uid``. ``ambient``: keep CAP_DAC_READ_SEARCH across execve too (programs
        run by a toolchain that lives under a private home, e.g. rustup in /root)."""
        if self.keep:
            prctl(PR_SET_KEEPCAPS, 1)
        os.setgroups([])
        os.setresgid(self.uid, self.uid, self.uid)
        os.setresuid(self.uid, self.uid, self.uid)
        if self.keep:
            if ambient:
                self._data[0].inheritable = 1 << CAP_DAC_READ_SEARCH
            _check(libc().capset(*self._args), "capset")
            if ambient:
                prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_DAC_READ_SEARCH)


def drop_privileges(keep_dac_read_search: bool, uid: int = NOBODY) -> None:
    """One-off form of :class:`PrivilegeDrop` (probes)."""
    PrivilegeDrop(keep_dac_read_search, uid).apply()


# --------------------------------------------------------------------------- rlimits


def _lower(kind: int, value: int) -> None:
    _soft, hard = resource.getrlimit(kind)
    if hard != resource.RLIM_INFINITY:
        value = min(value, hard)
    resource.setrlimit(kind, (value, value))


def apply_rlimits(
    memory_mb: int, cpu_s: int, file_size_mb: int, open_files: int, processes: int | None
) -> None:
    """Hard per-process caps; hard limits are lowered too so the child cannot raise them.
    ``processes`` None leaves RLIMIT_NPROC as it is (seccomp bounds process creation)."""
    mib = 1024 * 1024
    if memory_mb > 0:
        _lower(resource.RLIMIT_AS, memory_mb * mib)
    _cpu_rlimit(max(1, cpu_s))
    _lower(resource.RLIMIT_FSIZE, file_size_mb * mib)
    _lower(resource.RLIMIT_NOFILE, open_files)
    if processes is not None:
        _lower(resource.RLIMIT_NPROC, processes)
    _lower(resource.RLIMIT_CORE, 0)
    _lower(resource.RLIMIT_STACK, 64 * mib)


def _cpu_rlimit(cpu_s: int) -> None:
    """Soft limit ``cpu_s`` (SIGXCPU: the judge reports "timed out"), hard one second later
    (SIGKILL, for a program that ignores SIGXCPU)."""
    _soft, hard = resource.getrlimit(resource.RLIMIT_CPU)
    soft, new_hard = cpu_s, cpu_s + 1
    if hard != resource.RLIM_INFINITY:
        new_hard = min(new_hard, hard)
        soft = min(soft, new_hard)
    resource.setrlimit(resource.RLIMIT_CPU, (soft, new_hard))


def lower_cpu_limit(cpu_s: int) -> None:
    """Tighten RLIMIT_CPU for this program (a warm child was created with the default)."""
    soft, _hard = resource.getrlimit(resource.RLIMIT_CPU)
    if soft == resource.RLIM_INFINITY or cpu_s < soft:
        _cpu_rlimit(max(1, cpu_s))


_MAX_FD = 1 << 20  # close_range() takes any upper bound; this is the kernel's nr_open default
_SYS_CLOSE_RANGE = 436  # the same number on every architecture (Linux >= 5.9)


def close_range_works() -> bool:
    """Whether the kernel has close_range(): without it ``os.closerange`` closes fds one
    by one, and closing up to ``_MAX_FD`` that way would cost far more than it saves."""
    if not sys.platform.startswith("linux"):
        return False
    return _ll_syscall(_SYS_CLOSE_RANGE, ctypes.c_uint(_MAX_FD), ctypes.c_uint(_MAX_FD), 0) == 0


def close_fds(keep: set[int], known: bool = False) -> None:
    """Close every fd not in ``keep``.

    ``known``: :func:`close_range_works` said yes, so close_range() over the gaps between
    kept fds takes one syscall per gap; otherwise list /proc/self/fd, which is faster than
    closing up to 65536 numbers one by one.
    """
    if known:
        lo = 0
        for fd in sorted(keep):
            if fd > lo:
                os.closerange(lo, fd)
            lo = fd + 1
        os.closerange(lo, _MAX_FD)
        return
    try:
        fds = [int(n) for n in os.listdir("/proc/self/fd")]
    except OSError:
        top = max(keep) + 1 if keep else 3
        lo = 0
        for fd in sorted(keep):
            os.closerange(lo, fd)
            lo = fd + 1
        os.closerange(max(lo, top), 65536)
        return
    for fd in fds:
        if fd not in keep:
            with contextlib.suppress(OSError):
                os.close(fd)


# --------------------------------------------------------------------------- Landlock


def _ll_syscall(nr: int, *args: Any) -> int:
    return int(libc().syscall(ctypes.c_long(nr), *args))


def landlock_abi() -> int:
    """Landlock ABI version of the running kernel, 0 if unavailable."""
    if not sys.platform.startswith("linux"):
        return 0
    ret = _ll_syscall(_SYS_LANDLOCK_CREATE_RULESET, None, ctypes.c_size_t(0), ctypes.c_uint32(1))
    return max(ret, 0)


class _RulesetAttr(ctypes.Structure):
    _fields_ = [
        ("handled_access_fs", ctypes.c_uint64),
        ("handled_access_net", ctypes.c_uint64),
        ("scoped", ctypes.c_uint64),
    ]


class _PathBeneath(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


def landlock_fs_all(abi: int) -> int:
    access = _LL_FS_V1
    if abi >= 2:
        access |= _LL_REFER
    if abi >= 3:
        access |= LL_TRUNCATE
    if abi >= 5:
        access |= LL_IOCTL_DEV
    return access


def landlock_ruleset(
    abi: int, read_paths: list[str], write_dirs: list[str], write_files: list[str]
) -> int:
    """Create a ruleset fd (kept by the worker, applied by each child with one syscall).

    Reads are allowed beneath ``read_paths``; everything beneath ``write_dirs``; read/write on
    ``write_files`` (e.g. /dev/null). With ABI >= 4 every TCP bind/connect is denied, with ABI
    >= 6 signals to and abstract unix sockets of processes outside the sandbox are scoped out.
    """
    fs_all = landlock_fs_all(abi)
    attr = _RulesetAttr(fs_all, 0, 0)
    size = 8
    if abi >= 4:
        attr.handled_access_net = _LL_NET_BIND_TCP | _LL_NET_CONNECT_TCP
        size = 16
    if abi >= 6:
        attr.scoped = _LL_SCOPE_ABSTRACT_UNIX | _LL_SCOPE_SIGNAL
        size = 24
    fd = _ll_syscall(
        _SYS_LANDLOCK_CREATE_RULESET, ctypes.byref(attr), ctypes.c_size_t(size), ctypes.c_uint32(0)
    )
    _check(fd, "landlock_create_ruleset")
    file_rw = LL_READ_FILE | LL_WRITE_FILE | (fs_all & (LL_TRUNCATE | LL_IOCTL_DEV))
    read = LL_EXECUTE | LL_READ_FILE | LL_READ_DIR
    try:
        for paths, access in ((read_paths, read), (write_dirs, fs_all), (write_files, file_rw)):
            for path in paths:
                try:
                    pfd = os.open(path, os.O_PATH | os.O_CLOEXEC)
                except OSError:
                    continue
                try:
                    allowed = access
                    if not os.path.isdir(path):
                        allowed &= LL_EXECUTE | LL_READ_FILE | file_rw
                    rule = _PathBeneath(allowed, pfd)
                    _check(
                        _ll_syscall(
                            _SYS_LANDLOCK_ADD_RULE,
                            ctypes.c_int(fd),
                            ctypes.c_int(_LL_RULE_PATH_BENEATH),
                            ctypes.byref(rule),
                            ctypes.c_uint32(0),
                        ),
                        f"landlock_add_rule({path})",
                    )
                finally:
                    os.close(pfd)
    except BaseException:
        os.close(fd)
        raise
    return fd


def landlock_restrict(ruleset_fd: int) -> None:
    """Enforce the ruleset on the calling process (needs no_new_privs)."""
    prctl(PR_SET_NO_NEW_PRIVS, 1)
    _check(
        _ll_syscall(_SYS_LANDLOCK_RESTRICT_SELF, ctypes.c_int(ruleset_fd), ctypes.c_uint32(0)),
        "landlock_restrict_self",
    )


# --------------------------------------------------------------------------- seccomp


def seccomp_program(for_exec: bool = False) -> bytes:
    """Compile the deny-list to classic BPF once (per worker) with libseccomp via pyseccomp.

    Children load the bytes with one prctl, which is ~10x cheaper than building the filter.
    ``for_exec``: the filter of ``exec`` programs (:data:`EXEC_ALLOWED` admitted, sockets only
    of AF_UNIX, no new namespaces through clone).
    """
    import pyseccomp as sc  # type: ignore[import-untyped]

    flt = sc.SyscallFilter(sc.ALLOW)
    for name in SECCOMP_DENY_EXEC if for_exec else SECCOMP_DENY:
        try:
            flt.add_rule(sc.ERRNO(errno.EPERM), name)
        except (OSError, ValueError, RuntimeError):  # unknown on this arch
            continue
    if for_exec:
        flt.add_rule(sc.ERRNO(errno.EPERM), "socket", sc.Arg(0, sc.NE, _AF_UNIX))
        for flag in _CLONE_NEW:
            flt.add_rule(sc.ERRNO(errno.EPERM), "clone", sc.Arg(0, sc.MASKED_EQ, flag, flag))
    else:
        flt.add_rule(sc.ERRNO(errno.EPERM), "clone", sc.Arg(0, sc.MASKED_EQ, CLONE_THREAD, 0))
    with contextlib.suppress(OSError, ValueError, RuntimeError):
        flt.add_rule(sc.ERRNO(errno.ENOSYS), "clone3")
    rfd, wfd = os.pipe()
    try:
        with os.fdopen(wfd, "wb", closefd=True) as w:
            flt.export_bpf(w)
        chunks = []
        while True:
            chunk = os.read(rfd, 65536)
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(rfd)
    prog = b"".join(chunks)
    if not prog or len(prog) % 8:
        raise OSError(errno.EINVAL, "libseccomp exported an empty or malformed BPF program")
    return prog


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


class SeccompProgram:
    """A compiled filter with its ``sock_fprog`` built once, so a child installs it with one
    prctl and allocates nothing."""

    def __init__(self, prog: bytes) -> None:
        self.size = len(prog)
        self._buf = ctypes.create_string_buffer(prog, len(prog))
        self._fprog = _SockFprog(len(prog) // 8, ctypes.cast(self._buf, ctypes.c_void_p))
        self._ref = ctypes.byref(self._fprog)

    def install(self) -> None:
        """Install on the calling process (irreversible)."""
        prctl(PR_SET_NO_NEW_PRIVS, 1)
        _check(libc().prctl_ptr(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, self._ref, 0, 0), "seccomp")
