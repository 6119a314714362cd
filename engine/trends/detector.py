"""The spike detector of one series, in pure Python: no database, no clock.

The worker's detection step (``engine/trends/detection.py``) and ``bench/trends.py`` both call
:func:`step` once per tick of event time, so the benchmark measures the code that runs.

Per tick ``t`` (minute ``t - 1`` has closed) with that minute's counts:

- **Window**: the last ``window`` minutes' volume ``V`` (and negative mentions ``N``, reach).
- **Baseline**: the expected per-minute rate ``mu``. Until there is history it is an EWMA of
  the per-minute volume (``level``, half-life ``level_half_life``). Once the series has
  ``seasonal_min_days`` of history and the hour-of-week slots of the window have each been seen
  in ``seasonal_min_weeks`` different weeks, ``mu`` is the hour-of-week profile (each slot an
  EWMA of that hour's mean rate, each minute at its own hour's slot) times how this week runs
  against the profile (``level`` over an EWMA of the profile's own values with the same
  half-life, so both lag alike and the daily cycle cancels; clamped to 0.5-2). ``E = window*mu``.
- **Score**: the Anscombe residual ``2(sqrt(V + 3/8) - sqrt(E + 3/8))`` (about N(0, 1) for
  Poisson counts, small means included) divided by the square root of its EWMA of squares
  (``deviation``, half-life ``deviation_half_life``, never below 1: over-dispersed series get a
  wider band, none a narrower one than Poisson).
- **Spike**: after ``warmup_minutes`` of history, outside the cooldown, when the score reaches
  ``Params.score`` **and** ``V`` reaches ``Params.min_volume`` (and, when set, the window's
  negative share reaches ``min_negative_share``). With ``on_negative`` the negative mentions are
  scored the same way, so a rising share of complaints at a steady volume is a spike too.
- **Updates**: the baseline learns from the minute's volume clipped to ``mu + clip*sqrt(mu+1)``
  and the deviation only from residuals within ``clip`` deviations, so a spike moves neither
  much; a lasting change of level is still absorbed within hours.

Severity (1-10), documented in docs/api.md::

    p = (score / threshold) * (0.5 + reach) * (0.5 + negative_share)
    severity = clamp(round(4 + 3 * log2(p)), 1, 10)

with ``reach`` the mean influence (0-1) of the window's authors: a spike just at the threshold
from ordinary authors, half of it negative, is a 4; twice the threshold and 80 % negative an 8.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

MINUTES_PER_WEEK = 7 * 24 * 60
SLOTS = 168


@dataclass(frozen=True)
class Config:
    """How the baseline is kept (the same for every series; tuned by ``bench/trends.py --tune``)."""

    window: int = 5
    scan: tuple[int, ...] = (2, 3, 5)  # window widths scored at each tick (each <= window)
    level_half_life: float = 30.0
    deviation_half_life: float = 360.0
    warmup_minutes: int = 60
    clip: float = 3.0
    seasonal_min_days: int = 14
    seasonal_min_weeks: int = 2
    season_alpha: float = 0.35

    @property
    def level_alpha(self) -> float:
        return 1.0 - 0.5 ** (1.0 / self.level_half_life)

    @property
    def deviation_alpha(self) -> float:
        return 1.0 - 0.5 ** (1.0 / self.deviation_half_life)


@dataclass(frozen=True)
class Params:
    """What counts as a spike (per topic, editable through the API)."""

    score: float = 3.75
    min_volume: int = 10
    min_negative_share: float | None = None
    on_negative: bool = False
    cooldown_minutes: int = 60
    page_severity: int = 8


@dataclass
class State:
    """One series' detector state as of tick ``last_tick``; JSON-safe through :meth:`dump`."""

    first_tick: int
    last_tick: int
    level: float = 0.0
    neg_level: float = 0.0
    deviation: float = 1.0
    neg_deviation: float = 1.0
    track: float = 0.0  # EWMA of the seasonal profile's values, beside ``level``
    ring: list[list[float]] = field(default_factory=list)  # [volume, negative, reach] per minute
    hour: int = -1  # the hour (since the epoch) being accumulated
    hour_volume: float = 0.0
    hour_minutes: int = 0
    season: list[list[float]] = field(default_factory=list)  # per hour-of-week slot [mean, weeks]
    cooldown_until: int = 0

    @classmethod
    def new(cls, tick: int) -> State:
        return cls(first_tick=tick, last_tick=tick)

    def dump(self) -> dict[str, Any]:
        return {
            "first_tick": self.first_tick,
            "last_tick": self.last_tick,
            "level": self.level,
            "neg_level": self.neg_level,
            "deviation": self.deviation,
            "neg_deviation": self.neg_deviation,
            "track": self.track,
            "ring": self.ring,
            "hour": self.hour,
            "hour_volume": self.hour_volume,
            "hour_minutes": self.hour_minutes,
            "season": self.season,
            "cooldown_until": self.cooldown_until,
        }

    @classmethod
    def load(cls, data: dict[str, Any]) -> State:
        return cls(**data)

    def window_has_counts(self) -> bool:
        return any(v or n for v, n, _ in self.ring)


