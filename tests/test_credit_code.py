"""GB 32100 credit codes: valid ones pass, every single mistyped character is caught."""
from hypothesis import given
from hypothesis import strategies as st

from engine.green.credit_code import ALPHABET, check_character, is_valid, problem

FIRST17 = st.tuples(
    st.text(ALPHABET, min_size=2, max_size=2),
    st.text("0123456789", min_size=6, max_size=6),
    st.text(ALPHABET, min_size=9, max_size=9),
).map("".join)


def test_known_codes():
    code = "91620100224330075" + check_character("91620100224330075")
    assert is_valid(code)
    assert "18 characters" in problem(code[:-1])
    assert "not allowed" in problem(code[:5] + "O" + code[6:])
    assert "check character" in problem(code[:-1] + ("0" if code[-1] != "0" else "1"))


@given(FIRST17)
def test_the_check_character_makes_a_valid_code(first17):
    assert is_valid(first17 + check_character(first17))


@given(FIRST17, st.integers(0, 17), st.sampled_from(ALPHABET))
def test_any_single_mistyped_character_is_caught(first17, position, replacement):
    code = first17 + check_character(first17)
    typo = code[:position] + replacement + code[position + 1:]
    if typo != code:
        assert not is_valid(typo)
