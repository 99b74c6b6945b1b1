"""Declared settings: validation with bilingual errors, parsing, hashing."""
from dataclasses import dataclass

import pytest

from fmlab.params import ConfigError, DemoConfig, make, param, params
from fmlab.text import _


@dataclass(frozen=True)
class Config(DemoConfig):
    lr: float = param(0.01, low=1e-4, high=1.0, log=True, help=_("Learning rate", "学习率"))
    epochs: int = param(3, low=1, high=10, help=_("Epochs", "轮数"))
    name: str = param("a", choices=("a", "b"), help=_("Name", "名称"))
    picks: tuple = param(("x",), choices=("x", "y"), help=_("Picks", "选择"))
    flag: bool = param(False, help=_("Flag", "开关"))


def test_declaration_is_readable():
    ps = {p.name: p for p in params(Config)}
    assert ps["lr"].log and ps["lr"].kind is float and ps["picks"].kind is tuple
    assert ps["epochs"].help.zh == "轮数"


@pytest.mark.parametrize("bad", [dict(lr=5.0), dict(epochs=0), dict(name="c"), dict(picks=("z",)),
                                 dict(picks=()), dict(epochs=2.5), dict(lr=float("nan")), dict(flag="yes")])
def test_invalid_settings_raise_bilingual_errors(bad):
    with pytest.raises(ConfigError) as err:
        Config(**bad)
    assert err.value.text.en and err.value.text.zh and err.value.text.en != err.value.text.zh


def test_make_parses_command_line_text():
    cfg = make(Config, {"lr": "0.5", "epochs": "4", "picks": "x,y", "flag": "true", "name": "b"})
    assert cfg == Config(lr=0.5, epochs=4, picks=("x", "y"), flag=True, name="b")


def test_make_rejects_unknown_names_and_unparseable_text():
    with pytest.raises(ConfigError, match="unknown setting"):
        make(Config, {"momentum": "0.9"})
    with pytest.raises(ConfigError, match="cannot read"):
        make(Config, {"epochs": "many"})


def test_int_for_float_is_coerced_so_equal_configs_hash_alike():
    assert hash(Config(lr=1)) == hash(Config(lr=1.0)) and isinstance(Config(lr=1).lr, float)


def test_undeclared_field_is_refused():
    @dataclass(frozen=True)
    class Bad(DemoConfig):
        x: int = 1

    with pytest.raises(TypeError, match="param"):
        Bad()
