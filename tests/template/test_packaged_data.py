"""The data an installed azevac carries instead of the checkout's files stays equal to them."""

from __future__ import annotations

from evacuation.emulator import table


def test_the_packaged_state_table_is_the_templates() -> None:
    # An installed drill or sandbox builds its table from the packaged copy
    assert table.packaged_properties() == table.state_table_properties(), (
        "template.yaml's StateTable changed: run python -m evacuation.emulator.table"
    )
