"""Three verdicts on a speed ratio: ``worse``, ``same`` or ``unknown`` (and ``better``, the mirror of worse).

Every time or count judged by ``compare``, ``ab`` and ``history`` ends here,
given a ratio NEW/BASE and two intervals around it:

- ``worse``: the ratio is beyond the gate AND significantly above 1 (the lower
  bound of the test interval, at ``1 - alpha``, is above 1). The only verdict
  that fails a gate (exit 1).
- ``better``: the mirror image (below ``1 / gate``, upper bound below 1).
- ``same``: an equivalence test (two one-sided tests, TOST): the ``1 - 2 alpha``
  interval lies inside ``[1 / margin, margin]``; the margin defaults to the gate.
  "No significant difference" is not "same": a wide interval around 1 says
  nothing, and is ``unknown``.
- ``unknown``: neither; the note says what would decide it (more rounds or
  runs, a quieter machine, counting instructions).

A time difference under the time resolution (:func:`under_resolution`) is
``same`` whatever its ratio when the metric is shorter than the resolution (a
7 ms predict); a metric as long as the resolution or longer (:func:`resolved`)
is ``worse`` or ``better`` first when significant and beyond the gate, and
``same`` by the resolution only otherwise.

Why not a significance test alone: on a machine whose speed switches between
two levels (x1.6 on the reference VM, docs/speed.md), two runs of the same code
differ beyond any gate a few times in ten, and a t interval on three repeats
of one run does not see the run-to-run level at all. A gate that fails on
unchanged code gets switched off; ``unknown`` is the honest answer.
"""

from __future__ import annotations

import math

__all__ = [
    "EXIT_UNKNOWN",
    "VERDICTS",
    "decide",
    "decide_time",
    "exit_code",
    "resolution_note",
    "resolved",
    "rounds_needed",
    "under_resolution",
]

#: Every verdict a speed metric can get.
VERDICTS: tuple[str, ...] = ("worse", "better", "same", "unknown")
#: The exit status of ``--fail-on-unknown`` when nothing is worse but something is unknown.
EXIT_UNKNOWN = 3


def decide(
    ratio: float,
    test: tuple[float, float] | None,
    equivalence: tuple[float, float] | None,
    *,
    gate: float,
    margin: float | None = None,
) -> str:
    """The verdict on one ratio from its intervals (``None``: no interval could be formed).

    Parameters
    ----------
    ratio : float
        The estimate NEW/BASE (a geometric mean or a ratio of medians).
    test : (float, float) or None
        The interval of the significance test (``1 - alpha``, corrected for
        multiplicity where several metrics are judged together).
    equivalence : (float, float) or None
        The ``1 - 2 alpha`` interval of the equivalence test (TOST).
    gate : float
        A ratio > 1: ``worse`` beyond it, ``better`` below its inverse.
    margin : float or None, default=None
        The equivalence margin (> 1); None: the gate.

    Returns
    -------
    {"worse", "better", "same", "unknown"}

    Examples
    --------
    >>> decide(1.30, (1.20, 1.40), (1.22, 1.38), gate=1.10)
    'worse'
    >>> decide(1.01, (0.95, 1.07), (0.96, 1.06), gate=1.10)
    'same'
    >>> decide(1.01, (0.80, 1.25), (0.83, 1.22), gate=1.10)
    'unknown'
    >>> decide(1.30, None, None, gate=1.10)
    'unknown'
    """
    m = gate if margin is None else margin
    if test is not None and not any(math.isnan(x) for x in test):
        lo, hi = test
        if ratio > gate and lo > 1:
            return "worse"
        if ratio < 1 / gate and hi < 1:
            return "better"
    if equivalence is not None and not any(math.isnan(x) for x in equivalence):
        lo, hi = equivalence
        if lo >= 1 / m and hi <= m:
            return "same"
    return "unknown"


def under_resolution(base_s: float, new_s: float, equivalence: tuple[float, float] | None, resolution: float) -> bool:
    """Whether a time difference is under ``resolution`` seconds: ``same``, unless :func:`resolved` lets a worse stand.

    With an equivalence interval of the ratio (``1 - 2 alpha``), the whole interval's difference in
    seconds, ``base_s * (interval - 1)``, must lie inside ``(-resolution, resolution)`` (two one-sided
    tests on an absolute margin); the point difference alone would call a significant 5% slowdown of a
    0.8 s fit "same" (0.04 s). Without an interval (one run a side), the point difference.

    Examples
    --------
    >>> under_resolution(0.827, 0.867, (1.022, 1.075), 0.05)  # 0.018 to 0.062 s: not under 0.05 s
    False
    >>> under_resolution(0.006, 0.006, (0.95, 1.05), 0.05)
    True
    >>> under_resolution(0.8, 0.84, None, 0.05)
    True
    """
    if equivalence is None or not all(math.isfinite(x) for x in equivalence):
        return abs(new_s - base_s) < resolution
    return base_s * max(abs(equivalence[0] - 1), abs(equivalence[1] - 1)) < resolution


