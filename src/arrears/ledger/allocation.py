"""Payment allocation: a pure function of the schedule, the charges and the payments.

Payments are applied in value-date order (posting order breaks ties), oldest installment
first and, within an installment, by the product's component order (default penalty →
fee → interest → principal). A charge can only be paid from its charge date on. Money left
over once everything payable is paid is held as credit and used for charges that arrive
later. Because the whole ledger is derived from its inputs, a back-dated payment or a
reversal is handled by deriving again: the state can never drift.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date

PENALTY, FEE, INTEREST, PRINCIPAL, CREDIT = "penalty", "fee", "interest", "principal", "credit"
DEFAULT_ORDER: tuple[str, ...] = (PENALTY, FEE, INTEREST, PRINCIPAL)


@dataclass(frozen=True, slots=True)
class Due:
    """A scheduled installment (minor units)."""

    number: int
    due_on: date
    principal: int
    interest: int
    fee: int = 0


@dataclass(frozen=True, slots=True)
class ChargeDue:
    """A penalty or fee charged against one installment, payable from ``charged_on``."""

    charge_id: int
    installment_number: int
    component: str  # penalty | fee
    charged_on: date
    amount: int


@dataclass(frozen=True, slots=True)
class Receipt:
    """A posted (not reversed) payment; ``sequence`` orders payments of the same value date."""

    payment_id: int
    value_date: date
    amount: int
    sequence: int = 0


@dataclass(frozen=True, slots=True)
class Allocated:
    """Part of a payment applied to one component; ``component == 'credit'`` is money held."""

    payment_id: int
    installment_number: int | None
    component: str
    charge_id: int | None
    amount: int


@dataclass(frozen=True, slots=True)
class InstallmentState:
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


def _slots(
    installments: Sequence[Due], charges: Iterable[ChargeDue], order: Sequence[str]
) -> list[_Slot]:
    by_installment: dict[int, list[ChargeDue]] = {}
    for charge in charges:
        by_installment.setdefault(charge.installment_number, []).append(charge)
    slots: list[_Slot] = []
    for index, due in enumerate(installments):
        attached = sorted(
            by_installment.pop(due.number, []), key=lambda c: (c.charged_on, c.charge_id)
        )
        for component in order:
            if component == PRINCIPAL:
                slots.append(_Slot(index, PRINCIPAL, due.principal, None, date.min))
            elif component == INTEREST:
                slots.append(_Slot(index, INTEREST, due.interest, None, date.min))
            else:
                if component == FEE:
                    slots.append(_Slot(index, FEE, due.fee, None, date.min))
                for charge in attached:
                    if charge.component == component:
                        slots.append(
                            _Slot(
                                index, component, charge.amount, charge.charge_id, charge.charged_on
                            )
                        )
    if by_installment:
        missing = sorted(by_installment)
        raise ValueError(f"charges refer to installments that do not exist: {missing}")
    return slots


def allocate(
    installments: Sequence[Due],
    charges: Iterable[ChargeDue] = (),
    receipts: Iterable[Receipt] = (),
    order: Sequence[str] = DEFAULT_ORDER,
) -> LedgerState:
    """Derive the ledger: apply ``receipts`` in value-date order to installments and charges."""
    if sorted(order) != sorted(DEFAULT_ORDER):
        raise ValueError("order must list penalty, fee, interest and principal once each")
    schedule = sorted(installments, key=lambda d: (d.due_on, d.number))
    charge_list = list(charges)
    slots = _slots(schedule, charge_list, order)
    applied: list[list[int]] = []  # [payment_id, slot position, amount]
    credit: list[list[int]] = []  # FIFO of [payment_id, amount]

    def pay(payment_id: int, amount: int, on: date) -> int:
        for position, slot in enumerate(slots):
            if amount == 0:
                break
            if slot.remaining == 0 or slot.available_from > on:
                continue
            take = min(slot.remaining, amount)
            slot.remaining -= take
            amount -= take
            applied.append([payment_id, position, take])
        return amount

    def use_credit(on: date) -> None:
        while credit:
            entry = credit[0]
            left = pay(entry[0], entry[1], on)
            if left:
                entry[1] = left
                return
            credit.pop(0)

    for receipt in sorted(receipts, key=lambda r: (r.value_date, r.sequence, r.payment_id)):
        if receipt.amount <= 0:
            raise ValueError("payment amounts must be positive")
        use_credit(receipt.value_date)
        left = pay(receipt.payment_id, receipt.amount, receipt.value_date)
        if left:
            credit.append([receipt.payment_id, left])
    use_credit(date.max)

    return _state(schedule, slots, applied, credit)


def _state(
    schedule: Sequence[Due],
    slots: Sequence[_Slot],
    applied: Sequence[Sequence[int]],
    credit: Sequence[Sequence[int]],
) -> LedgerState:
    # per installment: principal, interest, scheduled fee, charged fees, penalty paid
    paid = [[0, 0, 0, 0, 0] for _ in schedule]
    charge_paid = {slot.charge_id: 0 for slot in slots if slot.charge_id is not None}
    allocations: list[Allocated] = []
    for payment_id, position, amount in applied:
        slot = slots[position]
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
                payment_id, schedule[slot.index].number, slot.component, slot.charge_id, amount
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
        allocations.append(Allocated(payment_id, None, CREDIT, None, amount))
    states = tuple(
        InstallmentState(
            number=due.number,
            due_on=due.due_on,
            principal=due.principal,
            interest=due.interest,
            fee=due.fee,
            paid_principal=paid[i][0],
            paid_interest=paid[i][1],
            paid_fee=paid[i][2],
            charged_fee=charged_fee[i],
            paid_charged_fee=paid[i][3],
            charged_penalty=charged_penalty[i],
            paid_penalty=paid[i][4],
        )
        for i, due in enumerate(schedule)
    )
    return LedgerState(
        installments=states,
        charge_paid=charge_paid,
        allocations=tuple(allocations),
        credit=sum(amount for _, amount in credit),
    )
