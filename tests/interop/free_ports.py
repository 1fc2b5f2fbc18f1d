"""Listener ports for clusters whose nodes must know each other's ports before they start.

A port from `bind(("127.0.0.1", 0))` comes from the kernel's ephemeral range, where every
outgoing connection's local port comes from too: between closing it and the node binding it,
a connection between two other nodes may take it ("Address already in use"). These ports come
from below the ephemeral range instead, where no outgoing connection lands.
"""

import os
import random
import socket

WINDOW_LOW = 10000


def _window():
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            ephemeral_low = int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        ephemeral_low = 32768
    if ephemeral_low > WINDOW_LOW + 1000:
        return WINDOW_LOW, ephemeral_low
    return max(1024, ephemeral_low), 65536


_rng = random.Random(os.getpid())


def free_port_block(count, step=1):
    """The first of `count` consecutive ports (`step` apart from the base: a base that is a
    multiple of `step`), all free when asked, below the ephemeral range."""
    low, high = _window()
    for _ in range(500):
        base = _rng.randrange(low, high - count, step)
        socks = []
        try:
            for p in range(base, base + count):
                s = socket.socket()
                socks.append(s)
                s.bind(("127.0.0.1", p))
            return base
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise RuntimeError(f"no {count} consecutive free ports in {low}..{high}")


def free_port():
    """One port free when asked, below the ephemeral range."""
    return free_port_block(1)
