"""Items made JSON-ready (`harvester.items.as_dict`): a flat item as it is, unsafe text replaced."""

from __future__ import annotations

import pytest

from harvester.items import as_dict


def test_a_flat_item_of_safe_text_and_numbers_is_kept_as_it_is() -> None:
    item = {"url": "http://127.0.0.1/p/1.html", "name": "Café ✓", "price": 2.5, "stock": 3, "new": True, "note": None}
    assert as_dict(item) == item


@pytest.mark.parametrize(
    ("item", "expected"),
    [
        ({"name": "a\x00b"}, {"name": "a\ufffdb"}),
        ({"na\x00me": "x"}, {"na\ufffdme": "x"}),
        ({"name": "caf\u00e9 \ud800"}, {"name": "caf\u00e9 \ufffd"}),
        ({"k\ud83d": "\ude00v"}, {"k\ufffd": "\ufffdv"}),  # halves of a pair in two texts stay halves
        ({"last": "ok", "price": float("nan")}, {"last": "ok", "price": None}),
    ],
)
def test_nul_lone_surrogates_and_nan_are_replaced_wherever_they_are(
    item: dict[str, object], expected: dict[str, object]
) -> None:
    assert as_dict(item) == expected
