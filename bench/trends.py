"""Trend benchmark: synthetic streams with known spikes, through the detector the worker runs.

Each stream is one series (a topic) over ``--days`` simulated days, minute by minute: Poisson
counts around a base rate with a daily cycle (x0.5 at night to x1.5 in the afternoon), a
quieter weekend (x0.8) and over-dispersion (each minute's rate times a Gamma(20, 1/20) draw).
Spike streams carry a spike every 8-16 hours from day 2 on: 3x or 5x the rate of the moment,
sudden or gradual (a linear climb to full height over ``GRADUAL_RAMP`` minutes), lasting 30 to
90 minutes. Noise streams have no spikes. Every minute's counts go through
``engine.trends.detector.step`` with the shipped ``Config`` and ``Params`` (what
``engine/trends/detection.py`` calls for every series), in process, no database.

Reported: recall (spikes found while they last) and recall within 5 minutes of onset, per
magnitude and onset; the detection delay (event time, detected tick - onset); false alarms
per simulated day (a detection outside every spike), on noise streams and overall, and before
and after the hour-of-week baseline takes over (day 14). Targets: >= 95 % of 3x spikes found
within 5 minutes of onset; < 1 false alarm per stream-day of steady noise.

The shipped parameters were chosen with ``--tune`` on the tuning seeds (1000+); the default
run reports on the evaluation seeds (1+), which tuning never saw. Exits 1 when a target is missed.

    .venv/bin/python bench/trends.py [--seeds 3] [--days 21] [--tune]
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.trends.detector import Config, Params, State, step  # noqa: E402

BASE_RATES = (10.0, 20.0, 40.0)  # mean mentions a minute of a busy topic, before the daily cycle
GRADUAL_RAMP = 3  # minutes a gradual spike takes to reach full height
GAMMA_SHAPE = 30.0  # over-dispersion: each minute's rate times Gamma(30, 1/30), sd 18 %
START_MINUTE = 29_000_000  # 2025-02-20 13:20 UTC: streams start mid-week, mid-day
TUNING_SEED_BASE = 1000


@dataclass(frozen=True)
class Spike:
    onset: int
    duration: int
    magnitude: float
    gradual: bool


@dataclass
class Outcome:
    spikes: list[tuple[Spike, int | None]]  # each spike and its detection delay (None: missed)
    false_alarms: list[int]  # ticks
    minutes: int
    noise_only: bool


def cycle(minute: np.ndarray) -> np.ndarray:
    day_phase = (minute % 1440) / 1440.0
    daily = 1.0 + 0.5 * np.sin(2 * math.pi * (day_phase - 0.375))  # low ~03:00, high ~15:00 UTC
    weekday = ((minute // 1440 + 3) % 7) < 5
    return daily * np.where(weekday, 1.0, 0.8)


def make_spikes(rng: np.random.Generator, days: int) -> list[Spike]:
    spikes, at = [], 2 * 1440 + int(rng.integers(0, 600))
    while at < days * 1440 - 200:
        spikes.append(
            Spike(
                onset=at,
                duration=int(rng.integers(30, 91)),
                magnitude=float(rng.choice([3.0, 5.0])),
                gradual=bool(rng.random() < 0.5),
            )
        )
        at += int(rng.integers(8 * 60, 16 * 60))
    return spikes


def counts(rng: np.random.Generator, base: float, days: int, spikes: list[Spike]) -> np.ndarray:
    minutes = np.arange(days * 1440)
    rate = base * cycle(START_MINUTE + minutes) * rng.gamma(GAMMA_SHAPE, 1 / GAMMA_SHAPE, size=minutes.size)
    factor = np.ones(minutes.size)
    for s in spikes:
        span = np.arange(s.onset, s.onset + s.duration)
        climb = np.minimum(1.0, (span - s.onset + 1) / GRADUAL_RAMP) if s.gradual else 1.0
        factor[span] = 1.0 + (s.magnitude - 1.0) * climb
    return rng.poisson(rate * factor)


def run_stream(
    volumes: np.ndarray, spikes: list[Spike], params: Params, cfg: Config, noise_only: bool
) -> Outcome:
    state = State.new(START_MINUTE)
    detected: list[int] = []
    for i, v in enumerate(volumes.tolist()):
        found = step(state, START_MINUTE + i + 1, v, 0, 0.0, params, cfg)
        if found is not None:
            detected.append(i + 1 - 0)  # tick relative to the stream: minute i has closed
    result: list[tuple[Spike, int | None]] = []
    explained: set[int] = set()
    for s in spikes:
        hits = [t for t in detected if s.onset < t <= s.onset + s.duration]
        result.append((s, (hits[0] - s.onset) if hits else None))
        # a detection during a spike, or while its tail is still in the window, is that spike's
        explained |= {t for t in detected if s.onset < t <= s.onset + s.duration + cfg.window}
    return Outcome(result, [t for t in detected if t not in explained], len(volumes), noise_only)


def simulate(seeds: list[int], days: int, params: Params, cfg: Config) -> list[tuple[float, Outcome]]:
    outcomes = []
    for seed in seeds:
        for b, base in enumerate(BASE_RATES):
            for noise_only in (False, True):
                rng = np.random.default_rng([seed, b, int(noise_only)])
                spikes = [] if noise_only else make_spikes(rng, days)
                volumes = counts(rng, base, days, spikes)
                outcomes.append((base, run_stream(volumes, spikes, params, cfg, noise_only)))
    return outcomes


@dataclass
class Figures:
    recall: dict[str, float]
    recall_5min: dict[str, float]
    delay: dict[str, tuple[float, float]]
    fa_noise_per_day: float
    fa_all_per_day: float
    fa_before_seasonal: float
    fa_after_seasonal: float
    spikes: int


def figures(outcomes: list[tuple[float, Outcome]], cfg: Config) -> Figures:
    groups: dict[str, list[int | None]] = {}
    for _base, o in outcomes:
        for s, delay in o.spikes:
            for key in (f"{s.magnitude:g}x", f"{s.magnitude:g}x {'gradual' if s.gradual else 'sudden'}"):
                groups.setdefault(key, []).append(delay)
    recall = {k: sum(d is not None for d in v) / len(v) for k, v in groups.items()}
    within = {k: sum(d is not None and d <= 5 for d in v) / len(v) for k, v in groups.items()}
    delay = {}
    for k, v in groups.items():
        found = [d for d in v if d is not None]
        delay[k] = (statistics.median(found), max(found)) if found else (math.nan, math.nan)
    noise = [o for _, o in outcomes if o.noise_only]
    noise_days = sum(o.minutes for o in noise) / 1440
    all_days = sum(o.minutes for _, o in outcomes) / 1440
    switch = cfg.seasonal_min_days * 1440
    before = sum(sum(t <= switch for t in o.false_alarms) for o in noise)
    after = sum(sum(t > switch for t in o.false_alarms) for o in noise)
    days_before = sum(min(o.minutes, switch) for o in noise) / 1440
    days_after = sum(max(0, o.minutes - switch) for o in noise) / 1440
    return Figures(
        recall=recall,
        recall_5min=within,
        delay=delay,
        fa_noise_per_day=sum(len(o.false_alarms) for o in noise) / noise_days,
        fa_all_per_day=sum(len(o.false_alarms) for _, o in outcomes) / all_days,
        fa_before_seasonal=before / days_before if days_before else math.nan,
        fa_after_seasonal=after / days_after if days_after else math.nan,
        spikes=sum(len(o.spikes) for _, o in outcomes),
    )


def report(f: Figures, seeds: list[int], days: int, params: Params, cfg: Config, seconds: float) -> bool:
    streams = len(seeds) * len(BASE_RATES) * 2
    print(
        f"trends: {streams} streams x {days} days on evaluation seeds {seeds} (parameters tuned on seeds "
        f"{TUNING_SEED_BASE}+, not these); base rates {BASE_RATES}/min, daily cycle x0.5-x1.5, "
        f"gradual ramp {GRADUAL_RAMP} min"
    )
    print(
        f"detector: window {cfg.window} min, level half-life {cfg.level_half_life:g} min, deviation "
        f"half-life {cfg.deviation_half_life:g} min, seasonal after {cfg.seasonal_min_days} days; "
        f"score >= {params.score:g}, min volume {params.min_volume}, cooldown {params.cooldown_minutes} min"
    )
    print(f"{f.spikes} spikes; {seconds:.1f} s")
    print(f"{'spikes':<14} {'recall':>7} {'<=5 min':>8} {'delay p50':>10} {'max':>5}")
    for key in sorted(f.recall):
        p50, worst = f.delay[key]
        print(f"{key:<14} {f.recall[key]:>7.1%} {f.recall_5min[key]:>8.1%} {p50:>9.1f}m {worst:>4.0f}m")
    print(
        f"false alarms per stream-day: steady noise {f.fa_noise_per_day:.3f} (EWMA baseline, days 0-"
        f"{cfg.seasonal_min_days}: {f.fa_before_seasonal:.3f}; hour-of-week baseline after: "
        f"{f.fa_after_seasonal:.3f}); all streams {f.fa_all_per_day:.3f}"
    )
    ok_recall = f.recall_5min["3x"] >= 0.95
    ok_fa = f.fa_noise_per_day < 1.0
    print(
        f"targets: 3x spikes found within 5 min {f.recall_5min['3x']:.1%} (>= 95%: "
        f"{'met' if ok_recall else 'MISSED'}); false alarms {f.fa_noise_per_day:.3f}/day (< 1: "
        f"{'met' if ok_fa else 'MISSED'})"
    )
    return ok_recall and ok_fa


def tune(days: int) -> None:
    """A small grid on the tuning seeds; prints each point (the shipped defaults came from here)."""
    seeds = [TUNING_SEED_BASE + i for i in range(3)]
    print(f"tuning on seeds {seeds}, {days} days")
    for score in (3.5, 3.75, 4.0, 4.5, 5.0):
        for half_life in (30.0, 60.0):
            for dev_half_life in (360.0,):
                cfg = replace(Config(), level_half_life=half_life, deviation_half_life=dev_half_life)
                params = replace(Params(), score=score)
                f = figures(simulate(seeds, days, params, cfg), cfg)
                print(
                    f"score {score:g} half-life {half_life:g} dev {dev_half_life:g}: 3x<=5m "
                    f"{f.recall_5min['3x']:.3f} 5x<=5m {f.recall_5min['5x']:.3f} "
                    f"fa/day {f.fa_noise_per_day:.3f}",
                    flush=True,
                )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3, help="evaluation seeds 1..N")
    parser.add_argument("--days", type=int, default=21)
    parser.add_argument("--tune", action="store_true", help="grid-search on the tuning seeds instead")
    args = parser.parse_args()
    if args.tune:
        tune(args.days)
        return
    cfg, params = Config(), Params()
    seeds = list(range(1, args.seeds + 1))
    started = time.perf_counter()
    f = figures(simulate(seeds, args.days, params, cfg), cfg)
    ok = report(f, seeds, args.days, params, cfg, time.perf_counter() - started)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
