#!/usr/bin/python3
"""Log in on a guest's serial console through `partboot run` on a terminal, as a user would.

login.py LOG TIMEOUT PASSWORD -- COMMAND...
Runs COMMAND on a pseudo-terminal (so `partboot run` puts the console on it, keys
included), waits for "login:", types root and PASSWORD, then, once a shell prompt
answers, a command printing PB-LOGIN-OK and the hostname, then poweroff. Everything
the console printed goes to LOG. Exit 0 when PB-LOGIN-OK came back and COMMAND exited
0 within TIMEOUT seconds; 1 otherwise, naming the step that did not happen.
"""
import os
import pty
import select
import sys
import time


def main():
    log, timeout, password = sys.argv[1], float(sys.argv[2]), sys.argv[3]
    cmd = sys.argv[sys.argv.index("--") + 1:]
    pid, fd = pty.fork()
    if pid == 0:
        os.execvp(cmd[0], cmd)
    deadline = time.monotonic() + timeout
    seen = b""
    out = open(log, "wb")
    # (what to wait for, what to type then)
    steps = [(b"login:", b"root\r"), (b"Password:", password.encode() + b"\r"),
             (b"# ", b"echo PB-LOGIN-$((40+2))-OK $(cat /etc/hostname)\r"),
             (b"PB-LOGIN-42-OK", b"poweroff\r")]
    step = 0
    status = None
    while time.monotonic() < deadline:
        r, _, _ = select.select([fd], [], [], 1.0)
        if r:
            try:
                data = os.read(fd, 65536)
            except OSError:
                data = b""
            if not data:
                break
            out.write(data)
            out.flush()
            seen += data
            if step < len(steps) and steps[step][0] in seen:
                seen = seen[seen.index(steps[step][0]) + len(steps[step][0]):]
                time.sleep(0.5)
                os.write(fd, steps[step][1])
                step += 1
    else:
        print(f"login.py: timed out after {timeout:.0f} s waiting for {steps[min(step, len(steps) - 1)][0]!r}",
              file=sys.stderr)
        os.kill(pid, 15)
    _, st = os.waitpid(pid, 0)
    status = os.waitstatus_to_exitcode(st)
    if step < len(steps):
        print(f"login.py: never saw {steps[step][0]!r}", file=sys.stderr)
        return 1
    if status != 0:
        print(f"login.py: the command exited {status}", file=sys.stderr)
        return 1
    return 0


sys.exit(main())