@dataclass(frozen=True)
class Spike:
    tick: int  # detected at (event time): the end of the window
    window: int
    volume: int
    negative: int
    baseline: float  # the expected volume of the window
    score: float
    negative_share: float
    reach: float  # mean influence of the window's authors
    severity: int
    seasonal: bool


def hour_of_week(hour: int) -> int:
    """Monday 00:00 UTC is slot 0 (1970-01-01, hour 0 since the epoch, was a Thursday)."""
    return ((hour // 24 + 3) % 7) * 24 + hour % 24


def anscombe(observed: float, expected: float) -> float:
    return 2.0 * (math.sqrt(observed + 0.375) - math.sqrt(max(expected, 0.0) + 0.375))


def severity(score: float, threshold: float, reach: float, negative_share: float) -> int:
    p = (score / max(threshold, 1e-9)) * (0.5 + reach) * (0.5 + negative_share)
    return max(1, min(10, round(4 + 3 * math.log2(max(p, 1e-9)))))


def _seasonal_rate(state: State, tick: int, cfg: Config) -> float | None:
    """The hour-of-week profile's mean rate over the window ending at ``tick`` (each minute at
    its own hour's slot), or None while a slot in it has never been seen."""
    if not state.season:
        return None
    first, last = (
        state.season[hour_of_week((tick - cfg.window) // 60)],
        state.season[hour_of_week((tick - 1) // 60)],
    )
    if first[1] < 1 or last[1] < 1:
        return None
    if first is last:
        return first[0]
    boundary = ((tick - 1) // 60) * 60  # the window straddles an hour
    return (first[0] * (boundary - (tick - cfg.window)) + last[0] * (tick - boundary)) / cfg.window


def _seasonal_ready(state: State, tick: int, cfg: Config) -> bool:
    if tick - state.first_tick < cfg.seasonal_min_days * 1440:
        return False
    need = cfg.seasonal_min_weeks
    return (
        state.season[hour_of_week((tick - cfg.window) // 60)][1] >= need
        and state.season[hour_of_week((tick - 1) // 60)][1] >= need
    )


def expected_rate(state: State, tick: int, cfg: Config) -> tuple[float, bool, float | None]:
    """(per-minute rate expected over the window ending at ``tick``, whether the seasonal
    profile gave it, the profile's value there if it has one)."""
    profile = _seasonal_rate(state, tick, cfg)
    if profile is not None and state.track > 0 and _seasonal_ready(state, tick, cfg):
        ratio = min(2.0, max(0.5, state.level / state.track))
        return profile * ratio, True, profile
    return state.level, False, profile


def step(
    state: State,
    tick: int,
    volume: int,
    negative: int,
    reach_sum: float,
    params: Params,
    cfg: Config,
) -> Spike | None:
    """Evaluates tick ``tick`` (= ``state.last_tick + 1``) given minute ``tick - 1``'s counts,
    then learns from them. Returns the spike found there, if any."""
    if tick != state.last_tick + 1:
        raise ValueError(f"tick {tick} does not follow {state.last_tick}")
    state.ring.append([volume, negative, reach_sum])
    if len(state.ring) > cfg.window:
        del state.ring[0]
    mu, seasonal, profile = expected_rate(state, tick, cfg)
    scale = mu / state.level if state.level > 0 else 1.0
    neg_mu = state.neg_level * scale
    # the residuals of the whole window teach the deviation; detection scans shorter windows too
    residual = anscombe(sum(r[0] for r in state.ring), cfg.window * mu)
    neg_residual = anscombe(sum(r[1] for r in state.ring), cfg.window * neg_mu)
    spike = None
    if tick - state.first_tick >= cfg.warmup_minutes and tick >= state.cooldown_until:
        spike = _scan(state, tick, mu, neg_mu, seasonal, params, cfg)
        if spike is not None:
            state.cooldown_until = tick + params.cooldown_minutes
    _learn(state, tick, volume, negative, mu, residual, neg_residual, profile, cfg)
    state.last_tick = tick
    return spike


def _scan(
    state: State, tick: int, mu: float, neg_mu: float, seasonal: bool, params: Params, cfg: Config
) -> Spike | None:
    """The strongest spike among the windows of ``cfg.scan`` minutes ending at ``tick``: a short
    window finds a sudden spike a minute or two sooner, the longest one a gradual climb."""
    best: Spike | None = None
    spread = math.sqrt(max(state.deviation, 1.0))
    neg_spread = math.sqrt(max(state.neg_deviation, 1.0))
    for width in cfg.scan:
        recent = state.ring[-width:]
        v = sum(r[0] for r in recent)
        n = sum(r[1] for r in recent)
        score = anscombe(v, width * mu) / spread
        neg_score = anscombe(n, width * neg_mu) / neg_spread
        share = n / v if v else 0.0
        by_volume = score >= params.score and v >= params.min_volume
        by_negative = params.on_negative and neg_score >= params.score and n >= params.min_volume
        if not (by_volume or by_negative):
            continue
        if params.min_negative_share is not None and share < params.min_negative_share:
            continue
        top = max(score, neg_score) if params.on_negative else score
        if best is not None and top <= best.score:
            continue
        reach = sum(r[2] for r in recent) / v if v else 0.0
        best = Spike(
            tick=tick,
            window=width,
            volume=int(v),
            negative=int(n),
            baseline=round(width * mu, 3),
            score=round(top, 3),
            negative_share=round(share, 4),
            reach=round(reach, 4),
            severity=severity(top, params.score, reach, share),
            seasonal=seasonal,
        )
    return best


def _learn(
    state: State,
    tick: int,
    volume: int,
    negative: int,
    mu: float,
    residual: float,
    neg_residual: float,
    profile: float | None,
    cfg: Config,
) -> None:
    # a running mean over the first ticks, then the EWMA: a new series' baseline is right from
    # the end of its warm-up instead of still climbing from zero
    a, b = max(cfg.level_alpha, 1.0 / (tick - state.first_tick)), cfg.deviation_alpha
    cap = mu + cfg.clip * math.sqrt(mu + 1.0)
    x = min(float(volume), cap)
    state.level += a * (x - state.level)
    neg_cap = state.neg_level + cfg.clip * math.sqrt(state.neg_level + 1.0)
    state.neg_level += a * (min(float(negative), neg_cap) - state.neg_level)
    # an outlier (a spike) teaches the deviation nothing: learning from it, even clipped, widened
    # the band by half after a few spikes a day and hid the next ones
    if abs(residual) <= cfg.clip * math.sqrt(max(state.deviation, 1.0)):
        state.deviation += b * (residual * residual - state.deviation)
    if abs(neg_residual) <= cfg.clip * math.sqrt(max(state.neg_deviation, 1.0)):
        state.neg_deviation += b * (neg_residual * neg_residual - state.neg_deviation)
    if profile is not None:
        state.track += a * (profile - state.track) if state.track > 0 else profile - state.track
    _accumulate_hour(state, tick - 1, x, cfg)


def _accumulate_hour(state: State, minute: int, clipped_volume: float, cfg: Config) -> None:
    """Adds the minute to its hour; a whole hour, once over, updates its hour-of-week slot (the
    partial hour a series starts in does not)."""
    hour = minute // 60
    if state.hour != hour:
        if state.hour_minutes == 60:
            _close_hour(state, state.hour, state.hour_volume / 60.0, cfg)
        state.hour, state.hour_volume, state.hour_minutes = hour, 0.0, 0
    state.hour_volume += clipped_volume
    state.hour_minutes += 1


def _close_hour(state: State, hour: int, rate: float, cfg: Config) -> None:
    if not state.season:
        state.season = [[0.0, 0] for _ in range(SLOTS)]
    slot = state.season[hour_of_week(hour)]
    weeks = slot[1] + 1
    weight = max(1.0 / weeks, cfg.season_alpha)
    slot[0] += weight * (rate - slot[0])
    slot[1] = weeks
