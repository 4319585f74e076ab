"""The whitespace the set-based CSV staging strips is exactly what Python's str.strip() strips."""

from ecolabel_registry.persistence.csv_stage import WHITESPACE


def test_the_list_is_every_character_python_calls_whitespace() -> None:
    assert "".join(c for c in map(chr, range(0x110000)) if c.isspace()) == WHITESPACE
