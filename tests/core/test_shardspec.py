import pytest

from sharder.core.errors import SharderError
from sharder.core.shardspec import ShardSpec, parse_shard, parse_shard_count


@pytest.mark.parametrize(("text", "expected"), [("1/1", (1, 1)), ("3/8", (3, 8)), (" 8/8 ", (8, 8))])
def test_parses_valid_shards(text: str, expected: tuple[int, int]) -> None:
    spec = parse_shard(text)
    assert (spec.index, spec.total) == expected
    assert str(spec) == f"{expected[0]}/{expected[1]}"


@pytest.mark.parametrize("text", ["0/4", "5/4", "a/b", "0/0", "-1/4", "4/3", "1/4/2", "３/４", "1/", "/4", "", "1.0/4"])
def test_rejects_invalid_shards(text: str) -> None:
    with pytest.raises(SharderError):
        parse_shard(text)


def test_report_stem_is_a_plain_file_name() -> None:
    assert ShardSpec(3, 8).report_stem == "shard-3-of-8"


@pytest.mark.parametrize("text", ["0", "-2", "x", "2.5", "٣"])
def test_rejects_invalid_shard_counts(text: str) -> None:
    with pytest.raises(SharderError):
        parse_shard_count(text)
