"""What every lesson file checks of its demo's default run."""
import pytest

from fmlab.demo import Claim, Result


def assert_shows_claim(claim: Claim, result: Result) -> None:
    """The claim held on this run, and the verdict says so in both languages."""
    assert claim.check(result.metrics) is True, claim.text.en
    said = claim.verdict(result.metrics)  # "This run showed the lesson: …"
    assert said.en in result.verdict.en and said.zh in result.verdict.zh


@pytest.fixture
def shows_claim():
    return assert_shows_claim
