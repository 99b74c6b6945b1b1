"""lr-schedules: the training runs used the drawn schedules (checked against PyTorch in test_schedules), and
warm-up rescues a post-LN Transformer at a high peak learning rate."""
import pytest
import torch

from fmlab.demo import silent
from fmlab.demos import lr_schedules as demo
from fmlab.schedules import SHAPES, lr_curve


@pytest.fixture(scope="module")
def result():
    cfg = demo.Config()
    assert cfg.block == "post-ln"
    return cfg, demo.run(cfg)


def test_training_used_the_drawn_schedules():
    """The rate Adam had at every step of each training run is the drawn curve, step for step."""
    cfg = demo.Config()
    data = (demo.palindromes(cfg.train_size, cfg.seed), demo.palindromes(1000, cfg.seed + 10_000))
    for warm, shape in ((False, "cosine"), (True, "warmup_cosine")):
        fit, lrs = demo.train(warm, cfg, data, silent)
        assert lrs == pytest.approx(lr_curve(shape, cfg.peak_lr, cfg.steps, cfg.warmup)), shape
        assert len(lrs) == cfg.steps == len(fit.history["loss"])


def test_the_claim_holds_at_the_defaults(result, shows_claim):
    _cfg, r = result
    shows_claim(demo.CLAIM, r)
    assert "trained only when the rate was ramped up" in r.verdict.en


def test_the_claim_needs_both_outcomes_and_a_post_ln_block():
    m = {"acc_warmup": 0.99, "acc_no_warmup": 0.2, "post_ln": 1.0}
    assert demo.CLAIM.check(m) is True
    assert demo.CLAIM.check({**m, "acc_warmup": 0.6}) is False  # warm-up did not rescue it
    assert demo.CLAIM.check({**m, "acc_no_warmup": 0.95}) is False  # no rescue was needed
    assert demo.CLAIM.check({**m, "post_ln": 0.0}) is None  # pre-LN does not test it


def test_warm_up_rescues_the_high_peak(result):
    _cfg, r = result
    m = r.metrics
    assert m["acc_warmup"] > 0.9
    assert m["acc_no_warmup"] < 0.5  # stalled far below the task (chance is 0.1)
    assert m["loss_no_warmup"] > 1.0 > 3 * m["loss_warmup"]


def test_palindromes_hide_one_token_the_mirror_reveals():
    X, y = demo.palindromes(50, seed=3)
    assert ((X == demo.MASK).sum(dim=1) == 1).all()
    where = (X == demo.MASK).float().argmax(dim=1)
    mirror = X[torch.arange(50), demo.LENGTH - 1 - where]
    assert torch.equal(mirror, y)


def test_warmup_longer_than_training_is_a_readable_error():
    with pytest.raises(ValueError, match="Warm-up"):
        demo.Config(epochs=1, train_size=640, warmup=10)


def test_the_lr_table_names_each_schedule_in_both_languages(result):
    cfg, r = result
    (table,) = r.tables
    for lang in ("en", "zh"):
        header = table.columns["schedule"].get(lang)
        assert [row[header] for row in table.frame(lang)] == [demo.SHAPE_NAMES[s].get(lang) for s in SHAPES]
    first = {row["schedule"]: row["s0"] for row in table.rows}
    assert first[demo.SHAPE_NAMES["constant"]] == cfg.peak_lr
    assert first[demo.SHAPE_NAMES["warmup_cosine"]] == pytest.approx(0.01 * cfg.peak_lr)  # warm-up starts at 1%
