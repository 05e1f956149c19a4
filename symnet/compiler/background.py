"""Background compilation of tier-1 kernels in a worker process.

A function starts on tier 0 (:mod:`symnet.compiler.backends.tier0`) and its whole-graph kernel
compiles here, off the caller's way. The compile runs in a separate process, not a thread:
Numba's front end (bytecode analysis, typing, lowering) holds the GIL for seconds, which would
stall the caller's tier-0 calls, and a process, unlike a thread, can be stopped when LLVM runs
past ``config.compile_timeout``. The worker compiles the kernel module from the kernel cache
with ``cache=True``, so its machine code lands in Numba's disk cache; the caller's process then
loads it from there (a fraction of a second) and swaps it in between two calls.

One worker serves every job, one job at a time (two compiles at once would only share the
cores), started on the first job and kept for the next ones. It dies with its parent (Linux
``PR_SET_PDEATHSIG``; elsewhere when its job pipe closes) and is killed at exit, so no compile
outlives the process; Numba writes its cache files through a temporary file and a rename, so a
stopped compile leaves no broken entry. A forked child starts with an empty queue and no
worker: its functions stay on tier 0 until ``wait()`` compiles in the child itself.

A compile that ran out of time leaves a marker next to the kernel module
(``k_<hash>.timeout``), so the next process does not try again; the marker lives in the
versioned cache directory, so a change of symnet, Numba or NumPy tries again.
"""

from __future__ import annotations

import atexit
import os
import pickle
import queue
import select
import struct
import subprocess
import sys
import threading
import time

from symnet.config import config


class CompileJob:
    """One kernel to compile: ``on_done(job)`` runs on the scheduler's thread when it ended,
    with ``job.error`` (None, or the text of what went wrong) and ``job.timed_out`` set."""

    def __init__(self, module_path: str, module_name: str, signature: tuple, on_done,
                 timeout: float):
        self.module_path = module_path
        self.module_name = module_name
        self.signature = signature
        self.on_done = on_done
        self.timeout = timeout
        self.error: str | None = None
        self.timed_out = False
        self.seconds: float | None = None
        self.cancelled = False
        self.done = threading.Event()
        self.pid = os.getpid()  # a forked child's copy never completes: see Function.wait

    @property
    def marker(self) -> str:
        """The file that says this kernel's compile ran out of time in an earlier process."""
        return self.module_path[: -len(".py")] + ".timeout"


def worker_environment() -> dict:
    """The environment of a helper process: this one's, with this symnet importable and the
    same kernel cache (NUMBA_OPT and the rest are inherited as they are)."""
    package_parent = os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.dirname(os.path.abspath(__file__)))))
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [package_parent] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    env["SYMNET_CACHE_DIR"] = config.cache_dir
    return env


def _send(stream, obj) -> None:
    data = pickle.dumps(obj)
    stream.write(struct.pack("<Q", len(data)) + data)
    stream.flush()


def _read_exactly(fd: int, n: int, deadline: float | None) -> bytes | None:
    """``n`` bytes from ``fd``, or None when the deadline passed first or the pipe closed."""
    chunks, got = [], 0
    while got < n:
        wait = None if deadline is None else max(0.0, deadline - time.monotonic())
        ready, _, _ = select.select([fd], [], [], wait)
        if not ready:
            return None
        chunk = os.read(fd, n - got)
        if not chunk:
            return None
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


class _Worker:
    """The compiling process and its pipes."""

    def __init__(self):
        self.process = subprocess.Popen(
            [sys.executable, "-m", "symnet.compiler.compile_worker"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            env=worker_environment(), close_fds=True)
        self.pid = os.getpid()  # the parent: a forked child must not use this worker

    def run(self, job: CompileJob) -> tuple[str, object] | None:
        """Send ``job`` and wait for the answer; None if it ran out of time or the worker
        died (then the worker is stopped and a new one starts with the next job)."""
        deadline = time.monotonic() + job.timeout if job.timeout else None
        try:
            _send(self.process.stdin, (job.module_path, job.module_name, job.signature))
        except (BrokenPipeError, OSError):
            return None
        fd = self.process.stdout.fileno()
        header = _read_exactly(fd, 8, deadline)
        if header is None:
            return None
        body = _read_exactly(fd, struct.unpack("<Q", header)[0], None)
        return None if body is None else pickle.loads(body)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        for stream in (self.process.stdin, self.process.stdout):
            try:
                stream.close()
            except OSError:
                pass


class _Scheduler:
    """A queue of jobs and the thread that runs them on the worker, one after another."""

    def __init__(self):
        self.jobs: queue.Queue = queue.Queue()
        self.thread: threading.Thread | None = None
        self.worker: _Worker | None = None
        self.lock = threading.Lock()

    def submit(self, job: CompileJob) -> None:
        with self.lock:
            self.jobs.put(job)
            if self.thread is None or not self.thread.is_alive():
                self.thread = threading.Thread(target=self._loop, name="symnet-compile",
                                               daemon=True)
                self.thread.start()

    def _loop(self) -> None:
        while True:
            job = self.jobs.get()
            if job is None:
                return
            if not job.cancelled:
                self._run(job)
            job.done.set()

    def _run(self, job: CompileJob) -> None:
        start = time.monotonic()
        worker = self.worker  # shutdown() may clear the attribute while this job runs
        if worker is None or worker.process.poll() is not None:
            try:
                worker = self.worker = _Worker()
            except OSError as exc:
                job.error = f"could not start the compile worker: {exc}"
                self._finish(job)
                return
        answer = worker.run(job)
        job.seconds = time.monotonic() - start
        if answer is None:
            died = worker.process.poll() is not None
            worker.stop()
            if self.worker is worker:
                self.worker = None
            if died:
                job.error = "the compile worker process died"
            else:
                job.timed_out = True
                job.error = (f"the kernel did not compile within compile_timeout="
                             f"{job.timeout:g} s")
                try:
                    with open(job.marker, "w") as f:
                        f.write(f"compile stopped after {job.timeout:g} s\n")
                except OSError:
                    pass  # an unwritable cache: the next process tries again
        elif answer[0] != "ok":
            job.error = str(answer[1])
        self._finish(job)

    def _finish(self, job: CompileJob) -> None:
        try:
            job.on_done(job)
        except Exception as exc:  # noqa: BLE001 - the loop must go on for the next jobs
            job.error = job.error or f"{type(exc).__name__}: {exc}"

    def shutdown(self) -> None:
        worker, self.worker = self.worker, None
        if worker is not None and worker.pid == os.getpid():
            worker.stop()

    def reset_after_fork(self) -> None:
        """In a forked child: forget the parent's queue, thread and worker (the thread does
        not exist here, the worker is the parent's); pending jobs end without a kernel."""
        pending = []
        while True:
            try:
                pending.append(self.jobs.get_nowait())
            except queue.Empty:
                break
        self.__init__()
        for job in pending:
            if job is not None:
                job.cancelled = True
                job.error = "forked while the kernel was compiling"
                job.done.set()


_scheduler = _Scheduler()
atexit.register(_scheduler.shutdown)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_scheduler.reset_after_fork)


def submit(job: CompileJob) -> None:
    """Compile ``job`` in the background (after the jobs already queued)."""
    _scheduler.submit(job)


def shutdown() -> None:
    """Stop the worker process (tests; it also happens at exit)."""
    _scheduler.shutdown()
