"""Separate hosts on one machine, for the tests: network namespaces joined by a bridge.

`Hosts(n)` makes a bridge in this (the root) namespace with the servers' address, and n
namespaces, each with a veth pair whose one end is in it (its own address on the bridge's
network) and the other on the bridge. A process run in a namespace (`Hosts.command`) has its
own loopback and reaches the servers only over its link, as a worker on another machine
would. Names and the network are unique per process (pytest-xdist runs several at once), and
`close` removes everything it made, whatever state a failed test left it in.

Where namespaces cannot be made (not root, no `ip`, a container that forbids them),
`NamespacesUnavailable` says why; the test turns it into a loud skip.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Sequence

import attrs


class NamespacesUnavailable(Exception):
    """This machine does not let the tests make network namespaces (the message says why)."""


def _ip(*args: str) -> None:
    done = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=30, check=False)
    if done.returncode != 0:
        raise NamespacesUnavailable(f"ip {' '.join(args)} failed: {done.stderr.strip()}")


@attrs.define
class Hosts:
    """n namespaces on a bridge; `server_address` is the root namespace's side of it."""

    count: int
    tag: str = attrs.field(factory=lambda: f"{os.getpid() % 100000}")
    made_namespaces: list[str] = attrs.field(factory=list)
    made_links: list[str] = attrs.field(factory=list)

    network: str = ""
    """The first three numbers of the bridge's /24 (chosen by `open`)."""

    def _choose_network(self) -> str:
        """A /24 of 10/8 that depends on the pid (xdist workers differ) and that no address
        of this machine is in already."""
        taken = subprocess.run(
            ["ip", "-4", "addr"], capture_output=True, text=True, check=False
        ).stdout
        pid = os.getpid()
        for shift in range(250):
            network = f"10.{100 + pid % 100}.{(pid // 100 + shift) % 250}"
            if f" {network}." not in taken:
                return network
        raise NamespacesUnavailable("no free 10.x.y.0/24 network for the bridge")

    @property
    def server_address(self) -> str:
        return f"{self.network}.1"

    @property
    def subnet(self) -> str:
        return f"{self.network}.0/24"

    def namespace(self, number: int) -> str:
        return f"trio-crawl-{self.tag}-h{number}"

    def open(self) -> Hosts:
        if os.geteuid() != 0:
            raise NamespacesUnavailable("not root: making network namespaces needs root")
        if shutil.which("ip") is None:
            raise NamespacesUnavailable("no `ip` command (iproute2) on PATH")
        self.network = self._choose_network()
        try:
            bridge = f"tcb{self.tag}"
            _ip("link", "add", bridge, "type", "bridge")
            self.made_links.append(bridge)
            _ip("addr", "add", f"{self.server_address}/24", "dev", bridge)
            _ip("link", "set", bridge, "up")
            for number in range(1, self.count + 1):
                namespace = self.namespace(number)
                _ip("netns", "add", namespace)
                self.made_namespaces.append(namespace)
                outside, inside = f"tcv{self.tag}h{number}", f"tci{self.tag}h{number}"
                _ip("link", "add", outside, "type", "veth", "peer", "name", inside)
                self.made_links.append(outside)
                _ip("link", "set", inside, "netns", namespace)
                _ip("link", "set", outside, "master", bridge)
                _ip("link", "set", outside, "up")
                inner = ["netns", "exec", namespace, "ip"]
                _ip(*inner, "addr", "add", f"{self.address(number)}/24", "dev", inside)
                _ip(*inner, "link", "set", inside, "up")
                _ip(*inner, "link", "set", "lo", "up")
        except BaseException:
            self.close()
            raise
        return self

    def address(self, number: int) -> str:
        return f"{self.network}.{10 + number}"

    def command(self, number: int, command: Sequence[str]) -> list[str]:
        """`command` run in host `number`'s namespace."""
        return ["ip", "netns", "exec", self.namespace(number), *command]

    def close(self) -> None:
        """Remove every namespace and link made (a namespace takes its veth ends with it)."""
        for namespace in self.made_namespaces:
            subprocess.run(["ip", "netns", "delete", namespace], capture_output=True, check=False)
        for link in reversed(self.made_links):
            subprocess.run(["ip", "link", "delete", link], capture_output=True, check=False)
        self.made_namespaces.clear()
        self.made_links.clear()
