"""Payment allocation: a pure function of the schedule, the charges and the payments.

Payments are applied in value-date order (posting order breaks ties), oldest installment
first and, within an installment, by the product's component order (default penalty →
fee → interest → principal). A charge can only be paid from its charge date on. Money left
over once everything payable is paid is held as credit and used for charges that arrive
later. Because the whole ledger is derived from its inputs, a back-dated payment or a
reversal is handled by deriving again: the state can never drift.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, NamedTuple

PENALTY, FEE, INTEREST, PRINCIPAL, CREDIT = "penalty", "fee", "interest", "principal", "credit"
DEFAULT_ORDER: tuple[str, ...] = (PENALTY, FEE, INTEREST, PRINCIPAL)


# The value types below are named tuples: the daily run makes them by the hundred thousand.


class Due(NamedTuple):
    """A scheduled installment (minor units)."""

    number: int
    due_on: date
    principal: int
    interest: int
    fee: int = 0


class ChargeDue(NamedTuple):
    """A penalty or fee charged against one installment, payable from ``charged_on``."""

    charge_id: int
    installment_number: int
    component: str  # penalty | fee
    charged_on: date
    amount: int


class Receipt(NamedTuple):
    """A posted (not reversed) payment; ``sequence`` orders payments of the same value date."""

    payment_id: int
    value_date: date
    amount: int
    sequence: int = 0


class Allocated(NamedTuple):
    """Part of a payment applied to one component; ``component == 'credit'`` is money held."""

    payment_id: int
    installment_number: int | None
    component: str
    charge_id: int | None
    amount: int
    applied_on: date | None = None  # when the money met the debt; None while held as credit


class InstallmentState(NamedTuple):
    """An installment with what has been paid of each component and what is still owed."""

    number: int
    due_on: date
    principal: int
    interest: int
    fee: int
    paid_principal: int
    paid_interest: int
    paid_fee: int
    charged_fee: int  # late and other fees charged on it
    paid_charged_fee: int
    charged_penalty: int
    paid_penalty: int

    @property
    def outstanding_principal(self) -> int:
        return self.principal - self.paid_principal

    @property
    def outstanding_interest(self) -> int:
        return self.interest - self.paid_interest

    @property
    def outstanding_fee(self) -> int:
        return self.fee - self.paid_fee + self.charged_fee - self.paid_charged_fee

    @property
    def outstanding_penalty(self) -> int:
        return self.charged_penalty - self.paid_penalty

    @property
    def outstanding(self) -> int:
        return (
            self.outstanding_principal
            + self.outstanding_interest
            + self.outstanding_fee
            + self.outstanding_penalty
        )


@dataclass(frozen=True, slots=True)
class LedgerState:
    """The derived ledger of one loan."""

    installments: tuple[InstallmentState, ...]
    charge_paid: dict[int, int]
    allocations: tuple[Allocated, ...]
    credit: int

    @property
    def outstanding(self) -> int:
        return sum(i.outstanding for i in self.installments)


class _Slot:
    __slots__ = ("available_from", "charge_id", "component", "index", "remaining")

    def __init__(
        self, index: int, component: str, remaining: int, charge_id: int | None, available: date
    ) -> None:
        self.index = index
        self.component = component
        self.remaining = remaining
        self.charge_id = charge_id
        self.available_from = available


_BUILD_AHEAD = 12  # installments built at a time once payments reach the last built


class Ledger:
    """An incremental ledger: add charges and apply payments in date order.

    ``allocate`` drives it from stored data; the daily run drives it while it accrues
    penalty interest, which depends on what was paid when.
    """

    def __init__(self, installments: Sequence[Due], order: Sequence[str] = DEFAULT_ORDER) -> None:
        if sorted(order) != sorted(DEFAULT_ORDER):
            raise ValueError("order must list penalty, fee, interest and principal once each")
        self.schedule = sorted(installments, key=lambda d: (d.due_on, d.number))
        self.order = tuple(order)
        self._index = {due.number: i for i, due in enumerate(self.schedule)}
        self._rank = {component: k for k, component in enumerate(self.order)}
        self.slots: list[_Slot] = []
        self._keys: list[tuple[int, int, int]] = []
        # what is owed per installment and component, kept in step with the slots
        self._owed: list[dict[str, int]] = [
            {PENALTY: 0, FEE: due.fee, INTEREST: due.interest, PRINCIPAL: due.principal}
            for due in self.schedule
        ]
        self._first_open = 0
        # Slots of scheduled components are built lazily, in installment order, as far as
        # payments or charges reach (a mortgage has 360 installments; a few years' payments
        # reach far fewer); built in order, they need no bisecting, only charges do.
        # Nothing is owed on a zero amount, so it gets no slot.
        self._scheduled = [(self._rank[c], c) for c in self.order if c != PENALTY]
        self._built = 0  # installments whose scheduled slots exist
        self.applied: list[tuple[int, _Slot, int, date]] = []  # payment, slot, amount, on
        self.credit: list[list[Any]] = []  # FIFO of [payment_id, amount]
        self._charge_seq = 0
        self._charges: dict[int, _Slot] = {}

    def _build(self, upto: int) -> bool:
        """Build the scheduled slots of installments up to index ``upto``; False if all were."""
        if self._built >= len(self.schedule):
            return False
        keys, slots, owed_all = self._keys, self.slots, self._owed
        for index in range(self._built, min(upto, len(self.schedule) - 1) + 1):
            owed = owed_all[index]
            for rank, component in self._scheduled:
                amount = owed[component]
                if amount:
                    keys.append((index, rank, 0))
                    slots.append(_Slot(index, component, amount, None, date.min))
        self._built = min(upto, len(self.schedule) - 1) + 1
        return True

    def _insert(self, slot: _Slot, seq: int) -> None:
        key = (slot.index, self._rank[slot.component], seq)
        position = bisect.bisect_right(self._keys, key)
        self._keys.insert(position, key)
        self.slots.insert(position, slot)
        self._owed[slot.index][slot.component] += slot.remaining
        if slot.remaining and position < self._first_open:
            self._first_open = position
        elif position < self._first_open:
            self._first_open += 1

    def add_charge(self, charge: ChargeDue) -> None:
        """Add a penalty or fee; credit already held pays it at once."""
        index = self._index.get(charge.installment_number)
        if index is None:
            raise ValueError(
                f"charges refer to installments that do not exist: [{charge.installment_number}]"
            )
        if charge.component not in (PENALTY, FEE):
            raise ValueError("a charge is a penalty or a fee")
        if index >= self._built:
            self._build(index)
        self._charge_seq += 1
        slot = _Slot(index, charge.component, charge.amount, charge.charge_id, charge.charged_on)
        self._charges[charge.charge_id] = slot
        self._insert(slot, self._charge_seq)
        self.use_credit(charge.charged_on)

    def _pay(self, payment_id: int, amount: int, on: date) -> int:
        slots = self.slots
        # skip the paid-off head of the ledger
        while self._first_open < len(slots) and slots[self._first_open].remaining == 0:
            self._first_open += 1
        position = self._first_open
        while amount:
            if position == len(slots) and not self._build(self._built + _BUILD_AHEAD - 1):
                break  # everything is built, and paid or not yet payable
            if position == len(slots):
                continue  # built installments of zero amounts only: build further
            slot = slots[position]
            position += 1
            if slot.remaining == 0 or slot.available_from > on:
                continue
            take = min(slot.remaining, amount)
            slot.remaining -= take
            self._owed[slot.index][slot.component] -= take
            amount -= take
            self.applied.append((payment_id, slot, take, on))
        return amount

    def use_credit(self, on: date) -> None:
        """Apply money held as credit to whatever is payable on ``on``."""
        while self.credit:
            entry = self.credit[0]
            left = self._pay(entry[0], entry[1], on)
            if left:
                entry[1] = left
                return
            self.credit.pop(0)

    def pay(self, receipt: Receipt) -> None:
        """Apply a payment on its value date; what is left over is held as credit."""
        if receipt.amount <= 0:
            raise ValueError("payment amounts must be positive")
        self.use_credit(receipt.value_date)
        left = self._pay(receipt.payment_id, receipt.amount, receipt.value_date)
        if left:
            self.credit.append([receipt.payment_id, left])

    def outstanding_of(self, number: int, component: str) -> int:
        """What is still owed of one component of one installment."""
        return self._owed[self._index[number]][component]

    def charge_outstanding(self, charge_id: int) -> int:
        """What is still owed of one charge."""
        return self._charges[charge_id].remaining

    def owed(self) -> list[tuple[Due, dict[str, int]]]:
        """Each installment with what is still owed of each of its components."""
        return list(zip(self.schedule, self._owed, strict=True))

    def outstanding_total(self, number: int) -> int:
        """What is still owed on one installment."""
        return sum(self._owed[self._index[number]].values())

    def state(self) -> LedgerState:
        """The derived state so far."""
        return _state(self.schedule, self.slots, self.applied, self.credit)


def allocate(
    installments: Sequence[Due],
    charges: Iterable[ChargeDue] = (),
    receipts: Iterable[Receipt] = (),
    order: Sequence[str] = DEFAULT_ORDER,
) -> LedgerState:
    """Derive the ledger: apply ``receipts`` in value-date order to installments and charges.

    A charge dated on or before a payment's value date is payable by it.
    """
    ledger = Ledger(installments, order)
    pending = sorted(charges, key=lambda c: (c.charged_on, c.charge_id))
    k = 0
    for receipt in sorted(receipts, key=lambda r: (r.value_date, r.sequence, r.payment_id)):
        while k < len(pending) and pending[k].charged_on <= receipt.value_date:
            ledger.add_charge(pending[k])
            k += 1
        ledger.pay(receipt)
    for charge in pending[k:]:
        ledger.add_charge(charge)
    return ledger.state()


def _state(
    schedule: Sequence[Due],
    slots: Sequence[_Slot],
    applied: Sequence[tuple[int, _Slot, int, date]],
    credit: Sequence[Sequence[Any]],
) -> LedgerState:
    # per installment: principal, interest, scheduled fee, charged fees, penalty paid
    paid = [[0, 0, 0, 0, 0] for _ in schedule]
    charge_paid = {slot.charge_id: 0 for slot in slots if slot.charge_id is not None}
    allocations: list[Allocated] = []
    for payment_id, slot, amount, on in applied:
        row = paid[slot.index]
        if slot.charge_id is not None:
            charge_paid[slot.charge_id] += amount
            row[3 if slot.component == FEE else 4] += amount
        elif slot.component == PRINCIPAL:
            row[0] += amount
        elif slot.component == INTEREST:
            row[1] += amount
        else:
            row[2] += amount
        allocations.append(
            Allocated(
                payment_id, schedule[slot.index].number, slot.component, slot.charge_id, amount, on
            )
        )
    charged_fee = [0] * len(schedule)
    charged_penalty = [0] * len(schedule)
    for slot in slots:
        if slot.charge_id is None:
            continue
        original = slot.remaining + charge_paid[slot.charge_id]
        if slot.component == FEE:
            charged_fee[slot.index] += original
        else:
            charged_penalty[slot.index] += original
    for payment_id, amount in credit:
        allocations.append(Allocated(payment_id, None, CREDIT, None, amount, None))
    # positional: one per installment of every loan evaluated, in the order of the fields
    states = tuple(
        InstallmentState(
            due.number,
            due.due_on,
            due.principal,
            due.interest,
            due.fee,
            row[0],
            row[1],
            row[2],
            fee_charged,
            row[3],
            penalty_charged,
            row[4],
        )
        for due, row, fee_charged, penalty_charged in zip(
            schedule, paid, charged_fee, charged_penalty, strict=True
        )
    )
    return LedgerState(
        installments=states,
        charge_paid=charge_paid,
        allocations=tuple(allocations),
        credit=sum(amount for _, amount in credit),
    )
