"""Probability distributions of durations, as validated pydantic models.

A distribution is written in a scenario as a mapping with a ``dist`` tag, or as a bare
number or duration string, which means a constant. Each model draws vectors of
non-negative samples from a numpy ``Generator`` (``draw``) and knows its mean
(``expected``), which the KPIs use as the ideal cycle time.
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    model_validator,
)

from twin.durations import parse_duration

# Bounds on shape parameters, so that every mean is finite and sampling stays sane.
MIN_CV, MAX_CV = 0.001, 10.0
MIN_WEIBULL_SHAPE = 0.1
MAX_PHASES = 10_000

Duration = Annotated[float, BeforeValidator(parse_duration)]
PositiveDuration = Annotated[float, BeforeValidator(parse_duration), Field(gt=0)]


def _not_bool(value: Any) -> Any:
    """YAML's ``true`` is not the number 1: refuse it where a number is meant."""
    if isinstance(value, bool):
        raise ValueError(f"expected a number, got {str(value).lower()}")
    return value


Real = Annotated[float, BeforeValidator(_not_bool), Field(allow_inf_nan=False)]
"""A finite number, never a boolean."""
Count = Annotated[int, BeforeValidator(_not_bool)]
"""A whole number, never a boolean."""


class _Dist(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    def draw(self, rng: np.random.Generator, n: int) -> np.ndarray:
        raise NotImplementedError

    @property
    def expected(self) -> float:
        raise NotImplementedError


class Constant(_Dist):
    """Always ``value``."""

    dist: Literal["constant"] = "constant"
    value: Duration

    def draw(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return np.full(n, self.value)

    @property
    def expected(self) -> float:
        return self.value


class Exponential(_Dist):
    """Memoryless, with the given ``mean``."""

    dist: Literal["exponential"] = "exponential"
    mean: PositiveDuration

    def draw(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return rng.exponential(self.mean, n)

    @property
    def expected(self) -> float:
        return self.mean


class Normal(_Dist):
    """Normal with ``mean`` and ``sd``, truncated at zero (negative draws are redrawn)."""

    dist: Literal["normal"] = "normal"
    mean: PositiveDuration
    sd: Duration

    def draw(self, rng: np.random.Generator, n: int) -> np.ndarray:
        out = rng.normal(self.mean, self.sd, n)
        bad = out < 0
        while bad.any():
            out[bad] = rng.normal(self.mean, self.sd, int(bad.sum()))
            bad = out < 0
        return out

    @property
    def expected(self) -> float:
        if self.sd == 0:
            return self.mean
        # Mean of the normal truncated at zero.
        a = -self.mean / self.sd
        pdf = math.exp(-0.5 * a * a) / math.sqrt(2 * math.pi)
        tail = 0.5 * math.erfc(a / math.sqrt(2))
        return self.mean + self.sd * pdf / tail


class Lognormal(_Dist):
    """Lognormal whose own mean and standard deviation are ``mean`` and ``sd``."""

    dist: Literal["lognormal"] = "lognormal"
    mean: PositiveDuration
    sd: Duration

    @model_validator(mode="after")
    def _spread(self) -> Lognormal:
        if self.sd > MAX_CV * self.mean:
            raise ValueError(
                f"lognormal sd ({self.sd:g}s) may be at most {MAX_CV:g} times its mean "
                f"({self.mean:g}s); beyond that nearly every draw is ~0 and a few are enormous"
            )
        return self

    def draw(self, rng: np.random.Generator, n: int) -> np.ndarray:
        sigma2 = math.log1p((self.sd / self.mean) ** 2)
        return rng.lognormal(math.log(self.mean) - sigma2 / 2, math.sqrt(sigma2), n)

    @property
    def expected(self) -> float:
        return self.mean


class Uniform(_Dist):
    """Uniform on [``low``, ``high``]."""

    dist: Literal["uniform"] = "uniform"
    low: Duration
    high: Duration

    @model_validator(mode="after")
    def _ordered(self) -> Uniform:
        if self.high < self.low:
            raise ValueError(f"uniform needs low <= high, got low={self.low}, high={self.high}")
        return self

    def draw(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return rng.uniform(self.low, self.high, n)

    @property
    def expected(self) -> float:
        return (self.low + self.high) / 2


class Triangular(_Dist):
    """Triangular with ``low`` <= ``mode`` <= ``high``."""

    dist: Literal["triangular"] = "triangular"
    low: Duration
    mode: Duration
    high: Duration

    @model_validator(mode="after")
    def _ordered(self) -> Triangular:
        if not (self.low <= self.mode <= self.high) or self.low == self.high:
            raise ValueError(
                "triangular needs low <= mode <= high with low < high, "
                f"got low={self.low}, mode={self.mode}, high={self.high}"
            )
        return self

    def draw(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return rng.triangular(self.low, self.mode, self.high, n)

    @property
    def expected(self) -> float:
        return (self.low + self.mode + self.high) / 3


class Gamma(_Dist):
    """Gamma with ``mean`` and coefficient of variation ``cv``."""

    dist: Literal["gamma"] = "gamma"
    mean: PositiveDuration
    cv: Annotated[Real, Field(ge=MIN_CV, le=MAX_CV)]

    def draw(self, rng: np.random.Generator, n: int) -> np.ndarray:
        shape = 1.0 / self.cv**2
        return rng.gamma(shape, self.mean / shape, n)

    @property
    def expected(self) -> float:
        return self.mean


class Erlang(_Dist):
    """Erlang: the sum of ``k`` exponential phases, with total ``mean``."""

    dist: Literal["erlang"] = "erlang"
    k: Annotated[Count, Field(ge=1, le=MAX_PHASES)]
    mean: PositiveDuration

    def draw(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return rng.gamma(self.k, self.mean / self.k, n)

    @property
    def expected(self) -> float:
        return self.mean


class Weibull(_Dist):
    """Weibull with ``shape`` and ``scale``."""

    dist: Literal["weibull"] = "weibull"
    shape: Annotated[Real, Field(ge=MIN_WEIBULL_SHAPE)]
    scale: PositiveDuration

    def draw(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return self.scale * rng.weibull(self.shape, n)

    @property
    def expected(self) -> float:
        try:
            return self.scale * math.gamma(1 + 1 / self.shape)
        except OverflowError:
            return math.inf


class Empirical(_Dist):
    """One of ``values``, with optional relative ``weights``."""

    dist: Literal["empirical"] = "empirical"
    values: Annotated[list[Duration], Field(min_length=1)]
    weights: list[Annotated[Real, Field(ge=0)]] | None = None

    @model_validator(mode="after")
    def _weights_match(self) -> Empirical:
        if self.weights is not None:
            if len(self.weights) != len(self.values):
                raise ValueError(
                    f"empirical has {len(self.values)} values but {len(self.weights)} weights"
                )
            total = sum(self.weights)
            if total <= 0:
                raise ValueError("empirical weights must not all be zero")
            if not math.isfinite(total):
                raise ValueError("empirical weights are too large: their sum overflows")
        return self

    def _p(self) -> np.ndarray | None:
        if self.weights is None:
            return None
        w = np.asarray(self.weights, dtype=float)
        p: np.ndarray = w / w.sum()
        return p

    def draw(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return rng.choice(np.asarray(self.values, dtype=float), size=n, p=self._p())

    @property
    def expected(self) -> float:
        p = self._p()
        values = np.asarray(self.values, dtype=float)
        return float(values.mean() if p is None else values @ p)


_KINDS = {
    "constant": Constant,
    "exponential": Exponential,
    "normal": Normal,
    "lognormal": Lognormal,
    "uniform": Uniform,
    "triangular": Triangular,
    "gamma": Gamma,
    "erlang": Erlang,
    "weibull": Weibull,
    "empirical": Empirical,
}
DIST_NAMES = tuple(_KINDS)


def _tagged(value: Any) -> Any:
    """Turn the short forms into tagged mappings and explain a missing or unknown tag."""
    if isinstance(value, bool):
        raise ValueError(f"expected a distribution or a duration, got {value!r}")
    if isinstance(value, int | float | str):
        return {"dist": "constant", "value": value}
    if not isinstance(value, dict):
        kind = "nothing" if value is None else f"a {type(value).__name__}"
        raise ValueError(f"expected a distribution or a duration, got {kind}")
    tag = value.get("dist")
    names = ", ".join(DIST_NAMES)
    if tag is None:
        raise ValueError(f"a distribution needs a 'dist' field, one of: {names}")
    if not isinstance(tag, str):
        raise ValueError(f"'dist' must name a distribution, got a {type(tag).__name__}")
    if tag not in _KINDS:
        raise ValueError(f"unknown distribution {tag!r}; expected one of: {names}")
    return value


def _finite_mean(dist: _Dist) -> _Dist:
    """Checked once the parameters are valid: every distribution must have a finite mean."""
    if not math.isfinite(dist.expected):
        raise ValueError(f"{type(dist).__name__.lower()} has no finite mean with these parameters")
    return dist


Distribution = Annotated[
    Constant
    | Exponential
    | Normal
    | Lognormal
    | Uniform
    | Triangular
    | Gamma
    | Erlang
    | Weibull
    | Empirical,
    Field(discriminator="dist"),
    BeforeValidator(_tagged),
    AfterValidator(_finite_mean),
]
"""Any distribution; accepts the short forms (a number or a duration string)."""
