"""Seeded random streams: one numpy Generator per (replication, component, purpose).

Streams are derived from the scenario seed with ``SeedSequence`` and a stable hash of the
component and purpose names, so that a baseline and a variant that share a component draw
the same numbers there (common random numbers), and the same seed gives the same run.
"""

from __future__ import annotations

import hashlib

import numpy as np

from twin.distributions import Distribution, Uniform

BLOCK = 256
"""Samples drawn per refill; each stream serves one distribution, so this is invisible."""


def _key(name: str) -> int:
    return int.from_bytes(hashlib.blake2b(name.encode(), digest_size=8).digest(), "little")


def generator(seed: int, replication: int, component: str, purpose: str) -> np.random.Generator:
    """The generator for one purpose of one component in one replication."""
    seq = np.random.SeedSequence(seed, spawn_key=(replication, _key(component), _key(purpose)))
    return np.random.Generator(np.random.PCG64(seq))


_UNIT = Uniform(low=0.0, high=1.0)


class Sampler:
    """Draws from one distribution on its own stream, a block at a time."""

    __slots__ = ("_block", "_dist", "_i", "_rng")

    def __init__(self, dist: Distribution, rng: np.random.Generator) -> None:
        self._dist = dist
        self._rng = rng
        self._block: list[float] = []
        self._i = 0

    def __call__(self) -> float:
        if self._i == len(self._block):
            self._block = self._dist.draw(self._rng, BLOCK).tolist()
            self._i = 0
        value = self._block[self._i]
        self._i += 1
        return value


class Streams:
    """The factory of samplers for one replication of one scenario."""

    def __init__(self, seed: int, replication: int) -> None:
        self.seed = seed
        self.replication = replication

    def sampler(self, dist: Distribution, component: str, purpose: str) -> Sampler:
        return Sampler(dist, generator(self.seed, self.replication, component, purpose))

    def uniforms(self, component: str, purpose: str) -> Sampler:
        """Uniform(0, 1) draws, for decisions such as scrap and product mix."""
        return self.sampler(_UNIT, component, purpose)

    def normals(self, component: str, purpose: str) -> Normals:
        """Standard normal draws, for noise such as a sensor's."""
        return Normals(self.generator(component, purpose))

    def generator(self, component: str, purpose: str) -> np.random.Generator:
        """The numpy generator itself, for a model that draws in its own way."""
        return generator(self.seed, self.replication, component, purpose)


class Normals:
    """Standard normal draws on one stream, a block at a time."""

    __slots__ = ("_block", "_i", "_rng")

    def __init__(self, rng: np.random.Generator) -> None:
        self._rng = rng
        self._block: list[float] = []
        self._i = 0

    def __call__(self) -> float:
        if self._i == len(self._block):
            self._block = self._rng.standard_normal(BLOCK).tolist()
            self._i = 0
        value = self._block[self._i]
        self._i += 1
        return value
