"""What code below the checks reads of a domain run, as a Protocol: ESP detection and the shared
SPF tree take the run's context without importing audit.checks (which sits above them).
audit.checks.common.DomainContext is the implementation."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Hashable, Sequence
from typing import TYPE_CHECKING, Protocol, TypeVar

if TYPE_CHECKING:
    from audit.net.dns import Resolver
    from audit.net.run_memo import RunMemo

T = TypeVar("T")


class DeclaredPath(Protocol):
    """What detection reads of a sending path the user declared (audit.facts.paths.SendingPath):
    the provider it goes through and the return path it gives, if any."""

    @property
    def esp(self) -> str | None: ...
    @property
    def return_path(self) -> str | None: ...


class RunContext(Protocol):
    """The audited domain, the run's one resolver, the user's selectors and profiles, and the
    per-run memo (`once`) that lets concurrent checks share one expensive fact."""

    @property
    def domain(self) -> str: ...
    @property
    def resolver(self) -> Resolver: ...
    @property
    def dkim_selectors(self) -> list[str]: ...
    @property
    def esp_profiles_dir(self) -> str | None: ...
    @property
    def discover_dkim(self) -> bool: ...
    @property
    def dkim_discovery(self) -> str: ...  # "full" | "quick" (audit/esp/dkim_discovery.py)
    @property
    def return_path_discovery(self) -> str: ...  # "full" | "quick" (audit/esp/detect.py)
    @property
    def sending_paths(self) -> Sequence[DeclaredPath]: ...  # declared: --esp, [[path]], ...
    @property
    def run(self) -> RunMemo | None: ...

    async def once(self, key: Hashable, make: Callable[[], Awaitable[T]]) -> T: ...
