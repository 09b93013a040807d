"""Every bad call in the table raises the right, catchable error with a message that names the
op and the bad shape, dtype, device or value, and leaves the training state untouched."""
import re
import warnings

import pytest

from tests.bad_input import State, assert_same
from tests.bad_input import rows_core, rows_training

ROWS = rows_core.ROWS + rows_training.ROWS


def test_table_is_large_and_ids_unique():
    ids = [r.id for r in ROWS]
    assert len(ids) == len(set(ids)), [i for i in ids if ids.count(i) > 1]
    assert len(ROWS) >= 100


@pytest.mark.parametrize("row", [pytest.param(r, id=r.id, marks=r.marks) for r in ROWS])
def test_bad_call(row):
    s = State()
    before = s.snapshot()
    if row.warns is not None:
        with pytest.warns(row.warns) as rec:
            row.call(s)
        msg = " ".join(str(w.message) for w in rec if issubclass(w.category, row.warns))
    else:
        assert row.exc, f"{row.id}: a row names the exception classes it expects"
        with pytest.raises(Exception) as info:
            with warnings.catch_warnings():
                warnings.simplefilter("error")  # a bad call raises; it does not warn on the way
                # but a file another test left open may be collected meanwhile
                warnings.simplefilter("default", ResourceWarning)
                warnings.simplefilter("default", pytest.PytestUnraisableExceptionWarning)
                row.call(s)
        for cls in row.exc:
            assert isinstance(info.value, cls), \
                f"{row.id}: raised {type(info.value).__mro__} which is not a {cls.__name__}: {info.value}"
        msg = str(info.value)
    for w in row.words:
        assert re.search(re.escape(str(w)), msg, re.IGNORECASE), \
            f"{row.id}: message lacks {w!r}: {msg}"
    assert_same(before, s.snapshot(), f"{row.id}: right after the error")
    # The next correct step gives what it gives without the bad call.
    ref = State()
    s.step()
    ref.step()
    assert_same(ref.snapshot(), s.snapshot(), f"{row.id}: next step")
