"""`FakeBudgets`, the double budgets ships for its callers, keeps budgets' rules.

A limit refuses with the real `BudgetExceeded` and figures, holds count against it until they
are committed or released, a repeated idempotency key answers `replayed` while held and
`Conflict` once settled, and every change is recorded for the caller's assertions.
"""

from __future__ import annotations

import pytest

from gatewright.budgets.service.testing import FakeBudgets
from gatewright.core import BudgetExceeded, Conflict, NotFound

ORG = "org_fake"


async def test_holds_count_against_the_limit_until_settled() -> None:
    fake = FakeBudgets()
    fake.reservations.limit = 100
    r = fake.reservations
    first = await r.create(org_id=ORG, key_id="key_1", amount_micro_usd=60, request_id="req_1")
    assert (first.id, first.status, first.caller_request_id) == ("res_1", "held", "req_1")
    with pytest.raises(BudgetExceeded) as refused:
        await r.create(org_id=ORG, key_id=None, amount_micro_usd=41, request_id="req_2")
    e = refused.value
    assert (e.status_code, e.code, e.request_id) == (402, "budget_exceeded", "req_2")
    assert (e.limit_micro_usd, e.spent_micro_usd, e.reserved_micro_usd) == (100, 0, 60)
    assert e.requested_micro_usd == 41
    assert "limit 100" in e.message

    await r.commit(first.id, actual_micro_usd=30)
    second = await r.create(org_id=ORG, key_id=None, amount_micro_usd=70, request_id="req_3")
    await r.release(second.id)
    assert r.created[0]["amount"] == 60
    assert r.committed == [("res_1", 30)]
    assert r.released == ["res_2"]
    assert r.spent == {ORG: 30}
    # Settled is settled: the same commit again changes nothing, anything else is a conflict.
    assert (await r.commit(first.id, actual_micro_usd=30)).status == "committed"
    with pytest.raises(Conflict):
        await r.commit(first.id, actual_micro_usd=31)
    with pytest.raises(Conflict):
        await r.release(first.id)
    with pytest.raises(NotFound):
        await r.commit("res_missing", actual_micro_usd=1)


async def test_an_idempotency_key_is_replayed_while_held_only() -> None:
    r = FakeBudgets().reservations
    made = await r.create(
        org_id=ORG, key_id=None, amount_micro_usd=5, request_id="req", idempotency_key="idk-fake-1"
    )
    again = await r.create(
        org_id=ORG, key_id=None, amount_micro_usd=5, request_id="req", idempotency_key="idk-fake-1"
    )
    assert (again.id, again.replayed) == (made.id, True)
    assert len(r.created) == 1
    with pytest.raises(Conflict) as reused:
        await r.create(
            org_id=ORG,
            key_id=None,
            amount_micro_usd=6,
            request_id="r",
            idempotency_key="idk-fake-1",
        )
    assert reused.value.code == "idempotency_key_reused"
    await r.release(made.id)
    with pytest.raises(Conflict) as settled:
        await r.create(
            org_id=ORG,
            key_id=None,
            amount_micro_usd=5,
            request_id="r",
            idempotency_key="idk-fake-1",
        )
    assert settled.value.code == "reservation_settled"


async def test_per_org_budgets_and_reset() -> None:
    fake = FakeBudgets()
    fake.reservations.limits["org_spent"] = 10
    fake.reservations.spent["org_spent"] = 10
    with pytest.raises(BudgetExceeded):
        await fake.reservations.create(
            org_id="org_spent", key_id=None, amount_micro_usd=1, request_id="r"
        )
    await fake.reservations.create(org_id=ORG, key_id=None, amount_micro_usd=1, request_id="r")
    fake.reset()
    assert fake.reservations.created == []
    await fake.reservations.create(
        org_id="org_spent", key_id=None, amount_micro_usd=1, request_id="r"
    )
