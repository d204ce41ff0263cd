"""A test file whose name holds spaces, and a test whose name is long."""


def test_a_test_with_a_rather_long_name_that_goes_on_and_on_to_check_nothing_is_truncated_anywhere_in_the_reports():
    pass


def test_short():
    pass