def decide_time(
    ratio: float,
    test: tuple[float, float] | None,
    equivalence: tuple[float, float] | None,
    times: tuple[float, float],
    resolution: float,
    *,
    gate: float,
    margin: float,
) -> tuple[str, str]:
    """The verdict on a time ratio with the time resolution, and the resolution's note ("" when it did not decide).

    :func:`decide` first; a difference under the resolution (:func:`under_resolution`) is then ``same``,
    unless the verdict is ``worse`` or ``better`` and the metric is as long as the resolution
    (:func:`resolved`). ``times`` are the base's and the new side's seconds. ``compare`` and ``ab`` both
    judge times here.

    Examples
    --------
    >>> decide_time(1.05, (1.03, 1.07), (1.035, 1.065), (0.65, 0.68), 0.05, gate=1.03, margin=1.03)
    ('worse', '')
    >>> decide_time(1.2, (1.1, 1.3), (1.12, 1.28), (0.006, 0.0072), 0.05, gate=1.03, margin=1.03)
    ('same', 'difference under the 0.05 s resolution')
    """
    verdict = decide(ratio, test, equivalence, gate=gate, margin=margin)
    if verdict in ("worse", "better") and resolved(times[0], resolution):
        return verdict, ""
    if under_resolution(times[0], times[1], equivalence, resolution):
        return "same", resolution_note(times[0], equivalence, resolution, margin)
    return verdict, ""


def resolved(base_s: float, resolution: float) -> bool:
    """Whether a metric is long enough for its ratio to be judged beyond the resolution: ``base_s >= resolution``.

    A ``worse`` or ``better`` (significant and beyond the gate) of such a metric stands even when the
    difference lies under the resolution: a 5% slowdown of a 0.65 s fit is 33 ms, under the default
    0.05 s, and a user who set a 1.03 gate asked for it. A metric shorter than the resolution (a 7 ms
    predict) is ``same`` when its difference is under it, whatever the ratio: its ratio moves with the
    scheduler and the machine's speed levels more than with the code.

    Examples
    --------
    >>> resolved(0.65, 0.05), resolved(0.007, 0.05)
    (True, False)
    """
    return base_s >= resolution


def resolution_note(base_s: float, equivalence: tuple[float, float] | None, resolution: float, margin: float) -> str:
    """The note of a ``same`` by :func:`under_resolution`, saying when the resolution was looser than the margin.

    A metric longer than the resolution itself (a 0.65 s fit, not a 7 ms predict) whose interval
    reaches past the margin is ``same`` only by the resolution: the note says so, with the margin in
    seconds, so that a user who set a fine gate sees that a smaller ``--time-resolution`` judges at it.

    Examples
    --------
    >>> print(resolution_note(0.65, (0.996, 1.070), 0.05, margin=1.03))  # doctest: +ELLIPSIS
    difference under the 0.05 s resolution (not inside the x1.03 margin, 0.0195 s here: a smaller ...)
    >>> resolution_note(0.65, (0.99, 1.02), 0.05, margin=1.03)
    'difference under the 0.05 s resolution'
    >>> resolution_note(0.007, (0.8, 1.25), 0.05, margin=1.03)  # shorter than the resolution: nothing to add
    'difference under the 0.05 s resolution'
    """
    note = f"difference under the {resolution:g} s resolution"
    if base_s < resolution or equivalence is None or not all(math.isfinite(x) for x in equivalence):
        return note
    if 1 / margin <= equivalence[0] and equivalence[1] <= margin:
        return note
    return (
        f"{note} (not inside the x{margin:g} margin, {base_s * (margin - 1):.3g} s here: "
        "a smaller --time-resolution judges at it)"
    )


def rounds_needed(ratio: float, interval: tuple[float, float], n: int, gate: float, margin: float) -> int | None:
    """About how many rounds (or runs) in all would settle an ``unknown``, at the spread seen; None if hopeless.

    An interval's half-width shrinks as ``1 / sqrt(n)``: the rounds that would
    bring it inside the equivalence margin (if the ratio is inside it) or
    clear of 1 (if the ratio is beyond the gate). None when the ratio sits
    on the margin or the gate, where no number of rounds settles it, or when
    more than 20 times ``n`` would be needed.

    Examples
    --------
    >>> rounds_needed(1.0, (0.9, 1.11), 4, gate=1.1, margin=1.1)
    5
    """
    lo, hi = interval
    if n < 2 or not (lo > 0 and hi > 0) or any(math.isnan(x) for x in interval):
        return None
    half = (math.log(hi) - math.log(lo)) / 2
    centre = math.log(ratio)
    room = math.log(margin) - abs(centre) if abs(centre) < math.log(margin) else abs(centre)
    if ratio <= gate and ratio >= 1 / gate and abs(centre) >= math.log(margin):
        return None  # between the margin and the gate: neither verdict is in reach
    if room <= 0 or half <= 0:
        return None
    need = math.ceil(n * (half / room) ** 2)
    return max(need, n + 1) if need <= 20 * n else None


def exit_code(verdicts: list[str], *, fail_on_unknown: bool = False) -> int:
    """1 when any verdict is ``worse``; else 3 (:data:`EXIT_UNKNOWN`) when asked and any is ``unknown``; else 0.

    Examples
    --------
    >>> exit_code(["same", "unknown"]), exit_code(["same", "unknown"], fail_on_unknown=True)
    (0, 3)
    """
    if "worse" in verdicts:
        return 1
    if fail_on_unknown and "unknown" in verdicts:
        return EXIT_UNKNOWN
    return 0
