import pytest


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    """A module-scoped fixture with a real one-off cost, paid once per shard the module lands in."""
    path = tmp_path_factory.mktemp("data") / "rows.txt"
    path.write_text("\n".join(str(i) for i in range(1000)))
    return path


def test_read(work, dataset):
    work(0.2)
    assert dataset.read_text().count("\n") == 999


def test_write(work, tmp_path):
    work(0.25)
    target = tmp_path / "out.txt"
    target.write_text("x")
    assert target.read_text() == "x"


class TestFormats:
    @pytest.mark.parametrize("fmt", ["json", "csv", "xml"])
    def test_format(self, work, fmt):
        work(0.3)
        assert fmt.isalpha()

    def test_roundtrip(self, work, dataset):
        work(0.6)
        assert dataset.exists()
