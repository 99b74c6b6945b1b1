"""Bilingual text: one template pair, values passed once, sentences joined the way each language joins them."""
import pytest

from fmlab.demo import Claim
from fmlab.text import T, _, fields, join, names, sentences


def test_format_fills_both_languages_once():
    t = _("Adam reached {acc:.1%} at step {step}.", "Adam 在第 {step} 步达到 {acc:.1%}。").format(acc=0.925, step=30)
    assert t == T("Adam reached 92.5% at step 30.", "Adam 在第 30 步达到 92.5%。")


def test_a_T_value_fills_each_language_in_its_own():
    t = _("{name} trained best.", "{name} 训练效果最好。").format(name=_("residual", "残差"))
    assert t == T("residual trained best.", "残差 训练效果最好。")


def test_templates_with_different_fields_are_rejected():
    assert fields("{a:.2f} and {b[0]} and {c.real}") == {"a", "b", "c"}
    with pytest.raises(ValueError, match="different fields"):
        _("loss {loss:.3f} at {step}", "损失 {loss:.3f}").format(loss=0.1, step=3)


def test_sentences_join_with_spaces_in_english_and_nothing_in_chinese():
    s = sentences(_("One.", "一。"), None, _("Two.", "二。"))
    assert s == T("One. Two.", "一。二。")
    assert join(["a", _("b", "乙")]) == T("a, b", "a，乙")
    assert names([_("plain", "普通"), _("residual", "残差")]) == T("plain, residual", "普通、残差")


def test_a_claim_says_shown_not_shown_or_not_tested():
    claim = Claim(_("x beats y", "x 胜过 y"), lambda m: None if m["n"] < 2 else m["x"] > m["y"],
                  fragile=_("Small n is noisy.", "n 太小时结果不稳定。"))
    assert claim.check({"n": 3, "x": 2, "y": 1}) is True
    assert claim.check({"n": 3, "x": 0, "y": 1}) is False
    assert claim.check({"n": 1}) is None and claim.check({"n": 3}) is None  # too few; a metric missing
    assert claim.verdict({"n": 3, "x": 2, "y": 1}).en == "This run showed the lesson: x beats y."
    told = claim.verdict({"n": 3, "x": 0, "y": 1})
    assert told.en == "This run did NOT show the lesson: x beats y. Small n is noisy."
    assert told.zh == "本次运行没有印证：x 胜过 y。n 太小时结果不稳定。"
    assert claim.verdict({"n": 1}).zh == "当前设置检验不了这条结论：x 胜过 y。"


def test_a_table_shows_headers_and_T_cells_in_the_language_asked():
    from fmlab.demo import Table

    table = Table(_("Summary", "汇总"), {"run": _("run", "训练组"), "acc": _("accuracy", "准确率")},
                  [{"run": _("restored", "恢复后"), "acc": 0.9}, {"run": "sgd", "acc": 0.5}])
    assert table.frame("zh") == [{"训练组": "恢复后", "准确率": 0.9}, {"训练组": "sgd", "准确率": 0.5}]
    assert table.frame("en")[0] == {"run": "restored", "accuracy": 0.9}
