from pathlib import Path
from typing import Protocol

import pytest
from fastapi import APIRouter

from ..core.registry import CORE, Manifest, Module, PortCycle, Ports, installed_modules, installed_parts


class Clock(Protocol):
    def now(self) -> str: ...


class Calendar(Protocol):
    def today(self) -> str: ...


class Runtime:
    """Stands in for core.runtime.Runtime: what a provider is given."""

    def __init__(self) -> None:
        self.ports: Ports | None = None


def part(name: str, provides: dict) -> Module:
    return Module(
        manifest=Manifest(name=name, title=name, version="1", summary=name),
        router=APIRouter(),
        migrations=Path(name) / "migrations",
        scopes=(),
        provides=provides,
    )


def test_a_provider_is_built_once_on_first_use_from_the_runtime_and_may_ask_for_another_port() -> None:
    runtime = Runtime()
    built: list[str] = []

    class FixedClock:
        def __init__(self, given: Runtime) -> None:
            assert given is runtime
            built.append("clock")

        def now(self) -> str:
            return "12:00"

    class ClockCalendar:
        def __init__(self, given: Runtime) -> None:
            self.clock = given.ports.get(Clock)
            built.append("calendar")

        def today(self) -> str:
            return f"today at {self.clock.now()}"

    ports = runtime.ports = Ports((part("a", {Clock: FixedClock}), part("b", {Calendar: ClockCalendar})), runtime)
    assert built == [] and ports.provides(Calendar)
    assert ports.get(Calendar).today() == "today at 12:00"
    assert ports.get(Calendar) is ports.get(Calendar)
    assert built == ["clock", "calendar"]


def test_two_providers_that_need_each_other_are_refused() -> None:
    runtime = Runtime()
    runtime.ports = Ports(
        (
            part("a", {Clock: lambda given: given.ports.get(Calendar)}),
            part("b", {Calendar: lambda given: given.ports.get(Clock)}),
        ),
        runtime,
    )
    with pytest.raises(PortCycle, match="Clock"):
        runtime.ports.get(Clock)


def test_a_port_nobody_provides_is_none() -> None:
    ports = Ports((), Runtime())
    assert ports.get(Clock) is None and not ports.provides(Clock)


def test_a_listener_port_gives_every_module_s_provider_each_built_once() -> None:
    runtime = Runtime()
    built: list[str] = []

    def clock(name: str):
        def make(_given: Runtime) -> str:
            built.append(name)
            return name

        return make

    ports = Ports((part("a", {Clock: clock("a")}), part("b", {}), part("c", {Clock: clock("c")})), runtime)
    assert ports.every(Clock) == ["a", "c"] and ports.every(Clock) == ["a", "c"]
    assert built == ["a", "c"]
    assert ports.every(Calendar) == []


def test_the_core_is_the_first_part_then_every_module() -> None:
    core, *modules = installed_parts()
    assert core.name == CORE and core.route_prefix == "" and core.catalogs is not None
    assert tuple(modules) == installed_modules()
    assert all(module.route_prefix == f"/{module.name}" for module in modules)
