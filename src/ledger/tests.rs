use super::*;

#[test]
fn reason_labels_are_unique_and_indexed_in_order() {
    for (i, reason) in RejectReason::ALL.iter().enumerate() {
        assert_eq!(reason.index(), i);
    }
    let mut labels: Vec<_> = RejectReason::ALL.iter().map(|r| r.label()).collect();
    labels.sort();
    labels.dedup();
    assert_eq!(labels.len(), RejectReason::ALL.len());
}

#[test]
fn pending_moves_to_its_final_outcome() {
    let ledger = Ledger::default();
    ledger.record(Outcome::Applied);
    ledger.record(Outcome::Pending);
    ledger.record(Outcome::Pending);
    ledger.record(Outcome::Rejected(RejectReason::Malformed));
    assert_eq!(ledger.counts().pending, 2);
    assert!(ledger.counts().balances());
    ledger.resolve_pending(Outcome::Applied);
    ledger.resolve_pending(Outcome::Rejected(RejectReason::NoOffer));
    let c = ledger.counts();
    assert_eq!((c.consumed, c.applied, c.pending, c.rejected), (4, 2, 0, 2));
    assert!(c.balances());
    assert_eq!(ledger.rejected_by(RejectReason::NoOffer), 1);
}

#[test]
fn pending_events_carried_in_and_handed_off_keep_the_ledger_balanced() {
    let ledger = Ledger::default();
    ledger.carry_in_pending(2);
    ledger.record(Outcome::Pending);
    ledger.resolve_pending(Outcome::Applied);
    ledger.hand_off_pending(2);
    let c = ledger.counts();
    assert_eq!(
        (c.consumed, c.applied, c.pending, c.handed_off),
        (3, 1, 0, 2)
    );
    assert!(c.balances());
}
