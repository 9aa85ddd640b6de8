import numpy as np
import pytest

from zssr.method.lr_policy import LinearFitLRPolicy, slope_is_flat


def drive(policy: LinearFitLRPolicy, curve, max_steps=3000, lr=1e-3):
    """Run the policy like the Trainer does: a test every 50 steps, an update after every step."""
    for step in range(1, max_steps + 1):
        if step % 50 == 0:
            policy.record(step, curve(step))
        lr = policy.update(step, lr)
        if policy.finished(lr):
            return step, lr
    return max_steps, lr


def test_slope_rule():
    steps = [50, 100, 150, 200, 250]
    assert not slope_is_flat(steps, [1.0, 0.8, 0.6, 0.4, 0.2], 1.5)
    assert slope_is_flat(steps, [1.0, 1.0, 1.0, 1.0, 1.0], 1.5)
    assert slope_is_flat(steps, [0.5, 0.6, 0.4, 0.55, 0.45], 1.5)


def test_steadily_falling_error_keeps_the_learning_rate():
    policy = LinearFitLRPolicy()
    step, lr = drive(policy, lambda s: 1.0 - s / 4000)
    assert (step, lr) == (3000, 1e-3) and policy.history == []


def test_flat_noisy_error_divides_by_ten_at_the_first_eligible_check_and_stops():
    rng = np.random.default_rng(0)
    policy = LinearFitLRPolicy()
    step, lr = drive(policy, lambda s: 0.01 + 1e-4 * rng.standard_normal())
    changes = [s for s, _ in policy.history]
    # first check after more than 256 steps that is a multiple of 60: 300; then >256 steps apart
    assert changes == [300, 600, 900]
    assert lr == pytest.approx(1e-6) and step == 900  # 1e-6 < min_lr 9e-6: stop
    assert [v for _, v in policy.history] == pytest.approx([1e-4, 1e-5, 1e-6])


def test_policy_waits_for_min_steps_between_changes():
    policy = LinearFitLRPolicy(min_steps_between=500)
    drive(policy, lambda s: 0.01)
    changes = [s for s, _ in policy.history]
    assert changes == [540, 1080, 1620]


def test_falling_then_flat_curve_reduces_only_after_the_plateau():
    policy = LinearFitLRPolicy()
    drive(policy, lambda s: max(1.0 - s / 1000, 0.1), max_steps=1400)
    assert policy.history and policy.history[0][0] > 900


def test_tail_steps_stop_a_fixed_count_after_the_first_cut():
    """One adaptive phase: the first cut at 300 (as above), then 150 steps at 1e-4 and a stop, no second fit."""
    rng = np.random.default_rng(0)
    policy = LinearFitLRPolicy(tail_steps=150)
    step, lr = drive(policy, lambda s: 0.01 + 1e-4 * rng.standard_normal())
    assert policy.history == [(300, pytest.approx(1e-4))]
    assert (step, lr) == (450, pytest.approx(1e-4))


def test_the_tail_lasts_until_tail_min_steps_after_an_early_first_cut():
    """The same early cut at 300: the tail runs on at 1e-4, with no second fit, until step 1000; a later floor than
    the tail's own end is the only thing that moves the stop."""
    rng = np.random.default_rng(0)
    policy = LinearFitLRPolicy(tail_steps=150, tail_min_steps=1000)
    step, lr = drive(policy, lambda s: 0.01 + 1e-4 * rng.standard_normal())
    assert policy.history == [(300, pytest.approx(1e-4))]
    assert (step, lr) == (1000, pytest.approx(1e-4))
    policy = LinearFitLRPolicy(tail_steps=150, tail_min_steps=400)
    assert drive(policy, lambda s: 0.01 + 1e-4 * rng.standard_normal())[0] == 450
